/**
 * Stride-1 convolutions (NHWC) on our own GEMM (`wasm_gemm.ts`) for the TensorFlow.js `wasm` backend.
 *
 * On the zero-padded grid of `conv_grid.ts`, output pixel r reads input pixel r + off(i, j) for filter tap
 * (i, j), so with x laid out on the grid as it is (NHWC: one row of ci floats per grid pixel — row copies, no
 * transposition) the output grid is
 *
 *   Y[r, co] = Σ_taps Σ_ci X[r + off_tap, ci] · W[tap, ci, co]
 *
 * one m-major product per tap (A = X viewed from row off_tap, B = that tap's [ci, co] block of the filter as
 * it is stored), accumulated in C. The rows of C are processed in blocks small enough for C, the block of X
 * and one tap of W to stay in cache across the taps; threads take slices of the rows. The valid outputs are
 * copied from the output grid into y (row copies).
 *
 * {@link conv2dByGemm} returns null for the cases it does not take (stride or dilation ≠ 1, fewer than 16 or
 * an odd number of input channels, output channels not a multiple of 8); the caller then uses XNNPACK.
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type GridAxis, gridAxis } from "./conv_grid.ts";
import {
  GEMM_KU,
  GEMM_MR,
  GEMM_NR,
  type GemmCall,
  type GemmEngine,
  winogradElements,
  winogradGradientScratchBytes,
  winogradPartialBytes,
  winogradScratchBytes,
} from "./wasm_gemm.ts";

/** Bytes of C per block of rows, kept in cache across the taps. */
const C_BLOCK_BYTES = 1 << 20;

/** How the convolutions on our GEMM are blocked and whether 3×3 stride-1 ones use Winograd. */
export interface GemmConvOptions {
  /** Target grid pixels per block of images (at least one image per block). */
  gridPixels: number;
  /** Whether 3×3 stride-1 convolutions (and their filter gradients) use Winograd. */
  winograd: boolean;
  /**
   * Output tile of the forward Winograd: 4 for F(4×4, 3×3), 2.25 multiplications per output and channel
   * pair; 2 for F(2×2, 3×3), 4 (kept for comparisons).
   */
  winogradTile: 2 | 4;
}

/** The defaults: blocks of 65536 grid pixels, Winograd on 4×4 tiles. */
export const GEMM_CONV_DEFAULTS: Readonly<GemmConvOptions> = {
  gridPixels: 1 << 16,
  winograd: true,
  winogradTile: 4,
};

/** Bytes of V and M per block of Winograd tiles and thread (kept in cache between the three stages). */
const WINOGRAD_BLOCK_BYTES = 1 << 20;

/**
 * Tiles per block of a Winograd job: enough for the block's transformed tiles (V and M, 4·elements·(ci + co)
 * bytes per tile; 16 or 36 elements) to fill about {@link WINOGRAD_BLOCK_BYTES}, and at least 2·ci·co/(ci + co), so that the 16
 * (or 36) [ci, co] matrices every block reads (the transformed filter, or the sums of a filter gradient, which are
 * also written) cost no more memory traffic than the tiles themselves; then evened out so that every thread
 * gets the same number of blocks. A multiple of the GEMM's 6-row tile.
 */
export function winogradTileBlock(
  tiles: number,
  ci: number,
  co: number,
  threads: number,
  elements = 16,
): number {
  const wanted = Math.max(
    GEMM_MR,
    Math.floor(WINOGRAD_BLOCK_BYTES / (4 * elements * (ci + co))),
    Math.ceil((2 * ci * co) / (ci + co)),
  );
  const blocks = Math.ceil(Math.ceil(tiles / wanted) / threads) * threads;
  return Math.ceil(Math.ceil(tiles / blocks) / GEMM_MR) * GEMM_MR;
}

/** Whether {@link conv2dByGemm} takes a convolution with these channel counts and strides. */
export function convSuitsGemm(ci: number, co: number, info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 &&
    info.dilationWidth === 1 && ci >= 16 && ci % GEMM_KU === 0 && co % GEMM_NR === 0;
}

