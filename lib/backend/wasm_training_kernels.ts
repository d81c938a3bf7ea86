/**
 * Training kernels for the TensorFlow.js `wasm` backend (XNNPACK, SIMD, optionally threads).
 *
 * tfjs-backend-wasm 4.22 runs a ResNet forward pass well, but its backward pass is either missing
 * (`Conv2DBackpropFilter` is not registered, so `tf.variableGrads` through a `conv2d` throws) or written as
 * scalar loops (`Conv2DBackpropInput`, `MaxPoolGrad`, `BatchMatMul` with a transposed operand). Every other
 * kernel a ResNet step needs exists. {@link registerWasmTrainingKernels} registers, on `wasm` only:
 *
 * - `Conv2DBackpropFilter` (missing) — where `useWasmGemm` gave it our own GEMM (`wasm_gemm.ts`; 16+ input
 *   channels), one k-major product per filter tap on zero-padded NHWC grids of x and dy
 *   (`wasm_conv_gemm.ts`); otherwise one XNNPACK GEMM per filter tap over *shifted views* of x, no im2col:
 *   x is laid out once, transposed, on a zero-padded grid on which every tap is a constant offset, so
 *   dW[t] = X[:, off_t : off_t + K] · DY is a GEMM of a view of X (see {@link filterGradShifted}); strides
 *   are split into polyphase components. The GEMMs are multi-threaded; the JS work is two copies. An
 *   explicit-im2col variant (`configureWasmTrainingKernels({ filterGradMethod: "im2col" })`) and a
 *   "dy as a dilated filter" variant (`"conv"`) are kept for comparison and measured slower.
 * - `Conv2DBackpropInput` (naive) — the transposed convolution split into its s×s polyphase components: input
 *   rows r ≡ a (mod s) only see the taps kh ≡ a+T (mod s), so each phase is a stride-1 XNNPACK convolution
 *   of dy with a flipped, channel-transposed sub-filter; no zero-dilated dy is built, so a stride-2 layer
 *   costs what its forward pass costs. Phases are interleaved into dx by one strided copy.
 * - `MaxPoolGrad` (naive) — one branch-free pass that finds the first window element equal to the pooled
 *   output; ties go to the first maximum in scan order, like `cpu`.
 * - `BatchMatMul` — transposed operands are transposed explicitly, so matMul gradients use XNNPACK's GEMM
 *   instead of the scalar fallback.
 * - `Sum`, `Mean` — reductions over one contiguous block of axes that is not innermost (batch-norm statistics
 *   and broadcast gradients over N,H,W; average pooling over H,W) without the stock kernel's transpose: large
 *   ones as XNNPACK average pooling (SIMD, threaded), small ones in one JS pass with float64 accumulators.
 * - `FusedBatchNorm` (`tf.batchNorm`; a scalar loop) — with per-channel statistics, a subtraction and a
 *   per-channel affine map on XNNPACK's 1×1 depthwise convolution, about 4× faster.
 * - `UnsortedSegmentSum` (missing; the gradient of `tf.gather`) — a scatter-add.
 * - `Slice` — heap-to-heap copies of contiguous runs (the stock kernel first copies the whole input to JS).
 * - `Identity`, same-dtype `Cast` — share the buffer (as `cpu` does) instead of copying: the autograd tape
 *   clones every tensor it saves, and every mul/relu gradient casts float32 to float32.
 *
 * Only the `wasm` kernel registry is touched; no gradient (`tf.registerGradient`) is changed, so `cpu` and
 * `webgpu` compute exactly what they did before. The replacements re-arrange the same sums, so results agree
 * with `cpu` to float32 rounding (`tests/wasm_training_kernels_test.ts`). They call the stock wasm kernels at
 * the `TensorInfo` level (as tfjs' own wasm kernels call `transpose`/`reshape`), which keeps them off the
 * autograd tape, and free every intermediate before returning.
 *
 * Gradients must be registered for any backend to train: `@tensorflow/tfjs-core` alone registers none;
 * import `lib/backend/gradients.ts` (the `@tensorflow/tfjs` bundle) too.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { GemmEngine } from "./wasm_gemm.ts";
import { type GridAxis, gridAxis } from "./conv_grid.ts";
import { conv2dByGemm, filterGradByGemm, filterGradWinograd } from "./wasm_conv_gemm.ts";

type TensorInfo = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: Attrs };

const BACKEND = "wasm";

/** The stock kernel configurations we replaced (null: tfjs has none), restored by {@link unregisterWasmTrainingKernels}. */
const replaced = new Map<string, tf.KernelConfig | null>();

