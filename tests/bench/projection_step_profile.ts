/**
 * Where the time and memory of one ProjectionNet training step go on the TensorFlow.js `wasm` backend: the
 * step of `deno task bench` (3-way, SSPCAB on, trunk unfrozen, SGD) split into forward+backward and the
 * optimizer update, then one step under `tf.profile` with kernel time by kernel name (and by name + input
 * shapes for the largest), tensor bytes at their high-water mark and the wasm heap size.
 *
 * ```sh
 * deno run -A tests/bench/projection_step_profile.ts                       # 256², batch 8 (24 images)
 * deno run -A tests/bench/projection_step_profile.ts --size 128 --batch 4 --top 30
 * SSPCAB_WASM_THREADS=1 deno run -A tests/bench/projection_step_profile.ts  # one XNNPACK thread
 * ```
 *
 * Not a unit test; it prints tables and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { backendOptionsFromEnv } from "../../lib/config/env.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  trainableNames,
} from "../../lib/model/projection_net.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { lossAndGradients } from "../../lib/train/gradients.ts";
import { createOptimizer } from "../../lib/train/optimizer.ts";
import { createRng } from "../../lib/util/rng.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

/** Process CPU seconds (all threads, from /proc; NaN where unavailable). */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function heapMiB(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return (b.wasm?.HEAPU8?.length ?? 0) / 2 ** 20;
}

const size = arg("size", 256);
const batch = arg("batch", 8);
const top = arg("top", 25);
const steps = arg("steps", 2);

console.log((await startWasmBackend(backendOptionsFromEnv().wasm)).device);
const net = createProjectionNet(defaultProjectionNetConfig(), 0);
const rng = createRng(1);
const n = 3 * batch;
const pixels = new Float32Array(n * size * size * 3).map(() => rng.normal());
const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch));
const names = trainableNames(net, false);
const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });
const x = tf.tensor4d(pixels, [n, size, size, 3]);
const y = tf.tensor1d(labels, "int32");

for (let s = 0; s <= steps; s++) {
  const t0 = performance.now(), c0 = cpuSeconds();
  const r = await lossAndGradients(net, x, y, names);
  const t1 = performance.now(), c1 = cpuSeconds();
  optimizer.step(net.params, r.grads, 0.03);
  await r.logits.data();
  const t2 = performance.now(), c2 = cpuSeconds();
  tf.dispose([r.logits, ...r.grads.values()]);
  console.log(
    `step ${s}${s === 0 ? " (warm-up)" : ""}: fwd+bwd ${((t1 - t0) / 1000).toFixed(2)} s ` +
      `(cpu ${(c1 - c0).toFixed(2)} s), sgd ${((t2 - t1) / 1000).toFixed(3)} s (cpu ${
        (c2 - c1).toFixed(2)
      } s); ` +
      `wasm heap ${heapMiB().toFixed(0)} MiB, rss ${(Deno.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, ` +
      `tensors ${tf.memory().numTensors}`,
  );
}

const info = await tf.profile(async () => {
  const r = await lossAndGradients(net, x, y, names);
  optimizer.step(net.params, r.grads, 0.03);
  tf.dispose([r.logits, ...r.grads.values()]);
});
const byName = new Map<string, { ms: number; calls: number }>();
const byShape = new Map<string, { ms: number; calls: number }>();
let peakBytes = 0;
let wall = 0;
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
  peakBytes = Math.max(peakBytes, k.totalBytesSnapshot);
  // customGrad nodes (named after their scope) contain the kernels they run: count kernels only.
  if (tf.getKernel(k.name, "wasm") == null) continue;
  wall += ms;
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += ms;
  e.calls++;
  byName.set(k.name, e);
  const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(" ")}`;
  const f = byShape.get(key) ?? { ms: 0, calls: 0 };
  f.ms += ms;
  f.calls++;
  byShape.set(key, f);
}
console.log(
  `\nprofiled step ${size}² × ${n} images: ${wall.toFixed(0)} ms in kernels; tensor bytes high-water ` +
    `${(peakBytes / 2 ** 20).toFixed(0)} MiB (newBytes ${(info.newBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB); wasm heap ${heapMiB().toFixed(0)} MiB`,
);
const print = (rows: [string, { ms: number; calls: number }][]) => {
  for (const [name, e] of rows.slice(0, top)) {
    console.log(
      `  ${name.padEnd(70)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(5)} calls`,
    );
  }
};
print([...byName].sort((a, b) => b[1].ms - a[1].ms));
console.log("\nby input shapes:");
print([...byShape].sort((a, b) => b[1].ms - a[1].ms));

tf.dispose([x, y]);
optimizer.dispose();
disposeParams(net.params);
