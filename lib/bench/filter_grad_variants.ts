/**
 * Filter-gradient variants of the wasm `Conv2DBackpropFilter` kept for comparison only (both measured slower
 * than the default routes of `lib/backend/kernels/Conv2DBackpropFilter.ts`): GEMMs over an explicit im2col
 * copy of x, and "dy as a dilated filter" (one forward convolution). Plug one in with
 * `registerWasmTrainingKernels().configure({ filterGrad: filterGradIm2col() })`.
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { Arena, Attrs, FilterGradFn, TensorInfo } from "../backend/kernels/shared/context.ts";
import { alias, dropAlias, f32, sliceHeap, view } from "../backend/kernels/shared/heap.ts";

/**
 * dW as one forward XNNPACK convolution: with x transposed to [ci, H, W, n] (batch ↔ channels) as the input
 * and dy transposed to [OH, OW, n, co] as the filter, dilation = stride and the forward padding,
 * out[ci, kh, kw, co] = Σ_{oh,ow,n} x[n, oh·s+kh−T, ow·s+kw−L, ci]·dy[n, oh, ow, co] = dW transposed.
 */
export const filterGradConv: FilterGradFn = (
  backend: BackendWasm,
  arena: Arena,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo => {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const [, h, w] = x.shape;
  const [, oh, ow] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Bottom/right padding that makes the output exactly kh×kw; when negative, the rows/cols of x that the
  // forward conv never reads are cropped from the (larger) output instead.
  const bottom = (oh - 1) * sh + kh - h - top;
  const right = (ow - 1) * sw + kw - w - left;
  const xT = arena.run("Transpose", { x }, { perm: [3, 1, 2, 0] });
  const dyT = arena.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
  let out = arena.run("Conv2D", { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
    dataFormat: "NHWC",
    dilations: [sh, sw],
  } as unknown as Attrs);
  if (out.shape[1] !== kh || out.shape[2] !== kw) {
    out = arena.track(sliceHeap(backend, out, [0, 0, 0, 0], [out.shape[0], kh, kw, out.shape[3]]));
  }
  return arena.run("Transpose", { x: out }, { perm: [1, 2, 0, 3] });
};

/**
 * dW for NHWC x / dy as GEMMs: with xT = x transposed to [ci, n, H, W] and, per filter tap t = (kh, kw),
 * A_t[ci, (n, oh, ow)] = xT[ci, n, oh·s+kh−T, ow·s+kw−L] (zero outside), dW[t] = A_t · dy[(n, oh, ow), co].
 * Several taps are stacked into one A (M = taps·ci) and the batch is split into chunks so that A stays
 * below `gemmBlock` elements (default 4 Mi = 16 MiB of float32); every product runs through XNNPACK's
 * fully-connected GEMM.
 */
export function filterGradIm2col(gemmBlock: number = 1 << 22): FilterGradFn {
  gemmBlock = Math.max(1, Math.floor(gemmBlock));
  return (
    backend: BackendWasm,
    arena: Arena,
    x: TensorInfo,
    dy: TensorInfo,
    info: tf.backend_util.Conv2DInfo,
  ): TensorInfo => {
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const [n, h, w, ci] = x.shape;
    const [, oh, ow, co] = dy.shape;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const taps = kh * kw;
    const pix = oh * ow;
    const dW = arena.track(backend.makeOutput([kh, kw, ci, co], "float32"));
    if (n * pix === 0) {
      f32(backend, dW).fill(0);
      return dW;
    }

    // Batch chunk and tap group sizes.
    let group = taps;
    let images = Math.max(1, Math.floor(gemmBlock / (taps * ci * pix)));
    if (taps * ci * pix > gemmBlock) {
      images = 1;
      group = Math.max(1, Math.floor(gemmBlock / (ci * pix)));
    }
    const chunks = Math.ceil(n / Math.min(n, images));
    images = Math.ceil(n / chunks);

    const xT = ci === 1 ? x : arena.run("Transpose", { x: view(x, [n * h * w, ci]) }, { perm: [1, 0] });
    const direct = kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 && chunks === 1 &&
      oh === h && ow === w;
    const a = direct ? xT : arena.track(backend.makeOutput([group * ci * images * pix], "float32"));

    for (let n0 = 0; n0 < n; n0 += images) {
      const nb = Math.min(images, n - n0);
      const rows = nb * pix;
      // B = the dy rows of this chunk. XNNPACK caches its packed copy per tensor id, so B is always a fresh id
      // (an alias of dy, or a copy of a chunk of it — never a refilled buffer), disposed right after use.
      let b: TensorInfo;
      if (chunks === 1) {
        b = alias(backend, dy, [1, rows, co]);
      } else {
        b = backend.makeOutput([1, rows, co], "float32");
        f32(backend, b).set(f32(backend, dy).subarray(n0 * pix * co, (n0 + nb) * pix * co));
      }
      try {
        for (let t0 = 0; t0 < taps; t0 += group) {
          const g = Math.min(group, taps - t0);
          if (!direct) {
            gatherTaps(
              f32(backend, xT),
              f32(backend, a),
              { n, h, w, ci, oh, ow, kw, sh, sw, top, left },
              t0,
              g,
              n0,
              nb,
            );
          }
          const prod = arena.run("BatchMatMul", { a: view(a, [1, g * ci, rows]), b }, {
            transposeA: false,
            transposeB: false,
          });
          const dst = f32(backend, dW);
          const src = f32(backend, prod);
          const off = t0 * ci * co;
          if (n0 === 0) dst.set(src, off);
          else for (let i = 0; i < src.length; i++) dst[off + i] += src[i];
          arena.release(prod);
        }
      } finally {
        if (chunks === 1) dropAlias(backend, b);
        else backend.disposeData(b.dataId);
      }
    }
    return dW;
  };
}

interface GatherGeometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  oh: number;
  ow: number;
  kw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

/** Fill A[(t, c), (img, oh, ow)] = xT[c, n0+img, oh·sh+ky−top, ow·sw+kx−left] for taps t0…t0+g−1. */
function gatherTaps(
  xT: Float32Array,
  a: Float32Array,
  geo: GatherGeometry,
  t0: number,
  g: number,
  n0: number,
  nb: number,
): void {
  const { n, h, w, ci, oh, ow, kw, sh, sw, top, left } = geo;
  const rowLen = nb * oh * ow;
  for (let t = 0; t < g; t++) {
    const ky = Math.floor((t0 + t) / kw);
    const kx = (t0 + t) % kw;
    // Output columns whose input column ow·sw + kx − left lies inside [0, w).
    const lo = Math.min(ow, Math.max(0, Math.ceil((left - kx) / sw)));
    const hi = Math.max(lo, Math.min(ow, Math.floor((w - 1 - kx + left) / sw) + 1));
    for (let c = 0; c < ci; c++) {
      let d = (t * ci + c) * rowLen;
      for (let img = n0; img < n0 + nb; img++) {
        const plane = (c * n + img) * h;
        for (let r = 0; r < oh; r++, d += ow) {
          const y = r * sh + ky - top;
          if (y < 0 || y >= h) {
            a.fill(0, d, d + ow);
            continue;
          }
          if (lo > 0) a.fill(0, d, d + lo);
          if (hi < ow) a.fill(0, d + hi, d + ow);
          const src = (plane + y) * w + kx - left;
          if (sw === 1 && hi - lo >= 32) {
            a.set(xT.subarray(src + lo, src + hi), d + lo);
          } else if (sw === 1) {
            for (let j = lo; j < hi; j++) a[d + j] = xT[src + j];
          } else {
            for (let j = lo; j < hi; j++) a[d + j] = xT[src + j * sw];
          }
        }
      }
    }
  }
}