/**
 * A small arena for intermediate tensors inside a kernel: `run` calls a *stock* wasm kernel and remembers its
 * output, `track` remembers a tensor made with `makeOutput`, `release` frees one early, `keep` hands a result
 * to the caller, `dispose` frees everything else.
 */
interface Arena {
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs?: Attrs): TensorInfo;
  track(t: TensorInfo): TensorInfo;
  release(t: TensorInfo): void;
  keep(t: TensorInfo): TensorInfo;
  dispose(): void;
}

function stockKernel(kernelName: string): tf.KernelConfig {
  const original = replaced.get(kernelName);
  if (original) return original;
  const config = tf.getKernel(kernelName, BACKEND);
  if (!config) {
    throw new Error(
      `wasm kernel '${kernelName}' is not registered (is @tensorflow/tfjs-backend-wasm loaded?)`,
    );
  }
  return config;
}

function runStock(backend: BackendWasm, kernelName: string, args: Omit<KernelArgs, "backend">): TensorInfo {
  return stockKernel(kernelName).kernelFunc({
    inputs: args.inputs,
    backend,
    attrs: args.attrs ?? {},
  }) as TensorInfo;
}

function createArena(backend: BackendWasm): Arena {
  const temps: TensorInfo[] = [];
  const forget = (t: TensorInfo): boolean => {
    const i = temps.lastIndexOf(t);
    if (i >= 0) temps.splice(i, 1);
    return i >= 0;
  };
  const track = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  return {
    run: (kernelName, inputs, attrs = {}) => track(runStock(backend, kernelName, { inputs, attrs })),
    track,
    release(t) {
      if (forget(t)) backend.disposeData(t.dataId);
    },
    keep(t) {
      forget(t);
      return t;
    },
    dispose() {
      for (const t of temps) backend.disposeData(t.dataId);
      temps.length = 0;
    },
  };
}

/** The same data under another shape, without a reference of its own (valid while `t` lives). */
function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** A float32 view of a tensor on the wasm heap; take it *after* the last allocation (the heap may grow). */
function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
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
function alias(backend: BackendWasm, t: TensorInfo, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, t.dtype, backend.getMemoryOffset(t.dataId));
}

/** Forget an {@link alias} without freeing the memory it shares (runs its C++ disposal callbacks). */
function dropAlias(backend: BackendWasm, a: TensorInfo): void {
  const internals = backend as unknown as WasmInternals;
  const data = internals.dataIdMap.get(a.dataId);
  if (!data) return;
  internals.wasm.tfjs.disposeData(data.id);
  internals.dataIdMap.delete(a.dataId);
}

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const arena = createArena(backend);
  try {
    let xs = x;
    let dys = dy;
    if (attrs.dataFormat === "NCHW") {
      xs = arena.run("Transpose", { x }, { perm: [0, 2, 3, 1] });
      dys = arena.run("Transpose", { x: dy }, { perm: [0, 2, 3, 1] });
    }
    const info = tf.backend_util.computeConv2DInfo(
      xs.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    if (filterGradMethod === "gemm" && gemmEngine != null) {
      // Our GEMM where it takes the shapes (Winograd for 3×3 stride 1), else XNNPACK below.
      const dW = filterGradWinograd(backend, gemmEngine, xs, dys, info, gemmGridPixels) ??
        filterGradByGemm(backend, gemmEngine, xs, dys, info, gemmGridPixels);
      if (dW) return dW;
    }
    const grad = filterGradMethod === "conv"
      ? filterGradConv
      : filterGradMethod === "im2col"
      ? filterGradIm2col
      : filterGradShifted;
    return arena.keep(grad(backend, arena, xs, dys, info));
  } finally {
    arena.dispose();
  }
}

/**
 * dW as one forward XNNPACK convolution: with x transposed to [ci, H, W, n] (batch ↔ channels) as the input
 * and dy transposed to [OH, OW, n, co] as the filter, dilation = stride and the forward padding,
 * out[ci, kh, kw, co] = Σ_{oh,ow,n} x[n, oh·s+kh−T, ow·s+kw−L, ci]·dy[n, oh, ow, co] = dW transposed.
 */
