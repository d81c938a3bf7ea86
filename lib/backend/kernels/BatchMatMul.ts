/**
 * `BatchMatMul` on `wasm`: the stock kernel uses XNNPACK's GEMM only for untransposed, unbatched products and
 * falls back to a scalar triple loop otherwise — which is what every matMul gradient (dA = dY·Bᵀ, dB = Aᵀ·dY)
 * asks for. Transposed operands are transposed explicitly (O(size), negligible next to the product) to take
 * the GEMM path.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  createArena,
  type KernelContext,
  type Present,
  runStock,
  type TensorInfo,
  type WasmKernel,
  type WasmKernelArgs,
} from "./shared/context.ts";
import { view } from "./shared/heap.ts";

/** The inputs of `BatchMatMul`. */
export type BatchMatMulKernelInputs = Present<tf.BatchMatMulInputs>;

/** a·b with either operand transposed, on XNNPACK's GEMM (see the module doc). */
export function batchMatMul(
  args: WasmKernelArgs<BatchMatMulKernelInputs, tf.BatchMatMulAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { inputs: { a, b }, backend, attrs: { transposeA, transposeB } } = args;
  const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (
    (!transposeA && !transposeB) || batchA !== 1 || batchB !== 1 || a.dtype !== "float32" ||
    b.dtype !== "float32"
  ) {
    return runStock(ctx, backend, tf.BatchMatMul, args);
  }
  const arena = createArena(ctx, backend);
  try {
    const [a0, a1] = a.shape.slice(-2);
    const [b0, b1] = b.shape.slice(-2);
    const a2 = transposeA
      ? arena.run("Transpose", { x: view(a, [a0, a1]) }, { perm: [1, 0] })
      : view(a, [a0, a1]);
    const b2 = transposeB
      ? arena.run("Transpose", { x: view(b, [b0, b1]) }, { perm: [1, 0] })
      : view(b, [b0, b1]);
    const out = runStock(ctx, backend, tf.BatchMatMul, {
      inputs: { a: a2, b: b2 },
      attrs: { transposeA: false, transposeB: false },
    });
    const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    out.shape = [...outer, a2.shape[0], b2.shape[1]];
    return out;
  } finally {
    arena.dispose();
  }
}

/** The registration entry of {@link batchMatMul}. */
export const batchMatMulKernel: WasmKernel<BatchMatMulKernelInputs, tf.BatchMatMulAttrs> = {
  kernelName: tf.BatchMatMul,
  kernelFunc: batchMatMul,
};
