/**
 * The stem convolution alone (7×7, stride 2, padding 3, 3 → 64 channels) on the `wasm` backend: forward, and
 * forward + filter gradient, for each way of computing it (`direct` tf.conv2d; space-to-depth with 12 or 16
 * channels; `direct/16`, the model's: the forward as written, the filter gradient by space-to-depth over 16
 * channels), alternated round by round so that a loaded machine slows all of them alike; medians and ratios to
 * `direct`. Also says whether the stride-1 convolution ran on our GEMM (its kernels time under `Conv2D` /
 * `Conv2DBackpropFilter` either way; the GEMM takes ≥ 16 input channels).
 *
 * ```sh
 * deno run -A tests/bench/stem_bench.ts                      # 64²×48, 128²×48, 256²×24
 * deno run -A tests/bench/stem_bench.ts --rounds 9
 * ```
 *
 * Not a unit test; it prints a table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { conv2dSpaceToDepth, conv2dSpaceToDepthFilterGrad } from "../../lib/model/stem.ts";
import { median } from "../../lib/util/stats.ts";
import { createRng } from "../../lib/util/rng.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const rounds = arg("rounds", 5);
console.log(await startWasmBackend());
const rng = createRng(3);
const variants: [string, (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D][] = [
  ["direct", (x, w) => tf.conv2d(x, w, 2, 3)],
  ["s2d 12 ch", (x, w) => conv2dSpaceToDepth(x, w, 2, 3, { channelMultiple: 1 })],
  ["s2d 16 ch", (x, w) => conv2dSpaceToDepth(x, w, 2, 3, { channelMultiple: 4 })],
  ["direct/16", (x, w) => conv2dSpaceToDepthFilterGrad(x, w, 2, 3)],
];

for (const [size, n] of [[64, 48], [128, 48], [256, 24]]) {
  const x = tf.tensor4d(new Float32Array(n * size * size * 3).map(() => rng.normal()), [n, size, size, 3]);
  const w = tf.variable(
    tf.tensor4d(new Float32Array(7 * 7 * 3 * 64).map(() => rng.normal() * 0.1), [7, 7, 3, 64]),
  );
  const oh = size / 2;
  const dy = tf.tensor4d(new Float32Array(n * oh * oh * 64).map(() => rng.normal()), [n, oh, oh, 64]);
  const fwd = variants.map(() => [] as number[]);
  const bwd = variants.map(() => [] as number[]);
  for (let r = 0; r <= rounds; r++) {
    for (const [v, [, f]] of variants.entries()) {
      let t = performance.now();
      const y = f(x, w);
      await y.data();
      if (r) fwd[v].push(performance.now() - t);
      y.dispose();
      t = performance.now();
      const g = tf.grad((ww) => tf.sum(tf.mul(f(x, ww as tf.Tensor4D), dy)))(w);
      await g.data();
      if (r) bwd[v].push(performance.now() - t);
      g.dispose();
    }
  }
  const f0 = median(fwd[0]), b0 = median(bwd[0]);
  console.log(`\n${size}² × ${n} images (medians of ${rounds}, ms; ratio to direct)`);
  for (const [v, [name]] of variants.entries()) {
    const f = median(fwd[v]), b = median(bwd[v]);
    console.log(
      `  ${name.padEnd(10)} forward ${f.toFixed(1).padStart(7)} (${(f / f0).toFixed(2)}×)   ` +
        `forward + dW ${b.toFixed(1).padStart(7)} (${(b / b0).toFixed(2)}×)`,
    );
  }
  tf.dispose([x, w, dy]);
}
