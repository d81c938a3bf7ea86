/**
 * The filter gradient of a convolution as XNNPACK GEMMs over shifted views of x (no im2col): the fallback of
 * `Conv2DBackpropFilter` where our own GEMM does not take the shapes.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type GridAxis, gridAxis } from "../../conv_grid.ts";
import { type Arena, type KernelContext, runStock, type TensorInfo } from "./context.ts";
import { dropAlias, f32 } from "./heap.ts";

/**
 * dW as GEMMs over shifted views of x, without im2col.
 *
 * Stride 1 first. Lay x out on a grid, zero-padded, with image n's rows at n·stepH + u and each row `stepW`
 * long, flattened to one index per grid pixel; put dy on the same grid (output (n, oh, ow) at grid pixel
 * (n·stepH + oh)·stepW + ow, zeros elsewhere). Output pixel r then reads, for tap (i, j), the input at grid
 * pixel r + i·stepW + j: a *constant offset* per tap. So with X = the x grid transposed to [ci, K] and DY = the
 * dy grid as [K, co], dW[i, j] = X[:, off : off + K] · DY with off = i·stepW + j, and X[:, off : off + K] is X
 * viewed from `off` with the same row length K: each row runs `off` values into the next, which only ever
 * meet zero rows of DY. So every tap is one XNNPACK GEMM on a view of the same two buffers (DY is packed once
 * for all taps); the JS work is one transposing copy of x and one padded copy of dy. Consecutive images
 * (and rows) share their zero borders — a row's right padding is the next row's left padding — so the
 * grid is only slightly larger than dy (8×8 → 9×9 per image for a 3×3 pad-1 conv); one extra zero row ends
 * each channel so that the reads of the last outputs stay on zeros.
 *
 * A stride s is split into its s×s polyphase components: tap (i, j) reads phase (i mod s, j mod s) of the
 * padded input, at offset (⌊i/s⌋, ⌊j/s⌋) of the phase grid — a stride-1 problem on the same dy grid. Images
 * are processed in blocks of about `settings.gridBlockPixels` grid pixels (the GEMMs' inner dimension), whose per-tap
 * products are summed. With few input channels (the 3 of an RGB stem) a single view would make a GEMM of 3
 * rows, so the views of several taps are copied into one operand of ≥ 64 rows instead.
 *
 * The views pair x values with zero dy; a non-finite x there would turn 0·∞ into NaN where the exact sum
 * has none (the loss would already be non-finite then).
 */
