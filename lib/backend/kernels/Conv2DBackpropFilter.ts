/**
 * `Conv2DBackpropFilter` on `wasm` — missing from tfjs-backend-wasm 4.22, so `tf.variableGrads` through a
 * `conv2d` throws without it. Where the registration has our own GEMM (`wasm_gemm.ts`; 16+ input channels)
 * it is one im2col product on small maps (`wasm_conv_im2col.ts`), else one k-major product per filter tap on zero-padded NHWC grids of x and dy, 3×3 stride-1 ones by
 * Winograd (`wasm_conv_gemm.ts`); otherwise one XNNPACK GEMM per filter tap over *shifted views* of x, no
 * im2col (`shared/filter_grad_shifted.ts`): x is laid out once, transposed, on a zero-padded grid on which
 * every tap is a constant offset; strides are split into polyphase components. The GEMMs are multi-threaded;
 * the JS work is two copies.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { filterGradByGemm, filterGradWinograd } from "../wasm_conv_gemm.ts";
import { filterGradByIm2col, im2colPreferred } from "../wasm_conv_im2col.ts";
import {
  createArena,
  type KernelContext,
  type Present,
  type TensorInfo,
  type WasmKernel,
  type WasmKernelArgs,
} from "./shared/context.ts";
import { filterGradShifted } from "./shared/filter_grad_shifted.ts";

/** The inputs of `Conv2DBackpropFilter`. */
export type Conv2DBackpropFilterKernelInputs = Present<tf.Conv2DBackpropFilterInputs>;

/** dW of a convolution (see the module doc); NCHW inputs are transposed to NHWC first. */
export function conv2DBackpropFilter(
  { inputs, backend, attrs }: WasmKernelArgs<Conv2DBackpropFilterKernelInputs, tf.Conv2DBackpropFilterAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { x, dy } = inputs;
  const arena = createArena(ctx, backend);
  try {
    let xs = x;
    let dys = dy;
    if (attrs.dataFormat === "NCHW") {
      xs = arena.run("Transpose", { x }, { perm: [0, 2, 3, 1] });
      dys = arena.run("Transpose", { x: dy }, { perm: [0, 2, 3, 1] });
    }
    const info = tf.backend_util.computeConv2DInfo(
      xs.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const { engine, filterGrad, gemmGridPixels, winograd, winogradTile, im2col } = ctx.settings;
    if (typeof filterGrad === "function") return arena.keep(filterGrad(backend, arena, xs, dys, info));
    if (filterGrad === "gemm" && engine != null) {
      // Our GEMM where it takes the shapes (im2col on small maps, Winograd for 3×3 stride 1), else XNNPACK.
      const [n, , , ci] = xs.shape;
      const co = dys.shape[3];
      if (im2col && im2colPreferred(n, ci, co, info, winograd, winogradTile)) {
        const dW = filterGradByIm2col(backend, engine, xs, dys, info);
        if (dW) return dW;
      }
      const options = { gridPixels: gemmGridPixels, winograd, winogradTile };
      const dW = filterGradWinograd(backend, engine, xs, dys, info, options) ??
        filterGradByGemm(backend, engine, xs, dys, info, gemmGridPixels);
      if (dW) return dW;
    }
    return arena.keep(filterGradShifted(ctx, backend, arena, xs, dys, info));
  } finally {
    arena.dispose();
  }
}

/** The registration entry of {@link conv2DBackpropFilter}. */
export const conv2DBackpropFilterKernel: WasmKernel<
  Conv2DBackpropFilterKernelInputs,
  tf.Conv2DBackpropFilterAttrs
> = {
  kernelName: tf.Conv2DBackpropFilter,
  kernelFunc: conv2DBackpropFilter,
};
