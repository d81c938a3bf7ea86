/**
 * `Conv2D` on `wasm`: convolutions with 16+ input channels on small maps as one im2col product on our own
 * GEMM (`wasm_conv_im2col.ts`), other stride-1 ones on it too (3×3 ones by Winograd, `wasm_conv_gemm.ts`),
 * everything else on the stock XNNPACK kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { KernelContext, Present, TensorInfo, WasmKernel, WasmKernelArgs } from "./shared/context.ts";
import { conv2DNHWC } from "./shared/conv2d_nhwc.ts";

/** The inputs of `Conv2D`. */
export type Conv2DKernelInputs = Present<tf.Conv2DInputs>;

/** The forward convolution (see the module doc). */
export function conv2D(
  { inputs, backend, attrs }: WasmKernelArgs<Conv2DKernelInputs, tf.Conv2DAttrs>,
  ctx: KernelContext,
): TensorInfo {
  return conv2DNHWC(ctx, backend, inputs.x, inputs.filter, attrs);
}

/** The registration entry of {@link conv2D}. */
export const conv2DKernel: WasmKernel<Conv2DKernelInputs, tf.Conv2DAttrs> = {
  kernelName: tf.Conv2D,
  kernelFunc: conv2D,
};