export function filterGradShifted(
  ctx: KernelContext,
  backend: BackendWasm,
  arena: Arena,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const dW = arena.track(backend.makeOutput([kh, kw, ci, co], "float32"));
  if (n * oh * ow === 0) {
    f32(backend, dW).fill(0);
    return dW;
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowsAxis = gridAxis(h, oh, kh, sh, top);
  const colsAxis = gridAxis(w, ow, kw, sw, left);
  const stepW = colsAxis.step;
  const perImage = rowsAxis.step * stepW;
  const gridBlock = ctx.settings.gridBlockPixels;
  const chunks = Math.ceil(n / Math.max(1, Math.min(n, Math.floor(gridBlock / perImage))));
  const images = Math.ceil(n / chunks);
  const gridRows = (nb: number) => (nb - 1) * rowsAxis.step + rowsAxis.span + 1;
  const phases = sh * sw;
  const maxK = gridRows(images) * stepW;
  const taps = kh * kw;
  // Taps per GEMM: 1 (a view, no copy), or enough stacked taps to give GEMMs with few channels ≥ 64 rows.
  const group = ci >= 32 ? 1 : Math.min(taps, Math.ceil(64 / ci));
  // The last view of the last phase runs this far past the end.
  const tail = (Math.ceil(kh / sh) - 1) * stepW + Math.ceil(kw / sw) - 1;
  // x grids of one block: [phase][ci][K] (+ tail), and the dy grid [K, co]: zero except where x and dy are
  // copied in. Blocks of the same size have the same layout, so the zeros are written only when it changes.
  const xq = arena.track(backend.makeOutput([phases * ci * maxK + tail], "float32"));
  const xqOffset = backend.getMemoryOffset(xq.dataId);
  const dq = arena.track(backend.makeOutput([maxK * co], "float32"));
  const dqOffset = backend.getMemoryOffset(dq.dataId);
  let layout = -1;

  for (let n0 = 0; n0 < n; n0 += images) {
    const nb = Math.min(images, n - n0);
    const k = gridRows(nb) * stepW;
    if (k !== layout) {
      f32(backend, xq).fill(0);
      f32(backend, dq).fill(0);
      layout = k;
    }
    fillGrid(
      f32(backend, x),
      f32(backend, xq),
      { h, w, ci, sh, sw, top, left, rows: rowsAxis, cols: colsAxis, k },
      n0,
      nb,
    );
    const dyg = f32(backend, dq);
    const run = ow * co;
    const src = f32(backend, dy);
    for (let img = 0; img < nb; img++) {
      for (let r = 0; r < oh; r++) {
        const s = ((n0 + img) * oh + r) * run;
        dyg.set(src.subarray(s, s + run), (img * rowsAxis.step + r) * stepW * co);
      }
    }
    // DY as a fresh tensor id for this block (XNNPACK caches its packed copy per id), dropped right after.
    const b = backend.makeOutput([1, k, co], "float32", dqOffset);
    try {
      const tapOffset = (t: number) => {
        const i = Math.floor(t / kw);
        const j = t % kw;
        return ((i % sh) * sw + (j % sw)) * ci * k + Math.floor(i / sh) * stepW + Math.floor(j / sw);
      };
      for (let t0 = 0; t0 < taps; t0 += group) {
        const g = Math.min(group, taps - t0);
        let a: TensorInfo;
        if (g === 1) {
          a = backend.makeOutput([1, ci, k], "float32", xqOffset + 4 * tapOffset(t0));
        } else {
          // Few input channels: stack the views of `g` taps into one [g·ci, K] operand (row copies).
          a = arena.track(backend.makeOutput([1, g * ci, k], "float32"));
          const rows = f32(backend, a);
          const grid = f32(backend, xq);
          for (let t = 0; t < g; t++) {
            const off = tapOffset(t0 + t);
            for (let c = 0; c < ci; c++) {
              rows.set(grid.subarray(off + c * k, off + (c + 1) * k), (t * ci + c) * k);
            }
          }
        }
        let prod: TensorInfo;
        try {
          prod = runStock(ctx, backend, tf.BatchMatMul, {
            inputs: { a, b },
            attrs: { transposeA: false, transposeB: false },
          });
        } finally {
          if (g === 1) dropAlias(backend, a);
          else arena.release(a);
        }
        const part = f32(backend, prod);
        const dst = f32(backend, dW);
        const o = t0 * ci * co;
        if (n0 === 0) dst.set(part, o);
        else for (let e = 0; e < part.length; e++) dst[o + e] += part[e];
        backend.disposeData(prod.dataId);
      }
    } finally {
      dropAlias(backend, b);
    }
  }
  return dW;
}

interface GridGeometry {
  h: number;
  w: number;
  ci: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
  rows: GridAxis;
  cols: GridAxis;
  /** Grid pixels per channel (row length of each phase's [ci, K] block). */
  k: number;
}

/**
 * Copy the images n0 … n0+nb−1 of x (NHWC) into their (zeroed) grids, transposed:
 * xg[(p·sw + q)·ci·K + c·K + (img·stepH + u)·stepW + v] = x[n0 + img, u·sh + p − top, v·sw + q − left, c].
 * Reads x in memory order; writes ci strided streams.
 */
function fillGrid(x: Float32Array, xg: Float32Array, geo: GridGeometry, n0: number, nb: number): void {
  const { h, w, ci, sh, sw, top, left, rows, cols, k } = geo;
  for (let p = 0; p < sh; p++) {
    for (let q = 0; q < sw; q++) {
      const base = (p * sw + q) * ci * k;
      for (let img = 0; img < nb; img++) {
        for (let u = rows.lo[p]; u < rows.hi[p]; u++) {
          const src = ((n0 + img) * h + u * sh + p - top) * w;
          const row = base + (img * rows.step + u) * cols.step;
          for (let v = cols.lo[q]; v < cols.hi[q]; v++) {
            const s = (src + v * sw + q - left) * ci;
            for (let c = 0, e = row + v; c < ci; c++, e += k) xg[e] = x[s + c];
          }
        }
      }
    }
  }
}
