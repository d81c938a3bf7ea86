/**
 * The small-map convolutions of ProjectionNet's trunk (ResNet18 layers 2–4 at 64² and 128² inputs, 48 images
 * as in the 3-way training step) on the `wasm` backend, forward and filter gradient, each two ways alternated
 * round by round in one process: what `wasm_conv_gemm.ts` does (Winograd for 3×3 stride 1, the grid
 * otherwise; stride 2 forward: XNNPACK) and the im2col product of `wasm_conv_im2col.ts`. Prints medians (ms),
 * the ratio im2col / current, the largest relative difference between the two results and what
 * `im2colPreferred` picks.
 *
 * ```sh
 * deno run -A tests/bench/im2col_bench.ts --rounds 5 --images 48
 * ```
 *
 * Not a unit test; it prints a table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { wasmTrainingKernels } from "../../lib/backend/kernels/register.ts";
import { conv2dByGemm, filterGradByGemm, filterGradWinograd } from "../../lib/backend/wasm_conv_gemm.ts";
import { conv2dByIm2col, filterGradByIm2col, im2colPreferred } from "../../lib/backend/wasm_conv_im2col.ts";
import { median } from "../../lib/util/stats.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const rounds = arg("rounds", 5);
const n = arg("images", 48);
console.log((await startWasmBackend()).device);
const engine = wasmTrainingKernels()?.settings.engine;
if (!engine) throw new Error("no GEMM engine (relaxed SIMD missing?)");
const backend = tf.backend() as BackendWasm;

// [images, map side in, ci, co, kernel, stride]: 64² and 128² (48 images), 256² (24 images), 64² embedding.
const m = n >> 1;
const shapes: [number, number, number, number, number, number][] = [
  [n, 2, 512, 512, 3, 1],
  [n, 4, 256, 256, 3, 1],
  [n, 4, 256, 512, 3, 2],
  [n, 8, 128, 128, 3, 1],
  [n, 8, 128, 256, 3, 2],
  [n, 16, 64, 64, 3, 1],
  [n, 4, 256, 512, 1, 2],
  [n, 4, 512, 512, 3, 1],
  [n, 8, 256, 256, 3, 1],
  [n, 8, 256, 512, 3, 2],
  [n, 16, 128, 128, 3, 1],
  [n, 4, 256, 256, 1, 1],
  [m, 8, 512, 512, 3, 1],
  [m, 16, 256, 512, 3, 2],
  [m, 32, 128, 256, 3, 2],
  [m, 64, 64, 128, 3, 2],
  [m, 64, 64, 128, 1, 2],
  [n / 3, 2, 512, 512, 3, 1],
  [n / 3, 4, 256, 256, 3, 1],
];

function relDiff(a: tf.TensorInfo, b: tf.TensorInfo): number {
  const x = backend.typedArrayFromHeap(a) as Float32Array;
  const y = backend.typedArrayFromHeap(b) as Float32Array;
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / Math.max(den, 1e-30);
}

console.log("shape                               pass     current ms  im2col ms  ratio  rel.diff  preferred");
for (const [n, side, ci, co, k, s] of shapes) {
  const x = tf.randomNormal([n, side, side, ci]) as tf.Tensor4D;
  const w = tf.randomNormal([k, k, ci, co], 0, 0.05) as tf.Tensor4D;
  const pad = (k - 1) >> 1;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    w.shape,
    [s, s],
    1,
    pad,
    undefined,
    false,
    "channelsLast",
  );
  const dy = tf.randomNormal([n, info.outHeight, info.outWidth, co]) as tf.Tensor4D;
  const xi = { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as tf.TensorInfo;
  const wi = { dataId: w.dataId, shape: w.shape, dtype: w.dtype } as tf.TensorInfo;
  const di = { dataId: dy.dataId, shape: dy.shape, dtype: dy.dtype } as tf.TensorInfo;
  const forwardCurrent = () => {
    const y = conv2dByGemm(backend, engine, xi, wi, info);
    if (y) return y;
    const t = tf.conv2d(x, w, s, pad);
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype } as tf.TensorInfo;
  };
  const gradCurrent = () =>
    filterGradWinograd(backend, engine, xi, di, info) ?? filterGradByGemm(backend, engine, xi, di, info)!;
  const passes: [string, () => tf.TensorInfo, () => tf.TensorInfo][] = [
    ["forward", forwardCurrent, () => conv2dByIm2col(backend, engine, xi, wi, info)!],
    ["dW", gradCurrent, () => filterGradByIm2col(backend, engine, xi, di, info)!],
  ];
  for (const [pass, current, im2col] of passes) {
    const a = current(), b = im2col();
    const diff = relDiff(b, a);
    backend.disposeData(a.dataId);
    backend.disposeData(b.dataId);
    const times: [number[], number[]] = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const [i, f] of [current, im2col].entries()) {
        const t0 = performance.now();
        const out = f();
        times[i].push(performance.now() - t0);
        backend.disposeData(out.dataId);
      }
    }
    const [tc, ti] = times.map(median);
    console.log(
      `[${n},${side},${side},${ci}] ${k}×${k}/${s} →${co}`.padEnd(36) + pass.padEnd(9) +
        `${tc.toFixed(1).padStart(10)} ${ti.toFixed(1).padStart(10)} ${(ti / tc).toFixed(2).padStart(6)} ` +
        `${diff.toExponential(1).padStart(9)}  ${im2colPreferred(n, ci, co, info, true, 4)}`,
    );
  }
  tf.dispose([x, w, dy]);
}
