/**
 * `Conv2DBackpropInput` on `wasm` (the stock kernel is a scalar loop): the transposed convolution split into
 * its s×s polyphase components. Input rows r ≡ a (mod s) only see the taps kh ≡ a+T (mod s), so each phase is
 * a stride-1 convolution of dy (on our GEMM or XNNPACK, `shared/conv2d_nhwc.ts`) with a flipped,
 * channel-transposed sub-filter; no zero-dilated dy is built, so a stride-2 layer costs what its forward pass
 * costs. Phases are interleaved into dx by one strided copy.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  type Arena,
  createArena,
  type KernelContext,
  type Present,
  type TensorInfo,
  type WasmKernel,
  type WasmKernelArgs,
} from "./shared/context.ts";
import { conv2DNHWC } from "./shared/conv2d_nhwc.ts";
import { f32, sliceHeap } from "./shared/heap.ts";

/** One polyphase component along one spatial axis of a transposed convolution. */
interface Phase1D {
  /** Residue of the input rows of this phase: rows a, a+s, a+2s, … */
  a: number;
  /** Number of input rows in this phase. */
  count: number;
  /** Filter taps used: m, m+s, …, m+(taps−1)s. */
  m: number;
  taps: number;
  /** dy rows read: [lo, lo + count + taps − 1), zero outside [0, OH). */
  lo: number;
}

/**
 * Input row r = i·s + a receives dy[oh]·W[kh] for oh·s + kh − T = r, i.e. the taps kh ≡ a+T (mod s):
 * with a+T = q·s + m and kh = j·s + m, oh = i + q − j — a stride-1 correlation of dy with the flipped taps.
 */
function phases1D(inSize: number, k: number, s: number, padBefore: number): Phase1D[] {
  const phases: Phase1D[] = [];
  for (let a = 0; a < s; a++) {
    const count = inSize > a ? Math.ceil((inSize - a) / s) : 0;
    const q = Math.floor((a + padBefore) / s);
    const m = (a + padBefore) % s;
    const taps = k > m ? Math.ceil((k - m) / s) : 0;
    phases.push({ a, count, m, taps, lo: q - taps + 1 });
  }
  return phases;
}

/** The inputs of `Conv2DBackpropInput`. */
export type Conv2DBackpropInputKernelInputs = Present<tf.Conv2DBackpropInputInputs>;

