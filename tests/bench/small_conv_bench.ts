/**
 * ResNet18's 3×3 stride-1 convolutions at the feature-map sizes of 64², 128² and 256² inputs, forward on the
 * `wasm` backend two ways, alternated round by round: `tf.conv2d` (our GEMM / Winograd, which re-transforms
 * the filter on every call) and `tf.fused.conv2d` without bias or activation (the stock XNNPACK kernel, which
 * keeps its packed filter per weight tensor). On small maps — layer4 of a 64² image is 2×2 — the per-call
 * filter work decides, and XNNPACK's cached weights win; on large maps Winograd's fewer multiplications do.
 * Medians (ms) and the ratio XNNPACK / ours.
 *
 * ```sh
 * deno run -A tests/bench/small_conv_bench.ts --rounds 7
 * ```
 *
 * Not a unit test; it prints a table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { median } from "../../lib/util/stats.ts";

const i = Deno.args.indexOf("--rounds");
const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 5;
console.log(await startWasmBackend());
// [images, map side, channels]: layer4 … layer1 at 64² (16 images) and 256² (8 images).
const shapes: [number, number, number][] = [
  [16, 2, 512],
  [16, 4, 256],
  [16, 8, 128],
  [16, 16, 64],
  [16, 4, 512],
  [8, 8, 512],
  [8, 16, 256],
  [8, 32, 128],
  [8, 64, 64],
];
for (const [n, s, c] of shapes) {
  const x = tf.randomNormal([n, s, s, c]) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([3, 3, c, c], 0, 0.05) as tf.Tensor4D);
  const ways: [string, () => tf.Tensor][] = [
    ["ours", () => tf.conv2d(x, w, 1, 1)],
    ["xnnpack", () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 1 })],
  ];
  const times = ways.map(() => [] as number[]);
  for (let r = 0; r <= rounds; r++) {
    for (const [k, [, f]] of ways.entries()) {
      const t = performance.now();
      const y = f();
      await y.data();
      y.dispose();
      if (r) times[k].push(performance.now() - t);
    }
  }
  const [a, b] = times.map(median);
  console.log(
    `[${n}, ${s}, ${s}, ${c}] 3×3: ours ${a.toFixed(1).padStart(7)} ms, XNNPACK ${
      b.toFixed(1).padStart(7)
    } ms ` +
      `(${(b / a).toFixed(2)}×)`,
  );
  tf.dispose([x, w]);
}
