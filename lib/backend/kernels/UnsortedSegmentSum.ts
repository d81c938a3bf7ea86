/**
 * `UnsortedSegmentSum` on `wasm` — missing from tfjs-backend-wasm 4.22; the gradient of `tf.gather` needs
 * it. A scatter-add.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Present, TensorInfo, WasmKernel, WasmKernelArgs } from "./shared/context.ts";

/** The inputs of `UnsortedSegmentSum`. */
export type UnsortedSegmentSumKernelInputs = Present<tf.UnsortedSegmentSumInputs>;

/** out[segmentIds[i], …] += x[i, …] (ids outside [0, numSegments) are dropped, as on `cpu`). */
export function unsortedSegmentSum(
  { inputs, backend, attrs }: WasmKernelArgs<UnsortedSegmentSumKernelInputs, tf.UnsortedSegmentSumAttrs>,
): TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const rows = segmentIds.shape.reduce((p, q) => p * q, 1);
  const inner = x.shape.reduce((p, q) => p * q, 1) / Math.max(1, rows);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let r = 0; r < rows; r++) {
    const id = ids[r];
    if (id < 0 || id >= numSegments) continue;
    const d = id * inner;
    const o = r * inner;
    for (let i = 0; i < inner; i++) dst[d + i] += src[o + i];
  }
  return out;
}

/** The registration entry of {@link unsortedSegmentSum}. */
export const unsortedSegmentSumKernel: WasmKernel<
  UnsortedSegmentSumKernelInputs,
  tf.UnsortedSegmentSumAttrs
> = {
  kernelName: tf.UnsortedSegmentSum,
  kernelFunc: unsortedSegmentSum,
};
