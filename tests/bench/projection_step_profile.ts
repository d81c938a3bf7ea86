/**
 * Where the time and memory of one ProjectionNet training step go on the TensorFlow.js `wasm` backend: the
 * step of `deno task bench` (3-way, SSPCAB on, trunk unfrozen, SGD) split into forward+backward and the
 * optimizer update, then one step under `tf.profile` by phase — forward, backward, SGD — with kernel time and
 * kernel count (the per-op cost that dominates small images) by kernel name (and by name + input shapes for
 * the largest), tensor bytes at their high-water mark and the wasm heap size; then the same for the eval-mode
 * embedding pass.
 *
 * ```sh
 * deno run -A tests/bench/projection_step_profile.ts                       # 256², batch 8 (24 images)
 * deno run -A tests/bench/projection_step_profile.ts --size 64 --batch 16 --top 30
 * deno run -A tests/bench/projection_step_profile.ts --size 64 --batch 16 --stem direct
 * SSPCAB_WASM_THREADS=1 deno run -A tests/bench/projection_step_profile.ts  # one XNNPACK thread
 * ```
 *
 * `--stem direct|space_to_depth` picks the stem convolution (`lib/model/stem.ts`; default: the model's),
 * `--phases 0` prints only the whole-step table. Not a unit test; it prints tables and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { backendOptionsFromEnv } from "../../lib/config/env.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetEmbed,
  projectionNetLoss,
  trainableNames,
} from "../../lib/model/projection_net.ts";
import type { StemConv } from "../../lib/model/stem.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { lossAndGradients } from "../../lib/train/gradients.ts";
import { createOptimizer } from "../../lib/train/optimizer.ts";
import { createRng } from "../../lib/util/rng.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

function argString(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
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
const phases = arg("phases", 1) !== 0;
const stem = argString("stem") as StemConv | undefined;
if (stem !== undefined && stem !== "direct" && stem !== "space_to_depth") {
  throw new Error(`--stem must be direct or space_to_depth, got ${stem}`);
}

console.log((await startWasmBackend(backendOptionsFromEnv().wasm)).device);
const net = createProjectionNet(defaultProjectionNetConfig(stem ? { stemConv: stem } : {}), 0);
console.log(`stem convolution: ${stem ?? "the model's default"}`);
const rng = createRng(1);
const n = 3 * batch;
const pixels = new Float32Array(n * size * size * 3).map(() => rng.normal());
const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch));
const names = trainableNames(net, false);
const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });
const x = tf.tensor4d(pixels, [n, size, size, 3]);
const y = tf.tensor1d(labels, "int32");
const xEmbed = tf.tensor4d(pixels.subarray(0, batch * size * size * 3), [batch, size, size, 3]);

for (let s = 0; s <= steps; s++) {
  const t0 = performance.now(), c0 = cpuSeconds();
  const r = await lossAndGradients(net, x, y, names);
  const t1 = performance.now(), c1 = cpuSeconds();
  optimizer.step(net.params, r.grads, 0.03);
  await r.logits.data();
  const t2 = performance.now(), c2 = cpuSeconds();
  tf.dispose([r.logits, ...r.grads.values()]);
  const e = projectionNetEmbed(net, xEmbed);
  await e.data();
  e.dispose();
  const t3 = performance.now();
  console.log(
    `step ${s}${s === 0 ? " (warm-up)" : ""}: fwd+bwd ${((t1 - t0) / 1000).toFixed(2)} s ` +
      `(cpu ${(c1 - c0).toFixed(2)} s), sgd ${((t2 - t1) / 1000).toFixed(3)} s (cpu ${
        (c2 - c1).toFixed(2)
      } s), embedding pass (${batch} images) ${((t3 - t2) / 1000).toFixed(3)} s; ` +
      `wasm heap ${heapMiB().toFixed(0)} MiB, rss ${(Deno.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, ` +
      `tensors ${tf.memory().numTensors}`,
  );
}

type Row = { ms: number; calls: number };
type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;
type Kernel = ProfileInfo["kernels"][number];

/** Kernels only: customGrad nodes (named after their scope) contain the kernels they run. */
function kernelsOf(info: ProfileInfo): Kernel[] {
  return info.kernels.filter((k) => tf.getKernel(k.name, "wasm") != null);
}

function msOf(k: Kernel): number {
  return typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
}

function table(kernels: Kernel[], title: string, withShapes: boolean): void {
  const byName = new Map<string, Row>();
  const byShape = new Map<string, Row>();
  let wall = 0;
  for (const k of kernels) {
    const ms = msOf(k);
    wall += ms;
    const add = (map: Map<string, Row>, key: string) => {
      const e = map.get(key) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      map.set(key, e);
    };
    add(byName, k.name);
    add(byShape, `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(" ")}`);
  }
  console.log(`\n${title}: ${wall.toFixed(0)} ms in ${kernels.length} kernel calls`);
  const print = (rows: [string, Row][]) => {
    for (const [name, e] of rows.slice(0, top)) {
      console.log(
        `  ${name.padEnd(70)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(5)} calls ` +
          `${(100 * e.ms / Math.max(wall, 1e-9)).toFixed(1).padStart(5)} %`,
      );
    }
  };
  print([...byName].sort((a, b) => b[1].ms - a[1].ms));
  if (withShapes) {
    console.log(`  by input shapes:`);
    print([...byShape].sort((a, b) => b[1].ms - a[1].ms));
  }
}

const whole = await tf.profile(async () => {
  const r = await lossAndGradients(net, x, y, names);
  optimizer.step(net.params, r.grads, 0.03);
  tf.dispose([r.logits, ...r.grads.values()]);
});
const peakBytes = Math.max(0, ...whole.kernels.map((k) => k.totalBytesSnapshot));
console.log(
  `\nprofiled step ${size}² × ${n} images: tensor bytes high-water ` +
    `${(peakBytes / 2 ** 20).toFixed(0)} MiB (newBytes ${(whole.newBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `peak ${(whole.peakBytes / 2 ** 20).toFixed(0)} MiB, ${whole.newTensors} new tensors); ` +
    `wasm heap ${heapMiB().toFixed(0)} MiB`,
);
table(kernelsOf(whole), "whole step", !phases);

if (phases) {
  // The forward pass alone runs the same kernels, in the same order, as the start of the step.
  const fwd = await tf.profile(() => {
    tf.tidy(() => {
      projectionNetLoss(net, x, y, { updateRunningStats: false });
    });
  });
  const fwdKernels = kernelsOf(fwd);
  const grads = await tf.profile(async () => {
    const r = await lossAndGradients(net, x, y, names, { updateRunningStats: false });
    tf.dispose([r.logits, ...r.grads.values()]);
  });
  const bwdKernels = kernelsOf(grads).slice(fwdKernels.length);
  const r = await lossAndGradients(net, x, y, names, { updateRunningStats: false });
  const sgdKernels = kernelsOf(await tf.profile(() => optimizer.step(net.params, r.grads, 0.03)));
  tf.dispose([r.logits, ...r.grads.values()]);
  table(fwdKernels, "phase forward (training mode)", true);
  table(bwdKernels, "phase backward", true);
  table(sgdKernels, "phase SGD", false);
  const embed = await tf.profile(async () => {
    const e = projectionNetEmbed(net, xEmbed);
    await e.data();
    e.dispose();
  });
  table(kernelsOf(embed), `embedding pass (${batch} images, eval mode)`, true);
}

tf.dispose([x, y, xEmbed]);
optimizer.dispose();
disposeParams(net.params);
