/**
 * Convolutions on small feature maps (NHWC) as one im2col product on our own GEMM (`wasm_gemm.ts`).
 *
 * Layer4 of a 64² image is a 2×2 map: there a Winograd tile (4×4 outputs) covers a whole image and more, its
 * filter transform (36 [ci, co] planes written per call) costs as much as the products, and the zero-padded
 * grid of `wasm_conv_gemm.ts` is more than twice the outputs. The im2col form does exactly the multiply-adds
 * of the convolution and nothing else: the columns matrix X̂ [pixels, kh·kw·ci] holds, per output pixel, the
 * input pixels its taps read (zeros at the padding; any stride), so that
 *
 *   y [pixels, co]          = X̂ · W            (W [kh, kw, ci, co] as stored: a [kh·kw·ci, co] matrix)
 *   dW [kh·kw·ci, co]       = X̂ᵀ · dy          (A k-major: X̂ read as it is)
 *
 * — the forward product m-major over blocks of k (a block of W stays in cache across the rows), the filter
 * gradient k-major over blocks of pixels (a block of dy stays in cache across the rows of dW). X̂ is built
 * by row copies, in blocks of images that bound its size. {@link im2colPreferred} says when this beats
 * Winograd and the grid.
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { GEMM_KU, GEMM_MR, GEMM_NR, type GemmCall, type GemmEngine, winogradElements } from "./wasm_gemm.ts";
import { gridAxis } from "./conv_grid.ts";

/** Bytes of the columns matrix per block of images (at least one image per block): the default. */
export const IM2COL_COLUMNS_BYTES = 1 << 23;
/** Bytes of the B operand (a block of W, or of dy) that one call keeps in cache across the rows of C. */
const B_BLOCK_BYTES = 1 << 18;

/**
 * Relative cost of a Winograd F(m×m, 3×3) call beyond its products, in multiply-adds of our GEMM: the filter
 * transform (or the filter gradient's output transform) handles `elements` [ci, co] planes per call, about
 * this many multiply-adds' time per float of them (fitted to `tests/bench/im2col_bench.ts`: layer4 at 64²
 * and 128², 48 images), and the input and output transforms about this many per transformed float.
 */
const FILTER_TRANSFORM_COST = 32;
const TILE_TRANSFORM_COST = 4;
/**
 * Cost of building the columns matrix, in multiply-adds per float of it (fitted to the space-to-depth stem's
 * filter gradient, 48×35×35×16 → 64 by 4×4, where the grid wins by 1.24× although it does 1.19× the
 * multiply-adds; negligible where ci·co is large).
 */
const COLUMNS_COST = 16;

