/**
 * Heap helpers of the wasm training kernels: views and float32 arrays of tensors on the wasm heap, tensor id
 * aliases for XNNPACK's per-id caches, and heap-to-heap slicing.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { TensorInfo } from "./context.ts";

/** The same data under another shape, without a reference of its own (valid while `t` lives). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** A float32 view of a tensor on the wasm heap; take it *after* the last allocation (the heap may grow). */
export function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

interface WasmInternals {
  dataIdMap: { get(dataId: object): { id: number } | undefined; delete(dataId: object): void };
  wasm: { tfjs: { disposeData(id: number): void } };
}

/**
 * A second wasm tensor id over the memory of `t` (no copy). XNNPACK operators that tfjs caches per weight
 * tensor id (the GEMM's packed B) then hang off the alias and are freed by {@link dropAlias} at once, instead
 * of living — and possibly being reused for another shape of the same id — until `t` is disposed.
 */
export function alias(backend: BackendWasm, t: TensorInfo, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, t.dtype, backend.getMemoryOffset(t.dataId));
}

/** Forget an {@link alias} without freeing the memory it shares (runs its C++ disposal callbacks). */
export function dropAlias(backend: BackendWasm, a: TensorInfo): void {
  const internals = backend as unknown as WasmInternals;
  const data = internals.dataIdMap.get(a.dataId);
  if (!data) return;
  internals.wasm.tfjs.disposeData(data.id);
  internals.dataIdMap.delete(a.dataId);
}

/**
 * The stock wasm `Slice` first copies the *whole* input out of the heap (`readSync`) and then copies one
 * innermost row at a time. Copy straight from heap to heap instead, in the longest contiguous runs (for the
 * gradient of a spatial `tf.pad` on NHWC: whole rows of W·C values).
 */
export function sliceHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const total = size.reduce((p, q) => p * q, 1);
  if (total === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  // k: the last axis that is not taken whole; everything after it is contiguous.
  let k = rank - 1;
  while (k >= 0 && begin[k] === 0 && size[k] === x.shape[k]) k--;
  if (k < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  const strides = tf.util.computeStrides(x.shape).concat([1]);
  const run = size[k] * strides[k];
  const idx = new Array<number>(k).fill(0);
  for (let o = 0; o < total; o += run) {
    let off = begin[k] * strides[k];
    for (let j = 0; j < k; j++) off += (begin[j] + idx[j]) * strides[j];
    dst.set(src.subarray(off, off + run), o);
    for (let j = k - 1; j >= 0; j--) {
      if (++idx[j] < size[j]) break;
      idx[j] = 0;
    }
  }
  return out;
}
