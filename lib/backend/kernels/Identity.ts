/**
 * `Identity` on `wasm`: the stock kernel copies its input. The autograd tape clones every tensor it saves for
 * the backward pass (`Engine.saveTensorsForBackwardMode`), so a ResNet step copied every activation once
 * more; tensors are immutable, so — as the `cpu` backend does — share the buffer and count a reference.
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

/** The inputs of `Identity`. */
export type IdentityKernelInputs = Present<tf.IdentityInputs>;

/** x itself, sharing its buffer (strings go to the stock kernel). */
export function identity(
  args: WasmKernelArgs<IdentityKernelInputs, Record<string, never>>,
  ctx: KernelContext,
): TensorInfo {
  const { inputs: { x }, backend } = args;
  if (x.dtype === "string") return runStock(ctx, backend, tf.Identity, args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The registration entry of {@link identity}. */
export const identityKernel: WasmKernel<IdentityKernelInputs, Record<string, never>> = {
  kernelName: tf.Identity,
  kernelFunc: identity,
};