/** dx of a convolution by polyphase components (see the module doc); NCHW is transposed to NHWC and back. */
export function conv2DBackpropInput(
  { inputs, backend, attrs }: WasmKernelArgs<Conv2DBackpropInputKernelInputs, tf.Conv2DBackpropInputAttrs>,
  ctx: KernelContext,
): TensorInfo {
  const { dy, filter } = inputs;
  const arena = createArena(ctx, backend);
  try {
    let dys = dy;
    let inShape = attrs.inputShape;
    if (attrs.dataFormat === "NCHW") {
      dys = arena.run("Transpose", { x: dy }, { perm: [0, 2, 3, 1] });
      inShape = [inShape[0], inShape[2], inShape[3], inShape[1]];
    }
    const info = tf.backend_util.computeConv2DInfo(
      inShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    let dx = inputGradNHWC(ctx, backend, arena, dys, filter, info);
    if (attrs.dataFormat === "NCHW") dx = arena.run("Transpose", { x: dx }, { perm: [0, 3, 1, 2] });
    return arena.keep(dx);
  } finally {
    arena.dispose();
  }
}

/**
 * The filter of one phase, [th, tw, co, ci]: taps (th−1−jh)·sh + m_h, (tw−1−jw)·sw + m_w of W [kh, kw, ci, co]
 * (spatially flipped), each [ci, co] block transposed to [co, ci] in cache-sized tiles.
 */
function subFilter(
  backend: BackendWasm,
  filter: TensorInfo,
  ph: Phase1D,
  pw: Phase1D,
  sh: number,
  sw: number,
) {
  const [, kw, ci, co] = filter.shape;
  const block = co * ci;
  const out = backend.makeOutput([ph.taps, pw.taps, co, ci], "float32");
  const src = f32(backend, filter);
  const dst = f32(backend, out);
  const tile = 32;
  let o = 0;
  for (let jh = 0; jh < ph.taps; jh++) {
    const r = (ph.taps - 1 - jh) * sh + ph.m;
    for (let jw = 0; jw < pw.taps; jw++, o += block) {
      const base = (r * kw + (pw.taps - 1 - jw) * sw + pw.m) * block;
      for (let i0 = 0; i0 < ci; i0 += tile) {
        const i1 = Math.min(ci, i0 + tile);
        for (let j0 = 0; j0 < co; j0 += tile) {
          const j1 = Math.min(co, j0 + tile);
          for (let i = i0; i < i1; i++) {
            const row = base + i * co;
            for (let j = j0; j < j1; j++) dst[o + j * ci + i] = src[row + j];
          }
        }
      }
    }
  }
  return out;
}

/** dx as s_h·s_w stride-1 XNNPACK convolutions of dy, one per polyphase component, interleaved. */
function inputGradNHWC(
  ctx: KernelContext,
  backend: BackendWasm,
  arena: Arena,
  dy: TensorInfo,
  filter: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const [n, h, w, ci] = info.inShape;
  const [, oh, ow] = dy.shape;
  const rows = phases1D(h, kh, sh, info.padInfo.top);
  const cols = phases1D(w, kw, sw, info.padInfo.left);
  const single = sh === 1 && sw === 1;
  const dx = single ? null : arena.track(backend.makeOutput([n, h, w, ci], "float32"));
  // Phases that no filter tap reaches (e.g. odd rows of a 1×1 stride-2 conv) get zero gradient.
  if (dx && (rows.some((p) => p.taps === 0) || cols.some((p) => p.taps === 0))) f32(backend, dx).fill(0);
  for (const ph of rows) {
    for (const pw of cols) {
      if (ph.count === 0 || pw.count === 0 || ph.taps === 0 || pw.taps === 0) continue;
      // dy rows [lo, hi) are read: crop what lies inside [0, OH), let the conv zero-pad what lies outside.
      const hiH = ph.lo + ph.count + ph.taps - 1;
      const hiW = pw.lo + pw.count + pw.taps - 1;
      const cropTop = Math.max(0, ph.lo);
      const cropLeft = Math.max(0, pw.lo);
      const useH = Math.min(oh, hiH) - cropTop;
      const useW = Math.min(ow, hiW) - cropLeft;
      let src = dy;
      if (cropTop > 0 || cropLeft > 0 || useH < oh || useW < ow) {
        src = arena.track(sliceHeap(backend, dy, [0, cropTop, cropLeft, 0], [n, useH, useW, dy.shape[3]]));
      }
      const sub = arena.track(subFilter(backend, filter, ph, pw, sh, sw));
      const pad = [[0, 0], [Math.max(0, -ph.lo), Math.max(0, hiH - oh)], [
        Math.max(0, -pw.lo),
        Math.max(0, hiW - ow),
      ], [
        0,
        0,
      ]];
      const phase = arena.track(conv2DNHWC(ctx, backend, src, sub, {
        strides: [1, 1],
        pad: pad as tf.Conv2DAttrs["pad"],
        dataFormat: "NHWC",
        dilations: [1, 1],
      }));
      if (!dx) return phase;
      interleave(f32(backend, phase), phase.shape, f32(backend, dx), dx.shape, ph.a, pw.a, sh, sw);
      arena.release(phase);
      arena.release(sub);
      if (src !== dy) arena.release(src);
    }
  }
  if (!dx) return arena.run("Fill", {}, { shape: [n, h, w, ci], value: 0, dtype: "float32" });
  return dx;
}

/** dst[b, i·sh + a, j·sw + c, :] = src[b, i, j, :]. */
function interleave(
  src: Float32Array,
  srcShape: number[],
  dst: Float32Array,
  dstShape: number[],
  a: number,
  c: number,
  sh: number,
  sw: number,
): void {
  const [n, h, w, ch] = dstShape;
  const [, ih, iw] = srcShape;
  let s = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ih; i++) {
      const row = (b * h + i * sh + a) * w;
      for (let j = 0; j < iw; j++) {
        let d = (row + j * sw + c) * ch;
        const end = s + ch;
        while (s < end) dst[d++] = src[s++];
      }
    }
  }
}

/** The registration entry of {@link conv2DBackpropInput}. */
export const conv2DBackpropInputKernel: WasmKernel<
  Conv2DBackpropInputKernelInputs,
  tf.Conv2DBackpropInputAttrs
> = {
  kernelName: tf.Conv2DBackpropInput,
  kernelFunc: conv2DBackpropInput,
};