function filterGradConv(
  backend: BackendWasm,
  arena: Arena,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
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
}

let filterGradMethod: "gemm" | "shifted" | "im2col" | "conv" = "gemm";

/** Our own GEMM (`wasm_gemm.ts`) on the backend's memory, set by {@link useWasmGemm}; null: XNNPACK only. */
let gemmEngine: GemmEngine | null = null;

/**
 * Let `Conv2DBackpropFilter` use `engine` (our k-major GEMM on the wasm heap) where it suits the shapes;
 * null goes back to XNNPACK. Returns the previous engine.
 */
export function useWasmGemm(engine: GemmEngine | null): GemmEngine | null {
  const previous = gemmEngine;
  gemmEngine = engine;
  return previous;
}

/** Target grid pixels per block of images on our GEMM (at least one image per block). */
let gemmGridPixels = 1 << 16;

/** Elements of the im2col block that one GEMM of {@link filterGradIm2col} works on (16 MiB of float32). */
let gemmBlock = 1 << 22;

/**
 * dW for NHWC x / dy as GEMMs: with xT = x transposed to [ci, n, H, W] and, per filter tap t = (kh, kw),
 * A_t[ci, (n, oh, ow)] = xT[ci, n, oh·s+kh−T, ow·s+kw−L] (zero outside), dW[t] = A_t · dy[(n, oh, ow), co].
 * Several taps are stacked into one A (M = taps·ci) and the batch is split into chunks so that A stays
 * below `gemmBlock` elements; every product runs through XNNPACK's fully-connected GEMM.
 */
function filterGradIm2col(
  backend: BackendWasm,
  arena: Arena,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
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
}

