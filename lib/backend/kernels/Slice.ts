/**
 * `Slice` on `wasm`: heap-to-heap copies of contiguous runs (`shared/heap.ts`); the stock kernel first copies
 * the whole input out of the heap and then one innermost row at a time.
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
import { sliceHeap } from "./shared/heap.ts";

/** The inputs of `Slice`. */
export type SliceKernelInputs = Present<tf.SliceInputs>;

/** x[begin : begin + size] (strings go to the stock kernel). */
export function slice(
  args: WasmKernelArgs<SliceKernelInputs, tf.SliceAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { inputs: { x }, backend, attrs: { begin, size } } = args;
  if (x.dtype === "string") return runStock(ctx, backend, tf.Slice, args);
  const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceHeap(backend, x, b, sz);
}

/** The registration entry of {@link slice}. */
export const sliceKernel: WasmKernel<SliceKernelInputs, tf.SliceAttrs> = {
  kernelName: tf.Slice,
  kernelFunc: slice,
};