function heap(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/**
 * Which rows [u0, u1) and columns [v0, v1) of a grid slot hold an image: slot position (u, v) holds image
 * pixel (u·sh + p − top, v·sw + q − left) — phase (p, q) of a stride (sh, sw), (0, 0) of stride 1.
 */
interface Slot {
  u0: number;
  u1: number;
  v0: number;
  v1: number;
  top: number;
  left: number;
  /** Grid rows between images and pixels per grid row. */
  step: number;
  stepW: number;
  sh: number;
  sw: number;
  p: number;
  q: number;
}

/** The slot of phase (p, q) of an input on a grid of stride (sh, sw) (stride 1: the input itself). */
function inputSlot(
  rows: GridAxis,
  cols: GridAxis,
  stepW: number,
  top: number,
  left: number,
  [sh, sw, p, q] = [1, 1, 0, 0],
): Slot {
  return {
    u0: rows.lo[p],
    u1: rows.hi[p],
    v0: cols.lo[q],
    v1: cols.hi[q],
    top,
    left,
    step: rows.step,
    stepW,
    sh,
    sw,
    p,
    q,
  };
}

/**
 * Copy images n0 … n0+nb−1 of an NHWC tensor [·, h, w, c] (`src`) into their grid slots in `grid` (a row
 * copy per image row; a copy per pixel for a column stride), or — with `back`, stride 1 only — the slots'
 * contents back into the tensor.
 */
function copySlots(
  src: Float32Array,
  grid: Float32Array,
  [h, w, c]: number[],
  slot: Slot,
  n0: number,
  nb: number,
  back = false,
): void {
  const { u0, u1, v0, v1, top, left, step, stepW, sh, sw, p, q } = slot;
  const run = sw === 1 ? (v1 - v0) * c : c;
  for (let img = 0; img < nb; img++) {
    for (let u = u0; u < u1; u++) {
      const row = ((n0 + img) * h + u * sh + p - top) * w;
      const cell = (img * step + u) * stepW;
      for (let v = v0; v < (sw === 1 ? v0 + 1 : v1); v++) {
        const s = (row + v * sw + q - left) * c;
        const g = (cell + v) * c;
        if (back) src.set(grid.subarray(g, g + run), s);
        else grid.set(src.subarray(s, s + run), g);
      }
    }
  }
}

/** The output slot of a grid: outputs (oh, ow) from the corner of each image's slot. */
function outputSlot(oh: number, ow: number, step: number, stepW: number): Slot {
  return { u0: 0, u1: oh, v0: 0, v1: ow, top: 0, left: 0, step, stepW, sh: 1, sw: 1, p: 0, q: 0 };
}

/**
 * y = conv2d(x, filter) for NHWC x [n, h, w, ci] and filter [kh, kw, ci, co] as described in the module
 * documentation, or null when {@link convSuitsGemm} says no. Images are processed in blocks of about
 * `gridPixels` grid pixels. The caller owns the returned tensor.
 */
export function conv2dByGemm(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  options: GemmConvOptions = GEMM_CONV_DEFAULTS,
): tf.TensorInfo | null {
  const [n, h, w, ci] = x.shape;
  const [kh, kw, , co] = filter.shape;
  const { gridPixels } = options;
  if (x.dtype !== "float32" || filter.dtype !== "float32" || !convSuitsGemm(ci, co, info)) return null;
  const { outHeight: oh, outWidth: ow } = info;
  const y = backend.makeOutput([n, oh, ow, co], "float32");
  if (n * oh * ow * co === 0) return y;
  if (options.winograd && kh === 3 && kw === 3 && ci % 4 === 0) {
    winogradConv(backend, engine, x, filter, info, y, gridPixels, options.winogradTile);
    return y;
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowsAxis = gridAxis(h, oh, kh, 1, top);
  const colsAxis = gridAxis(w, ow, kw, 1, left);
  const stepW = colsAxis.step;
  const perImage = rowsAxis.step * stepW;
  const images = Math.min(n, Math.max(1, Math.floor(gridPixels / perImage)));
  const tail = (kh - 1) * stepW + kw - 1;
  // Output grid rows of a block (through the last valid output), in whole row tiles.
  const rowsOf = (nb: number) =>
    Math.ceil((((nb - 1) * rowsAxis.step + oh - 1) * stepW + ow) / GEMM_MR) * GEMM_MR;
  const maxRows = rowsOf(images);
  const xRows = Math.max(maxRows + tail, ((images - 1) * rowsAxis.step + rowsAxis.span) * stepW) + 1;
  const xg = backend.makeOutput([xRows * ci], "float32");
  const cg = backend.makeOutput([maxRows * co], "float32");
  try {
    const xgOffset = backend.getMemoryOffset(xg.dataId);
    const cgOffset = backend.getMemoryOffset(cg.dataId);
    const filterOffset = backend.getMemoryOffset(filter.dataId);
    heap(backend, xg).fill(0);
    const block = Math.max(GEMM_MR, Math.floor(C_BLOCK_BYTES / (4 * co) / GEMM_MR) * GEMM_MR);
    const slot = inputSlot(rowsAxis, colsAxis, stepW, top, left);
    for (let n0 = 0; n0 < n; n0 += images) {
      const nb = Math.min(images, n - n0);
      copySlots(heap(backend, x), heap(backend, xg), [h, w, ci], slot, n0, nb);
      const rows = rowsOf(nb);
      const calls: GemmCall[] = [];
      for (let m0 = 0; m0 < rows; m0 += block) {
        for (let t = 0; t < kh * kw; t++) {
          const off = Math.floor(t / kw) * stepW + (t % kw);
          calls.push({
            layout: "m-major",
            a: xgOffset + 4 * (m0 + off) * ci,
            lda: 4 * ci,
            b: filterOffset + 4 * t * ci * co,
            ldb: 4 * co,
            c: cgOffset + 4 * m0 * co,
            ldc: 4 * co,
            m: Math.min(block, rows - m0),
            n: co,
            k: ci,
            accumulate: t > 0,
          });
        }
      }
      engine.run(calls, "rows");
      copySlots(
        heap(backend, y),
        heap(backend, cg),
        [oh, ow, co],
        outputSlot(oh, ow, rowsAxis.step, stepW),
        n0,
        nb,
        true,
      );
    }
  } finally {
    backend.disposeData(xg.dataId);
    backend.disposeData(cg.dataId);
  }
  return y;
}

/**
 * y = conv2d(x, filter) for a 3×3 stride-1 filter with Winograd's F(2×2, 3×3): each 2×2 block of outputs
 * costs 16 multiply-adds per input and output channel instead of 36. On the grid of `conv_grid.ts` (rows an
 * even number of pixels long), every tile's 4×4 input block is transformed (V = Bᵀ·d·B), multiplied by the
 * transformed filter (U = G·g·Gᵀ) as 16 GEMMs [tiles, ci] × [ci, co], and transformed back (Aᵀ·M·A) into the
 * output grid; threads take blocks of tiles and keep each block's V and M in cache. The transforms only add
 * and subtract (and halve, for U), so float32 results stay within a few ulps of the direct sum's rounding.
 */
function winogradConv(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  y: tf.TensorInfo,
  gridPixels: number,
  m: 2 | 4,
): void {
  const [n, h, w, ci] = x.shape;
  const co = filter.shape[3];
  const { outHeight: oh, outWidth: ow } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const elements = winogradElements(m);
  const rowsAxis = gridAxis(h, oh, 3, 1, top);
  const colsAxis = gridAxis(w, ow, 3, 1, left);
  const stepW = Math.ceil(colsAxis.step / m) * m;
  const perImage = rowsAxis.step * stepW;
  const images = Math.min(n, Math.max(1, Math.floor(gridPixels / perImage)));
  const tileRows = (nb: number) => Math.ceil(((nb - 1) * rowsAxis.step + oh) / m);
  const maxTileRows = tileRows(images);
  // A tile reads m + 2 rows from its corner, and its last columns run into the next row.
  const xPixels = Math.max(
    (m * maxTileRows + m + 4) * stepW,
    ((images - 1) * rowsAxis.step + rowsAxis.span + 1) * stepW,
  );
  const tileBlock = winogradTileBlock(tileRows(images) * (stepW / m), ci, co, engine.threads, elements);
  const xg = backend.makeOutput([xPixels * ci], "float32");
  const yg = backend.makeOutput([m * maxTileRows * stepW * co], "float32");
  const u = backend.makeOutput([elements * ci * co], "float32");
  const scratch = backend.makeOutput(
    [(engine.threads * winogradScratchBytes(tileBlock, ci, co, m)) / 4],
    "float32",
  );
  try {
    engine.winogradFilter(
      backend.getMemoryOffset(filter.dataId),
      backend.getMemoryOffset(u.dataId),
      ci,
      co,
      m,
    );
    heap(backend, xg).fill(0);
    const slot = inputSlot(rowsAxis, colsAxis, stepW, top, left);
    for (let n0 = 0; n0 < n; n0 += images) {
      const nb = Math.min(images, n - n0);
      copySlots(heap(backend, x), heap(backend, xg), [h, w, ci], slot, n0, nb);
      engine.runWinograd({
        x: backend.getMemoryOffset(xg.dataId),
        stepW,
        ci,
        co,
        tiles: tileRows(nb) * (stepW / m),
        u: backend.getMemoryOffset(u.dataId),
        y: backend.getMemoryOffset(yg.dataId),
        scratch: backend.getMemoryOffset(scratch.dataId),
        tileBlock,
        tile: m,
      });
      copySlots(
        heap(backend, y),
        heap(backend, yg),
        [oh, ow, co],
        outputSlot(oh, ow, rowsAxis.step, stepW),
        n0,
        nb,
        true,
      );
    }
  } finally {
    for (const t of [xg, yg, u, scratch]) backend.disposeData(t.dataId);
  }
}

/** Whether {@link filterGradWinograd} takes the filter gradient of this convolution. */
export function winogradGradientSuits(
  ci: number,
  co: number,
  info: tf.backend_util.Conv2DInfo,
  options: Pick<GemmConvOptions, "winograd"> = GEMM_CONV_DEFAULTS,
): boolean {
  return options.winograd && info.filterHeight === 3 && info.filterWidth === 3 &&
    convSuitsGemm(ci, co, info) &&
    ci % 4 === 0;
}

/**
 * dW [3, 3, ci, co] of a 3×3 stride-1 convolution by Winograd's F(3×3, 4×4) (or F(3×3, 2×2) with the 2×2
 * forward tiles): dy is cut into 4×4 tiles, and each tile's contribution Σ x[p + (i, j)]·dy[p] to the 3×3 dW
 * is a small correlation of the tile's 6×6 block of x with its 4×4 dy — 36 multiplications per input and
 * output channel where a direct sum needs 144 (F(3×3, 2×2): 16 for 36). Both grids are laid
 * out as for the forward pass (x with its padding, dy at the output positions, zeros elsewhere); per tile,
 * the transformed x (`wino_in`) and dy (`wino_dy`) are multiplied and summed over tiles as 16 k-major GEMMs
 * [tiles, ci]ᵀ × [tiles, co] into per-thread partial sums, which the output transform adds and turns into dW.
 * Returns null when {@link winogradGradientSuits} says no. The caller owns the returned tensor.
 */
export function filterGradWinograd(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  options: GemmConvOptions = GEMM_CONV_DEFAULTS,
): tf.TensorInfo | null {
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const { gridPixels } = options;
  if (x.dtype !== "float32" || dy.dtype !== "float32" || !winogradGradientSuits(ci, co, info, options)) {
    return null;
  }
  const dW = backend.makeOutput([3, 3, ci, co], "float32");
  if (n * oh * ow === 0) {
    heap(backend, dW).fill(0);
    return dW;
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowsAxis = gridAxis(h, oh, 3, 1, top);
  const colsAxis = gridAxis(w, ow, 3, 1, left);
  // dy tiles of m×m (F(3×3, 4×4) by default, F(3×3, 2×2) with the 2×2 forward tiles).
  const m = options.winogradTile;
  const elements = winogradElements(m);
  const stepW = Math.ceil(colsAxis.step / m) * m;
  const step = rowsAxis.step;
  const images = Math.min(n, Math.max(1, Math.floor(gridPixels / (step * stepW))));
  const tileRows = (nb: number) => Math.ceil(((nb - 1) * step + oh) / m);
  // Tiles of a block, made even (the GEMM's k is unrolled twice); the extra tile reads zeros of dy.
  const tilesOf = (nb: number) => Math.ceil((tileRows(nb) * stepW) / m / GEMM_KU) * GEMM_KU;
  const maxTileRows = tileRows(images);
  const xPixels = Math.max(
    (m * maxTileRows + m + 4) * stepW,
    ((images - 1) * step + rowsAxis.span + 1) * stepW,
  );
  const dyPixels = (m * maxTileRows + m) * stepW;
  const rows = Math.ceil(ci / GEMM_MR) * GEMM_MR;
  const tileBlock = winogradTileBlock(tilesOf(images), ci, co, engine.threads, elements);
  const xg = backend.makeOutput([xPixels * ci], "float32");
  const dg = backend.makeOutput([dyPixels * co], "float32");
  const partials = backend.makeOutput([(engine.threads * winogradPartialBytes(rows, co, m)) / 4], "float32");
  const scratch = backend.makeOutput([
    (engine.threads * winogradGradientScratchBytes(tileBlock, ci, co, rows, m)) / 4,
  ], "float32");
  try {
    heap(backend, xg).fill(0);
    heap(backend, dg).fill(0);
    heap(backend, partials).fill(0);
    const xSlot = inputSlot(rowsAxis, colsAxis, stepW, top, left);
    const dySlot = outputSlot(oh, ow, step, stepW);
    let previous = images;
    for (let n0 = 0; n0 < n; n0 += images) {
      const nb = Math.min(images, n - n0);
      const dgrid = heap(backend, dg);
      // A shorter last block: clear the dy slots of the images it lacks (the extra tiles read them).
      if (nb < previous) dgrid.fill(0, nb * step * stepW * co);
      previous = nb;
      copySlots(heap(backend, x), heap(backend, xg), [h, w, ci], xSlot, n0, nb);
      copySlots(heap(backend, dy), dgrid, [oh, ow, co], dySlot, n0, nb);
      engine.runWinogradGradient({
        x: backend.getMemoryOffset(xg.dataId),
        dy: backend.getMemoryOffset(dg.dataId),
        stepW,
        ci,
        co,
        tiles: tilesOf(nb),
        rows,
        partials: backend.getMemoryOffset(partials.dataId),
        scratch: backend.getMemoryOffset(scratch.dataId),
        tileBlock,
        tile: m,
      });
    }
    engine.winogradFilterGradient(
      backend.getMemoryOffset(partials.dataId),
      rows,
      ci,
      co,
      backend.getMemoryOffset(dW.dataId),
      m,
    );
  } finally {
    for (const t of [xg, dg, partials, scratch]) backend.disposeData(t.dataId);
  }
  return dW;
}

/** Bytes of A and B rows one GEMM call of {@link filterGradByGemm} reads (its k block): stays in L2. */
const K_BLOCK_BYTES = 1 << 19;

/**
 * dW [kh, kw, ci, co] of any convolution (strides by polyphase grids, as in `conv_grid.ts`) with our k-major
 * GEMM: x is laid out on the zero-padded grid of each phase *without transposing* (row copies), dy on the
 * output grid, and dW[tap][ci, co] = Σ_K X[K + off_tap, ci] · DY[K, co] is one product per tap and block of K,
 * all accumulating in a [taps, ci↑6, co] buffer. The channel count is rounded up to whole 6-row tiles by
 * reading past each pixel's channels into the next one's (rows dropped at the end), so the grid has a few
 * spare floats at its end. Returns null for fewer than 16 input channels or output channels that are not
 * whole 8-column tiles (the caller then uses XNNPACK). The caller owns the returned tensor.
 */
export function filterGradByGemm(
  backend: BackendWasm,
  engine: GemmEngine,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  gridPixels = GEMM_CONV_DEFAULTS.gridPixels,
): tf.TensorInfo | null {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  if (x.dtype !== "float32" || dy.dtype !== "float32" || ci < 16 || co % GEMM_NR !== 0) return null;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const taps = kh * kw;
  const dW = backend.makeOutput([kh, kw, ci, co], "float32");
  if (n * oh * ow === 0) {
    heap(backend, dW).fill(0);
    return dW;
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowsAxis = gridAxis(h, oh, kh, sh, top);
  const colsAxis = gridAxis(w, ow, kw, sw, left);
  const stepW = colsAxis.step;
  const perBlock = Math.max(1, Math.floor(gridPixels / (rowsAxis.step * stepW)));
  const chunks = Math.ceil(n / Math.min(n, perBlock));
  const images = Math.ceil(n / chunks);
  const gridRows = (nb: number) => (nb - 1) * rowsAxis.step + rowsAxis.span + 1;
  const phases = sh * sw;
  const mPad = Math.ceil(ci / GEMM_MR) * GEMM_MR;
  // K of a block, rounded up to whole k-unrolls; the extra dy rows are zero.
  const kOf = (nb: number) => Math.ceil((gridRows(nb) * stepW) / GEMM_KU) * GEMM_KU;
  const maxK = kOf(images);
  const tail = (Math.ceil(kh / sh) - 1) * stepW + Math.ceil(kw / sw) - 1;
  // x grids of one block: [phase][K + tail][ci] (+ mPad − ci spare floats), dy grid [K][co].
  const phaseRows = maxK + tail;
  const xq = backend.makeOutput([phases * phaseRows * ci + mPad], "float32");
  const dq = backend.makeOutput([maxK * co], "float32");
  const acc = backend.makeOutput([taps * mPad * co], "float32");
  try {
    const xqOffset = backend.getMemoryOffset(xq.dataId);
    const dqOffset = backend.getMemoryOffset(dq.dataId);
    const accOffset = backend.getMemoryOffset(acc.dataId);
    const dySlot = outputSlot(oh, ow, rowsAxis.step, stepW);
    const kBlock = Math.max(16, Math.floor(K_BLOCK_BYTES / (4 * (ci + co)) / GEMM_KU) * GEMM_KU);
    let layout = -1;
    for (let n0 = 0; n0 < n; n0 += images) {
      const nb = Math.min(images, n - n0);
      const k = kOf(nb);
      if (k !== layout) {
        heap(backend, xq).fill(0);
        heap(backend, dq).fill(0);
        layout = k;
      }
      for (let p = 0; p < sh; p++) {
        for (let q = 0; q < sw; q++) {
          const slot = inputSlot(rowsAxis, colsAxis, stepW, top, left, [sh, sw, p, q]);
          const phase = heap(backend, xq).subarray((p * sw + q) * phaseRows * ci);
          copySlots(heap(backend, x), phase, [h, w, ci], slot, n0, nb);
        }
      }
      copySlots(heap(backend, dy), heap(backend, dq), [oh, ow, co], dySlot, n0, nb);
      const calls: GemmCall[] = [];
      for (let k0 = 0; k0 < k; k0 += kBlock) {
        for (let t = 0; t < taps; t++) {
          const i = Math.floor(t / kw);
          const j = t % kw;
          const row = ((i % sh) * sw + (j % sw)) * phaseRows + Math.floor(i / sh) * stepW +
            Math.floor(j / sw) + k0;
          calls.push({
            a: xqOffset + 4 * row * ci,
            lda: 4 * ci,
            b: dqOffset + 4 * k0 * co,
            ldb: 4 * co,
            c: accOffset + 4 * t * mPad * co,
            ldc: 4 * co,
            m: mPad,
            n: co,
            k: Math.min(kBlock, k - k0),
            accumulate: n0 > 0 || k0 > 0,
          });
        }
      }
      engine.run(calls);
    }
    const out = heap(backend, dW);
    const sums = heap(backend, acc);
    for (let t = 0; t < taps; t++) {
      out.set(sums.subarray(t * mPad * co, t * mPad * co + ci * co), t * ci * co);
    }
  } finally {
    for (const t of [xq, dq, acc]) backend.disposeData(t.dataId);
  }
  return dW;
}
