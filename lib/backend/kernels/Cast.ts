/**
 * `Cast` on `wasm`: a cast to the same dtype (every `mul` and `relu` gradient does one) shares the buffer
 * instead of copying it, as on `cpu`; real casts go to the stock kernel.
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

/** The inputs of `Cast`. */
export type CastKernelInputs = Present<tf.CastInputs>;

/** x as `dtype`: the same buffer when the dtype does not change. */
export function cast(args: WasmKernelArgs<CastKernelInputs, tf.CastAttrs>, ctx: KernelContext): TensorInfo {
  const { inputs: { x }, backend, attrs: { dtype } } = args;
  if (x.dtype !== dtype || dtype === "string") return runStock(ctx, backend, tf.Cast, args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}

/** The registration entry of {@link cast}. */
export const castKernel: WasmKernel<CastKernelInputs, tf.CastAttrs> = {
  kernelName: tf.Cast,
  kernelFunc: cast,
};
