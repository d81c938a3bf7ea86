/**
 * Reductions over one contiguous block of axes that is not innermost, shared by the `Sum` and `Mean` kernels.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type Attrs, type KernelContext, runStock, type TensorInfo } from "./context.ts";
import { f32, view } from "./heap.ts";

/**
 * The stock wasm reductions transpose the reduced axes to the end first; for the reductions of a training
 * step (batch-norm statistics and broadcast gradients over N, H, W of an NHWC tensor, global average pooling
 * over H, W) the reduced axes are one contiguous block, so x is an [outer, reduce, inner] array, reduced by
 * {@link pooledReduction} or one JS pass with float64 accumulators. Other cases go to the stock kernel.
 */
export function blockReduction(x: TensorInfo, axis: number | number[]): [number, number, number] | null {
  if (x.dtype !== "float32") return null;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (axes.length === 0) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const first = axes[0];
  const last = axes[axes.length - 1];
  if (last === x.shape.length - 1) return null; // innermost already: the stock kernel does not transpose
  const size = (from: number, to: number) => x.shape.slice(from, to).reduce((p, q) => p * q, 1);
  return [size(0, first), size(first, last + 1), size(last + 1, x.shape.length)];
}

/** Reductions at least this large (elements) run on XNNPACK's average pooling; smaller ones in JS. */
const POOLED_REDUCTION = 1 << 15;

/**
 * The reduction of x over `axis` (a block that {@link blockReduction} accepts): the sum, or with `mean` the
 * mean, as a new float32 tensor the caller owns.
 */
export function reduceBlock(
  ctx: KernelContext,
  backend: BackendWasm,
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
): TensorInfo {
  const [outer, red, inner] = blockReduction(x, axis)!;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const shape = keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  const scale = mean ? 1 / red : 1;
  if (outer * red * inner >= POOLED_REDUCTION && red >= 16) {
    return pooledReduction(ctx, backend, x, outer, red, inner, x.shape[axes[0]], shape, scale);
  }
  const out = backend.makeOutput(shape, "float32");
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    let p = o * red * inner;
    for (let r = 0; r < red; r++) {
      for (let i = 0; i < inner; i++) acc[i] += src[p++];
    }
    const d = o * inner;
    for (let i = 0; i < inner; i++) dst[d + i] = acc[i] * scale;
  }
  return out;
}

/**
 * The [outer, red, inner] block reduction as XNNPACK average pooling (SIMD, multi-threaded over the pooled
 * windows, about 3× faster than the JS loop on a ResNet's batch-norm statistics): x viewed as
 * [outer·a, red/a, 1, inner] is pooled with a (red/a)×1 window to [outer·a, inner] partial means, which are
 * then combined in float64. `a` is the size of the first reduced axis (the batch, for batch-norm statistics),
 * so that a single reduction still gives the pool several windows to share among threads.
 */
function pooledReduction(
  ctx: KernelContext,
  backend: BackendWasm,
  x: TensorInfo,
  outer: number,
  red: number,
  inner: number,
  firstAxis: number,
  shape: number[],
  scale: number,
): TensorInfo {
  const a = outer === 1 && firstAxis > 1 && red % firstAxis === 0 ? firstAxis : 1;
  const window = red / a;
  const pooled = runStock(ctx, backend, tf.AvgPool, {
    inputs: { x: view(x, [outer * a, window, 1, inner]) },
    attrs: { filterSize: [window, 1], strides: [window, 1], pad: "valid" } as unknown as Attrs,
  });
  if (a === 1 && scale === 1 / red) {
    pooled.shape = shape;
    return pooled;
  }
  const out = backend.makeOutput(shape, "float32");
  const part = f32(backend, pooled);
  const dst = f32(backend, out);
  // Each partial is a mean over `window` values; the result is their sum times window·scale.
  const factor = window * scale;
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let j = 0; j < a; j++) {
      const p = (o * a + j) * inner;
      for (let i = 0; i < inner; i++) acc[i] += part[p + i];
    }
    for (let i = 0; i < inner; i++) dst[o * inner + i] = acc[i] * factor;
  }
  backend.disposeData(pooled.dataId);
  return out;
}
