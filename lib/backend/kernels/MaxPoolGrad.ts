/**
 * `MaxPoolGrad` on `wasm` (the stock kernel is a naive loop): one branch-free pass that finds the first window
 * element equal to the pooled output — ties go to the first maximum in scan order, like `cpu` — as a SIMD
 * kernel on our GEMM engine's threads (`wasm_pool_kernels.ts`) where the channels allow, else in JS.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type KernelContext,
  runStock,
  type TensorInfo,
  type WasmKernel,
  type WasmKernelArgs,
} from "./shared/context.ts";
import { f32 } from "./shared/heap.ts";

/** The inputs of `MaxPoolGrad` (`output`, the pooled y, is what the gradient saves; without it: stock). */
export interface MaxPoolGradKernelInputs {
  dy: TensorInfo;
  input: TensorInfo;
  output?: TensorInfo;
}

/**
 * dx of a 2-D max-pool: each dy goes to the first maximum of its window in row-major scan order (as the `cpu`
 * backend does, which matters for ties such as the zeros after a ReLU). With the pooled output y at hand
 * (the gradient saves it), the first maximum is the first window element equal to y, found branch-free over
 * the channels — maxima of post-ReLU data are as good as random, so a comparison that branches mispredicts
 * half the time (this is about twice as fast as tracking a running maximum and its index). The other window
 * elements receive 0·dy, so a non-finite dy spreads over its window (the step is lost anyway then).
 */
export function maxPoolGrad(
  args: WasmKernelArgs<MaxPoolGradKernelInputs, tf.MaxPoolGradAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input, output } = inputs;
  if (input.dtype !== "float32" || output == null) return runStock(ctx, backend, tf.MaxPoolGrad, args);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const dx = backend.makeOutput(input.shape, "float32");
  const gemmEngine = ctx.settings.engine;
  if (gemmEngine != null && c % 4 === 0 && n * oh * ow > 0) {
    // The same rule as below, as a SIMD kernel on the engine's threads (`wasm_pool_kernels.ts`).
    f32(backend, dx).fill(0);
    const at = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
    gemmEngine.maxPoolGrad({
      x: at(input),
      y: at(output),
      dy: at(dy),
      out: at(dx),
      images: n,
      height: h,
      width: w,
      channels: c,
      outHeight: oh,
      outWidth: ow,
      filterHeight: fh,
      filterWidth: fw,
      strideHeight: sh,
      strideWidth: sw,
      top: info.padInfo.top,
      left: info.padInfo.left,
    });
    return dx;
  }
  const x = f32(backend, input);
  const y = f32(backend, output);
  const g = f32(backend, dy);
  const out = f32(backend, dx);
  out.fill(0);
  const found = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      const y0 = r * sh - info.padInfo.top;
      for (let q = 0; q < ow; q++) {
        const x0 = q * sw - info.padInfo.left;
        const go = ((b * oh + r) * ow + q) * c;
        found.fill(0);
        for (let i = Math.max(0, y0); i < Math.min(h, y0 + fh); i++) {
          for (let j = Math.max(0, x0); j < Math.min(w, x0 + fw); j++) {
            const base = ((b * h + i) * w + j) * c;
            for (let k = 0; k < c; k++) {
              // 1 at the first element equal to the maximum, else 0; without a branch.
              const hit = +(x[base + k] === y[go + k]) & (found[k] ^ 1);
              found[k] |= hit;
              out[base + k] += hit * g[go + k];
            }
          }
        }
      }
    }
  }
  return dx;
}

/** The registration entry of {@link maxPoolGrad}. */
export const maxPoolGradKernel: WasmKernel<MaxPoolGradKernelInputs, tf.MaxPoolGradAttrs> = {
  kernelName: tf.MaxPoolGrad,
  kernelFunc: maxPoolGrad,
};