function heap(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/**
 * Whether {@link conv2dByIm2col} and {@link filterGradByIm2col} take a convolution: no dilation, 16+ input
 * channels (an even number, so that kh·kw·ci is whole k-unrolls), output channels whole 8-column tiles.
 */
export function im2colSuits(ci: number, co: number, info: tf.backend_util.Conv2DInfo): boolean {
  return info.dilationHeight === 1 && info.dilationWidth === 1 && ci >= 16 && ci % GEMM_KU === 0 &&
    co % GEMM_NR === 0;
}

/**
 * Whether the im2col product is the cheaper way to run this convolution (forward or filter gradient) than
 * what `wasm_conv_gemm.ts` would do: its multiply-adds n·oh·ow·kh·kw·ci·co (plus the cost of building the
 * columns matrix) against, for a 3×3 stride-1
 * filter with `winogradTile` m (Winograd on), the products over whole m×m tiles of the grid plus the filter
 * and tile transforms, or else (other stride-1 filters, or Winograd off) the direct products over the whole
 * zero-padded grid. Strided convolutions (XNNPACK's forward, the polyphase grid's filter gradient): for
 * outputs of up to 8×8 pixels and for 1×1 filters.
 */
export function im2colPreferred(
  n: number,
  ci: number,
  co: number,
  info: tf.backend_util.Conv2DInfo,
  winograd: boolean,
  winogradTile: 2 | 4,
): boolean {
  if (!im2colSuits(ci, co, info)) return false;
  const { filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
  // Strided: on maps of up to 8×8 outputs, and 1×1 filters (measured against XNNPACK and the polyphase grid).
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return oh * ow <= 64 || kh * kw === 1;
  const direct = n * oh * ow * kh * kw * ci * (co + COLUMNS_COST);
  const rows = gridAxis(info.inHeight, oh, kh, 1, info.padInfo.top);
  const cols = gridAxis(info.inWidth, ow, kw, 1, info.padInfo.left);
  if (winograd && kh === 3 && kw === 3 && ci % 4 === 0) {
    const m = winogradTile;
    const elements = winogradElements(m);
    const stepW = Math.ceil(cols.step / m) * m;
    const tiles = Math.ceil(((n - 1) * rows.step + oh) / m) * (stepW / m);
    const winogradCost = tiles * elements * (ci * co + TILE_TRANSFORM_COST * (ci + co)) +
      FILTER_TRANSFORM_COST * elements * ci * co;
    return direct < winogradCost;
  }
  const gridRows = ((n - 1) * rows.step + oh) * cols.step;
  return direct < gridRows * kh * kw * ci * co;
}

/**
 * Fill rows [0, count) of the columns matrix `cols` ([·, kh·kw·ci], zeros at the padding) with output pixels
 * p0 … p0+count−1 of the convolution (pixel index over images, rows, columns).
 */
function fillColumns(
  src: Float32Array,
  cols: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  p0: number,
  count: number,
): void {
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const k = kh * kw * ci;
  for (let r = 0; r < count; r++) {
    const p = p0 + r;
    const b = Math.floor(p / (oh * ow));
    const oy = Math.floor(p / ow) % oh;
    const ox = p % ow;
    const row = r * k;
    for (let i = 0; i < kh; i++) {
      const iy = oy * sh + i - top;
      if (iy < 0 || iy >= h) {
        cols.fill(0, row + i * kw * ci, row + (i + 1) * kw * ci);
        continue;
      }
      // Taps j with ix = ox·sw + j − left inside [0, w) are one contiguous run of x when sw = 1 or kw = 1.
      const j0 = Math.max(0, left - ox * sw);
      const j1 = Math.min(kw, w + left - ox * sw);
      const base = row + i * kw * ci;
      if (j0 > 0) cols.fill(0, base, base + j0 * ci);
      if (j1 < kw) cols.fill(0, base + Math.max(j0, j1) * ci, base + kw * ci);
      if (j1 <= j0) continue;
      const s = ((b * h + iy) * w + ox * sw + j0 - left) * ci;
      cols.set(src.subarray(s, s + (j1 - j0) * ci), base + j0 * ci);
    }
  }
}

/** Images per block of the columns matrix, and the block's rows rounded up to whole 6-row tiles. */
function blocking(
  n: number,
  perImage: number,
  k: number,
  columnsBytes: number,
): { images: number; rows: number } {
  const images = Math.min(n, Math.max(1, Math.floor(columnsBytes / (4 * perImage * k))));
  return { images, rows: Math.ceil((images * perImage) / GEMM_MR) * GEMM_MR };
}

/**
 * y = conv2d(x, filter) for NHWC x [n, h, w, ci] and filter [kh, kw, ci, co] (any stride, no dilation) as
 * X̂ · W (see the module doc), or null when {@link im2colSuits} says no. X̂ is built for blocks of images of
 * about `columnsBytes`. The caller owns the returned tensor.
 */
export function conv2dByIm2col(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  columnsBytes = IM2COL_COLUMNS_BYTES,
): tf.TensorInfo | null {
  const [n, , , ci] = x.shape;
  const [kh, kw, , co] = filter.shape;
  if (x.dtype !== "float32" || filter.dtype !== "float32" || !im2colSuits(ci, co, info)) return null;
  const { outHeight: oh, outWidth: ow } = info;
  const y = backend.makeOutput([n, oh, ow, co], "float32");
  const pixels = n * oh * ow;
  if (pixels * co === 0) return y;
  const k = kh * kw * ci;
  const { images, rows } = blocking(n, oh * ow, k, columnsBytes);
  const cols = backend.makeOutput([rows * k], "float32");
  // The last partial row tile of y goes through a scratch C of one tile.
  const tail = backend.makeOutput([GEMM_MR * co], "float32");
  try {
    const colsOffset = backend.getMemoryOffset(cols.dataId);
    const tailOffset = backend.getMemoryOffset(tail.dataId);
    const filterOffset = backend.getMemoryOffset(filter.dataId);
    const yOffset = backend.getMemoryOffset(y.dataId);
    const kBlock = Math.max(GEMM_KU, Math.floor(B_BLOCK_BYTES / (4 * co) / GEMM_KU) * GEMM_KU);
    for (let n0 = 0; n0 < n; n0 += images) {
      const count = Math.min(images, n - n0) * oh * ow;
      const p0 = n0 * oh * ow;
      const whole = Math.floor(count / GEMM_MR) * GEMM_MR;
      const padded = Math.ceil(count / GEMM_MR) * GEMM_MR;
      const c = heap(backend, cols);
      fillColumns(heap(backend, x), c, info, p0, count);
      if (padded > count) c.fill(0, count * k, padded * k);
      const calls: GemmCall[] = [];
      for (let k0 = 0; k0 < k; k0 += kBlock) {
        const kk = Math.min(kBlock, k - k0);
        const part = (r0: number, m: number, cAt: number) =>
          calls.push({
            layout: "m-major",
            a: colsOffset + 4 * (r0 * k + k0),
            lda: 4 * k,
            b: filterOffset + 4 * k0 * co,
            ldb: 4 * co,
            c: cAt,
            ldc: 4 * co,
            m,
            n: co,
            k: kk,
            accumulate: k0 > 0,
          });
        if (whole > 0) part(0, whole, yOffset + 4 * p0 * co);
        if (padded > whole) part(whole, GEMM_MR, tailOffset);
      }
      engine.run(calls, "rows");
      if (padded > whole) {
        const out = heap(backend, y);
        out.set(heap(backend, tail).subarray(0, (count - whole) * co), (p0 + whole) * co);
      }
    }
  } finally {
    backend.disposeData(cols.dataId);
    backend.disposeData(tail.dataId);
  }
  return y;
}

/**
 * dW [kh, kw, ci, co] of a convolution (any stride, no dilation) as X̂ᵀ · dy (see the module doc), or null when
 * {@link im2colSuits} says no. X̂ is built for blocks of images of about `columnsBytes`. The caller owns the
 * returned tensor.
 */
export function filterGradByIm2col(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  columnsBytes = IM2COL_COLUMNS_BYTES,
): tf.TensorInfo | null {
  const { filterHeight: kh, filterWidth: kw } = info;
  const [n, , , ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  if (x.dtype !== "float32" || dy.dtype !== "float32" || !im2colSuits(ci, co, info)) return null;
  const k = kh * kw * ci;
  const dW = backend.makeOutput([kh, kw, ci, co], "float32");
  const pixels = n * oh * ow;
  if (pixels === 0) {
    heap(backend, dW).fill(0);
    return dW;
  }
  // dW's rows rounded up to whole 6-row tiles: the extra rows read past each pixel's columns into the next
  // one's (and a spare row at the end), and land in a scratch C when k is not whole tiles.
  const mPad = Math.ceil(k / GEMM_MR) * GEMM_MR;
  const { images, rows } = blocking(n, oh * ow, k, columnsBytes);
  const cols = backend.makeOutput([(rows + 1) * k + mPad], "float32");
  const acc = mPad === k ? dW : backend.makeOutput([mPad * co], "float32");
  // An odd pixel count: the last pixel pairs with a zero row of dy here.
  const pair = backend.makeOutput([GEMM_KU * co], "float32");
  try {
    const colsOffset = backend.getMemoryOffset(cols.dataId);
    const accOffset = backend.getMemoryOffset(acc.dataId);
    const dyOffset = backend.getMemoryOffset(dy.dataId);
    const pairOffset = backend.getMemoryOffset(pair.dataId);
    heap(backend, cols).fill(0, rows * k);
    const pBlock = Math.max(GEMM_KU, Math.floor(B_BLOCK_BYTES / (4 * co) / GEMM_KU) * GEMM_KU);
    let first = true;
    for (let n0 = 0; n0 < n; n0 += images) {
      const count = Math.min(images, n - n0) * oh * ow;
      const p0 = n0 * oh * ow;
      fillColumns(heap(backend, x), heap(backend, cols), info, p0, count);
      const calls: GemmCall[] = [];
      const even = Math.floor(count / GEMM_KU) * GEMM_KU;
      const push = (a: number, b: number, kk: number) => {
        calls.push({
          a,
          lda: 4 * k,
          b,
          ldb: 4 * co,
          c: accOffset,
          ldc: 4 * co,
          m: mPad,
          n: co,
          k: kk,
          accumulate: !first,
        });
        first = false;
      };
      for (let r0 = 0; r0 < even; r0 += pBlock) {
        push(colsOffset + 4 * r0 * k, dyOffset + 4 * (p0 + r0) * co, Math.min(pBlock, even - r0));
      }
      if (even < count) {
        const c = heap(backend, cols);
        c.fill(0, count * k, (count + 1) * k);
        const p = heap(backend, pair);
        p.set(heap(backend, dy).subarray((p0 + even) * co, (p0 + count) * co));
        p.fill(0, co);
        push(colsOffset + 4 * even * k, pairOffset, GEMM_KU);
      }
      engine.run(calls);
    }
    if (acc !== dW) heap(backend, dW).set(heap(backend, acc).subarray(0, k * co));
  } finally {
    backend.disposeData(cols.dataId);
    backend.disposeData(pair.dataId);
    if (acc !== dW) backend.disposeData(acc.dataId);
  }
  return dW;
}
