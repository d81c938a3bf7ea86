/**
 * `Mean` on `wasm`: over one contiguous block of axes that is not innermost (batch-norm statistics and
 * broadcast gradients over N,H,W; average pooling over H,W) without the stock kernel's transpose — large ones
 * as XNNPACK average pooling (SIMD, threaded), small ones in one JS pass with float64 accumulators
 * (`shared/reduce_block.ts`). Other reductions go to the stock kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type KernelContext,
  type Present,
  runStock,
  type TensorInfo,
  type WasmKernel,
  type WasmKernelArgs,
} from "./shared/context.ts";
import { blockReduction, reduceBlock } from "./shared/reduce_block.ts";

/** The inputs of `Mean`. */
export type MeanKernelInputs = Present<tf.MeanInputs>;

/** The mean of x over `axis` (see the module doc). */
export function mean(
  args: WasmKernelArgs<MeanKernelInputs, tf.MeanAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { inputs: { x }, backend, attrs: { axis, keepDims } } = args;
  if (!blockReduction(x, axis)) return runStock(ctx, backend, tf.Mean, args);
  return reduceBlock(ctx, backend, x, axis, keepDims, true);
}

/** The registration entry of {@link mean}. */
export const meanKernel: WasmKernel<MeanKernelInputs, tf.MeanAttrs> = {
  kernelName: tf.Mean,
  kernelFunc: mean,
};