/** Target size of the GEMMs' inner dimension K (grid pixels per block of images) in {@link filterGradShifted}. */
let gridBlock = 1 << 14;

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
 * are processed in blocks of about `gridBlock` grid pixels (the GEMMs' inner dimension), whose per-tap
 * products are summed. With few input channels (the 3 of an RGB stem) a single view would make a GEMM of 3
 * rows, so the views of several taps are copied into one operand of ≥ 64 rows instead.
 *
 * The views pair x values with zero dy; a non-finite x there would turn 0·∞ into NaN where the exact sum
 * has none (the loss would already be non-finite then).
 */
function filterGradShifted(
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
          prod = runStock(backend, tf.BatchMatMul, {
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

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput

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

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const arena = createArena(backend);
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
    let dx = inputGradNHWC(backend, arena, dys, filter, info);
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
      const phase = arena.track(conv2DNHWC(backend, src, sub, {
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

// ---------------------------------------------------------------------------------------------------------
// Conv2D

/** An NHWC convolution: on our GEMM where {@link conv2dByGemm} takes it, else XNNPACK's. */
function conv2DNHWC(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  attrs: Pick<tf.Conv2DAttrs, "strides" | "pad" | "dataFormat" | "dilations" | "dimRoundingMode">,
): TensorInfo {
  if (gemmEngine != null && attrs.dataFormat !== "NCHW") {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const y = conv2dByGemm(backend, gemmEngine, x, filter, info, gemmGridPixels);
    if (y) return y;
  }
  return runStock(backend, tf.Conv2D, { inputs: { x, filter }, attrs: attrs as unknown as Attrs });
}

function conv2D(args: KernelArgs): TensorInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  return conv2DNHWC(args.backend as BackendWasm, x, filter, args.attrs as unknown as tf.Conv2DAttrs);
}

// ---------------------------------------------------------------------------------------------------------
// MaxPoolGrad

/**
 * dx of a 2-D max-pool: each dy goes to the first maximum of its window in row-major scan order (as the `cpu`
 * backend does, which matters for ties such as the zeros after a ReLU). With the pooled output y at hand
 * (the gradient saves it), the first maximum is the first window element equal to y, found branch-free over
 * the channels — maxima of post-ReLU data are as good as random, so a comparison that branches mispredicts
 * half the time (this is about twice as fast as tracking a running maximum and its index). The other window
 * elements receive 0·dy, so a non-finite dy spreads over its window (the step is lost anyway then).
 */
function maxPoolGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  if (input.dtype !== "float32" || output == null) return runStock(backend, tf.MaxPoolGrad, args);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const dx = backend.makeOutput(input.shape, "float32");
  if (gemmEngine != null && c % 4 === 0 && n * oh * ow > 0) {
    // The same rule as below, as a SIMD kernel on the engine's threads (`wasm_pool_kernels.ts`).
    f32(backend, dx).fill(0);
    const at = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
    gemmEngine.maxPoolGrad({
      x: at(input),
      y: at(output),
      dy: at(dy),
      out: at(dx),
      images: n,
      height: h,
      width: w,
      channels: c,
      outHeight: oh,
      outWidth: ow,
      filterHeight: fh,
      filterWidth: fw,
      strideHeight: sh,
      strideWidth: sw,
      top: info.padInfo.top,
      left: info.padInfo.left,
    });
    return dx;
  }
  const x = f32(backend, input);
  const y = f32(backend, output);
  const g = f32(backend, dy);
  const out = f32(backend, dx);
  out.fill(0);
  const found = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      const y0 = r * sh - info.padInfo.top;
      for (let q = 0; q < ow; q++) {
        const x0 = q * sw - info.padInfo.left;
        const go = ((b * oh + r) * ow + q) * c;
        found.fill(0);
        for (let i = Math.max(0, y0); i < Math.min(h, y0 + fh); i++) {
          for (let j = Math.max(0, x0); j < Math.min(w, x0 + fw); j++) {
            const base = ((b * h + i) * w + j) * c;
            for (let k = 0; k < c; k++) {
              // 1 at the first element equal to the maximum, else 0; without a branch.
              const hit = +(x[base + k] === y[go + k]) & (found[k] ^ 1);
              found[k] |= hit;
              out[base + k] += hit * g[go + k];
            }
          }
        }
      }
    }
  }
  return dx;
}

// ---------------------------------------------------------------------------------------------------------
// Sum / Mean over a block of axes

/**
 * The stock wasm reductions transpose the reduced axes to the end first; for the reductions of a training
 * step (batch-norm statistics and broadcast gradients over N, H, W of an NHWC tensor, global average pooling
 * over H, W) the reduced axes are one contiguous block, so x is an [outer, reduce, inner] array, reduced by
 * {@link pooledReduction} or one JS pass with float64 accumulators. Other cases go to the stock kernel.
 */
function blockReduction(x: TensorInfo, axis: number | number[]): [number, number, number] | null {
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

function reduceBlock(
  backend: BackendWasm,
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
) {
  const [outer, red, inner] = blockReduction(x, axis)!;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const shape = keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  const scale = mean ? 1 / red : 1;
  if (outer * red * inner >= POOLED_REDUCTION && red >= 16) {
    return pooledReduction(backend, x, outer, red, inner, x.shape[axes[0]], shape, scale);
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
  const pooled = runStock(backend, tf.AvgPool, {
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

function sum(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  if (!blockReduction(x, axis)) return runStock(backend, tf.Sum, args);
  return reduceBlock(backend, x, axis, keepDims, false);
}

function mean(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.MeanAttrs;
  if (!blockReduction(x, axis)) return runStock(backend, tf.Mean, args);
  return reduceBlock(backend, x, axis, keepDims, true);
}

// ---------------------------------------------------------------------------------------------------------
// BatchMatMul

/**
 * The stock kernel uses XNNPACK's GEMM only for untransposed, unbatched products and falls back to a scalar
 * triple loop otherwise — which is what every matMul gradient (dA = dY·Bᵀ, dB = Aᵀ·dY) asks for. Transpose
 * the operands explicitly (O(size), negligible next to the product) and take the GEMM path.
 */
function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (
    (!transposeA && !transposeB) || batchA !== 1 || batchB !== 1 || a.dtype !== "float32" ||
    b.dtype !== "float32"
  ) {
    return runStock(backend, tf.BatchMatMul, args);
  }
  const arena = createArena(backend);
  try {
    const [a0, a1] = a.shape.slice(-2);
    const [b0, b1] = b.shape.slice(-2);
    const a2 = transposeA
      ? arena.run("Transpose", { x: view(a, [a0, a1]) }, { perm: [1, 0] })
      : view(a, [a0, a1]);
    const b2 = transposeB
      ? arena.run("Transpose", { x: view(b, [b0, b1]) }, { perm: [1, 0] })
      : view(b, [b0, b1]);
    const out = runStock(backend, tf.BatchMatMul, {
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

// ---------------------------------------------------------------------------------------------------------
// Slice

/**
 * The stock wasm `Slice` first copies the *whole* input out of the heap (`readSync`) and then copies one
 * innermost row at a time. Copy straight from heap to heap instead, in the longest contiguous runs (for the
 * gradient of a spatial `tf.pad` on NHWC: whole rows of W·C values).
 */
function sliceHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
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

function slice(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  if (x.dtype === "string") return runStock(backend, tf.Slice, args);
  const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceHeap(backend, x, b, sz);
}

// ---------------------------------------------------------------------------------------------------------
// FusedBatchNorm

/**
 * The stock wasm `FusedBatchNorm` is a scalar loop with a division and a square root per element (about 10×
 * slower than a multiply). With per-channel statistics — mean, variance, offset and scale of C values, as
 * both batch-norm modes of a network pass them — it is y = (x − mean)·a + offset with
 * a = scale/√(variance + ε): a broadcast subtraction (skipped when the mean is zero) and XNNPACK's 1×1
 * depthwise convolution with a bias (SIMD, threaded), about 4× faster. The mean is subtracted first, as the
 * stock kernel does: folding it into the bias (x·a + (offset − mean·a)) would lose the precision of x̂ where
 * |mean| ≫ σ, which a batch-norm over few samples (a ResNet's last stage on small images) turns into
 * garbage gradients.
 */
function fusedBatchNorm(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined> & {
    x: TensorInfo;
    mean: TensorInfo;
    variance: TensorInfo;
  };
  const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
  const c = x.shape[x.shape.length - 1];
  const perChannel = (t: TensorInfo | undefined) =>
    t == null || (t.dtype === "float32" && tf.util.sizeFromShape(t.shape) === c);
  if (
    x.dtype !== "float32" || x.shape.length !== 4 || tf.util.sizeFromShape(x.shape) === 0 ||
    ![mean, variance, offset, scale].every(perChannel)
  ) {
    return runStock(backend, tf.FusedBatchNorm, args);
  }
  const arena = createArena(backend);
  try {
    const filter = arena.track(backend.makeOutput([1, 1, c, 1], "float32"));
    const bias = arena.track(backend.makeOutput([c], "float32"));
    const v = f32(backend, variance);
    const o = offset ? f32(backend, offset) : null;
    const g = scale ? f32(backend, scale) : null;
    const a = f32(backend, filter);
    const b = f32(backend, bias);
    for (let i = 0; i < c; i++) {
      a[i] = (g ? g[i] : 1) / Math.sqrt(v[i] + varianceEpsilon);
      b[i] = o ? o[i] : 0;
    }
    const centred = f32(backend, mean).some((m) => m !== 0)
      ? arena.run(tf.Sub, { a: x, b: view(mean, [c]) })
      : x;
    return arena.keep(runStock(backend, tf.FusedDepthwiseConv2D, {
      inputs: { x: centred, filter, bias },
      attrs: {
        strides: [1, 1],
        pad: "valid",
        dilations: [1, 1],
        dataFormat: "NHWC",
        activation: "linear",
      } as unknown as Attrs,
    }));
  } finally {
    arena.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// UnsortedSegmentSum

/**
 * Missing on wasm; the gradient of `tf.gather` needs it. out[segmentIds[i], …] += x[i, …] (ids outside
 * [0, numSegments) are dropped, as on `cpu`).
 */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const rows = segmentIds.shape.reduce((p, q) => p * q, 1);
  const inner = x.shape.reduce((p, q) => p * q, 1) / Math.max(1, rows);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let r = 0; r < rows; r++) {
    const id = ids[r];
    if (id < 0 || id >= numSegments) continue;
    const d = id * inner;
    const o = r * inner;
    for (let i = 0; i < inner; i++) dst[d + i] += src[o + i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Identity / Cast

/**
 * The stock wasm `Identity` copies its input. The autograd tape clones every tensor it saves for the backward
 * pass (`Engine.saveTensorsForBackwardMode`), so a ResNet step copied every activation once more; tensors
 * are immutable, so — as the `cpu` backend does — share the buffer and count a reference instead.
 */
function identity(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === "string") return runStock(backend, tf.Identity, args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** A cast to the same dtype (every `mul` and `relu` gradient does one) shares the buffer too. */
function cast(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (x.dtype !== dtype || dtype === "string") return runStock(backend, tf.Cast, args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}

// ---------------------------------------------------------------------------------------------------------
// Registration

const KERNELS: [string, (args: KernelArgs) => TensorInfo][] = [
  [tf.Conv2DBackpropFilter, conv2DBackpropFilter],
  [tf.Conv2D, conv2D],
  [tf.Conv2DBackpropInput, conv2DBackpropInput],
  [tf.MaxPoolGrad, maxPoolGrad],
  [tf.Sum, sum],
  [tf.Mean, mean],
  [tf.BatchMatMul, batchMatMul],
  [tf.Slice, slice],
  [tf.FusedBatchNorm, fusedBatchNorm],
  [tf.UnsortedSegmentSum, unsortedSegmentSum],
  [tf.Identity, identity],
  [tf.Cast, cast],
];

let registered = false;

/**
 * Register (once; later calls do nothing) the fast training kernels on the `wasm` backend: the missing
 * `Conv2DBackpropFilter` and faster replacements for the stock naive ones. Call it before or after
 * `tf.setBackend("wasm")`; other backends are not affected.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const [kernelName, kernelFunc] of KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    replaced.set(kernelName, existing ?? null);
    if (existing) tf.unregisterKernel(kernelName, BACKEND);
    // Keep the stock kernel's setup (its cwrap) running: we delegate to it for the cases we do not handle.
    tf.registerKernel({
      kernelName,
      backendName: BACKEND,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
      setupFunc: existing?.setupFunc,
      disposeFunc: existing?.disposeFunc,
    });
  }
  registered = true;
}

/**
 * Undo {@link registerWasmTrainingKernels}: restore the stock wasm kernels (and remove the ones tfjs does not
 * have). Meant for benchmarks and tests that compare against the stock backend.
 */
export function unregisterWasmTrainingKernels(): void {
  if (!registered) return;
  for (const [name, original] of replaced) {
    tf.unregisterKernel(name, BACKEND);
    if (original) tf.registerKernel(original);
  }
  replaced.clear();
  registered = false;
}

/** Tuning knobs of the training kernels; see {@link configureWasmTrainingKernels}. */
export interface WasmTrainingKernelOptions {
  /**
   * How `Conv2DBackpropFilter` is computed: our own k-major GEMM on NHWC grids (`"gemm"`, the default;
   * only with an engine from {@link useWasmGemm}, ≥ 16 input channels and whole 8-column tiles of output
   * channels — otherwise `"shifted"`), XNNPACK GEMMs over shifted views of x (`"shifted"`; no im2col), GEMMs
   * over an explicit im2col copy of x (`"im2col"`), or one dilated convolution (`"conv"`).
   */
  filterGradMethod?: "gemm" | "shifted" | "im2col" | "conv";
  /**
   * `"shifted"`: grid pixels (the GEMMs' inner dimension) per block of images (default 16384; at least one
   * image). Smaller blocks mean more, smaller GEMMs.
   */
  gridBlockPixels?: number;
  /**
   * Our GEMM (filter gradients and stride-1 convolutions): grid pixels per block of images (default 65536;
   * at least one image).
   */
  gemmGridPixels?: number;
  /**
   * `"im2col"`: largest im2col block in float32 elements (default 4 Mi = 16 MiB). Smaller blocks split the
   * batch and the filter taps into more, smaller GEMMs.
   */
  gemmBlockElements?: number;
}

/** Change tuning knobs (for tests and benchmarks); returns the previous values. */
export function configureWasmTrainingKernels(
  options: WasmTrainingKernelOptions,
): Required<WasmTrainingKernelOptions> {
  const previous = {
    filterGradMethod,
    gridBlockPixels: gridBlock,
    gemmGridPixels,
    gemmBlockElements: gemmBlock,
  };
  if (options.filterGradMethod !== undefined) filterGradMethod = options.filterGradMethod;
  if (options.gridBlockPixels !== undefined) gridBlock = Math.max(1, Math.floor(options.gridBlockPixels));
  if (options.gemmGridPixels !== undefined) gemmGridPixels = Math.max(1, Math.floor(options.gemmGridPixels));
  if (options.gemmBlockElements !== undefined) gemmBlock = Math.max(1, Math.floor(options.gemmBlockElements));
  return previous;
}

/** Whether {@link registerWasmTrainingKernels} is currently in effect. */
export function wasmTrainingKernelsRegistered(): boolean {
  return registered;
}
