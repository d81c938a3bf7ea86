/**
 * A small multi-threaded float32 GEMM of our own, running on the TensorFlow.js `wasm` backend's heap.
 *
 * It computes C[m, n] (+)= Σ_k A[k, m] · B[k, n] with both operands *k-major* (a row of A or B per k) — the
 * shape of a convolution's filter gradient, dW[tap][ci, co] = Σ_pixels x[pixel + tap, ci] · dy[pixel, co],
 * where x and dy are plain NHWC grids and each filter tap is a row offset into x. XNNPACK's GEMM wants A
 * m-major (x transposed to [ci, pixels]) and packs B on every call; this one reads both NHWC grids as they
 * are.
 *
 * The kernel is generated here as WebAssembly bytes (no toolchain): a 6×8 register tile — 12 `v128`
 * accumulators, two `v128` loads of B and six broadcast loads of A per k, combined with
 * `f32x4.relaxed_madd` (a fused multiply-add where the CPU has FMA3), k unrolled twice. It imports the
 * backend's own `WebAssembly.Memory`, so it works on tensors in place. On the threaded build (a shared
 * memory) a {@link GemmEngine} also runs the kernel in worker threads that instantiate it on the same memory;
 * the columns of every product are split between the threads, so each writes its own part of C and the
 * products of one batch can accumulate into the same C in order. Threads meet through `Atomics.wait`.
 *
 * Needs relaxed SIMD (see `wasm_fma.ts`); {@link createGemmEngine} returns null where it is missing.
 * @module
 */
import { Worker } from "node:worker_threads";
import { relaxedSimdSupported } from "./wasm_fma.ts";
import { Code, type KernelFunction, kernelModule, op } from "./wasm_asm.ts";
import { winogradKernels } from "./wasm_winograd_kernels.ts";
import { maxPoolGradKernel } from "./wasm_pool_kernels.ts";

/** Rows (of C; columns of A) per register tile: `m` must be a multiple of this. */
export const GEMM_MR = 6;
/** Columns per register tile: `n` must be a multiple of this. */
export const GEMM_NR = 8;
/** k is unrolled this many times: `k` must be a positive multiple of this. */
export const GEMM_KU = 2;

/** One product of a batch: all addresses and strides in bytes on the wasm heap. */
export interface GemmCall {
  /** A[k, m] at a + k·lda + 4m (`"k-major"`, the default), or A[m, k] at a + m·lda + 4k (`"m-major"`). */
  layout?: "k-major" | "m-major";
  a: number;
  lda: number;
  /** B[k, n] at b + k·ldb + 4n. */
  b: number;
  ldb: number;
  /** C[m, n] at c + m·ldc + 4n. */
  c: number;
  ldc: number;
  m: number;
  n: number;
  k: number;
  /** Add to C (true) or overwrite it (false). */
  accumulate: boolean;
}

const FIELDS = 17;

// ---------------------------------------------------------------------------------------------------------
// The kernels, as WebAssembly bytes.

/**
 * The code of one kernel: `mMajor` false reads A k-major (one pointer, six broadcasts at immediate offsets),
 * true reads A m-major (six row pointers, one broadcast each per k).
 */
function gemmKernel(mMajor: boolean): KernelFunction {
  // Parameters 0–9, then locals.
  const [A, LDA, B, LDB, C, LDC, M, N, K, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [I, J, KK, AP, BP, CP] = [10, 11, 12, 13, 14, 15];
  const [S, B0, B1] = [16, 17, 18];
  const acc = (r: number, h: number) => 19 + 2 * r + h;
  const rowPtr = (r: number) => 19 + 2 * GEMM_MR + r; // m-major: the six row pointers of A
  const { get, set, tee, i32, load, splat, store, zero, madd, brIf } = op;
  const [ADD, SUB, MUL, SHL, LT_U] = [op.add, op.sub, op.mul, op.shl, op.ltU];
  const [LOOP, END] = [op.loop, op.end];
  const code = new Code();
  const emit = (...parts: (number | number[])[]) => code.emit(...parts);
  emit(i32(0), set(I), LOOP); // over row tiles
  emit(i32(0), set(J), LOOP); // over column tiles
  // cp = c + i·ldc + 4j
  emit(get(C), get(I), get(LDC), MUL, ADD, get(J), i32(2), SHL, ADD, set(CP));
  emit(get(ACC), op.if);
  for (let r = 0; r < GEMM_MR; r++) {
    for (let h = 0; h < 2; h++) emit(get(CP), get(LDC), i32(r), MUL, ADD, load(16 * h), set(acc(r, h)));
  }
  emit(op.else);
  for (let r = 0; r < GEMM_MR; r++) for (let h = 0; h < 2; h++) emit(zero, set(acc(r, h)));
  emit(END);
  if (mMajor) {
    for (let r = 0; r < GEMM_MR; r++) {
      emit(get(A), get(I), i32(r), ADD, get(LDA), MUL, ADD, set(rowPtr(r)));
    }
  } else emit(get(A), get(I), i32(2), SHL, ADD, set(AP));
  emit(get(B), get(J), i32(2), SHL, ADD, set(BP));
  emit(get(K), set(KK), LOOP); // over k
  for (let u = 0; u < GEMM_KU; u++) {
    emit(get(BP), load(0), set(B0), get(BP), load(16), set(B1));
    for (let r = 0; r < GEMM_MR; r++) {
      emit(mMajor ? [...get(rowPtr(r)), ...splat(4 * u)] : [...get(AP), ...splat(4 * r)], set(S));
      for (let h = 0; h < 2; h++) emit(get(S), get(h === 0 ? B0 : B1), get(acc(r, h)), madd, set(acc(r, h)));
    }
    if (!mMajor) emit(get(AP), get(LDA), ADD, set(AP));
    emit(get(BP), get(LDB), ADD, set(BP));
  }
  if (mMajor) {
    for (let r = 0; r < GEMM_MR; r++) emit(get(rowPtr(r)), i32(4 * GEMM_KU), ADD, set(rowPtr(r)));
  }
  emit(get(KK), i32(GEMM_KU), SUB, tee(KK), brIf(0), END);
  for (let r = 0; r < GEMM_MR; r++) {
    for (let h = 0; h < 2; h++) emit(get(CP), get(acc(r, h)), store(16 * h));
    emit(get(CP), get(LDC), ADD, set(CP));
  }
  emit(get(J), i32(GEMM_NR), ADD, tee(J), get(N), LT_U, brIf(0), END);
  emit(get(I), i32(GEMM_MR), ADD, tee(I), get(M), LT_U, brIf(0), END);
  return {
    name: mMajor ? "gemm_m" : "gemm",
    params: 10,
    locals: [[6, 0x7f], [3 + 2 * GEMM_MR, 0x7b], [GEMM_MR, 0x7f]],
    code: code.bytes,
  };
}

/**
 * The bytes of a module that imports `env.memory` (shared or not) and exports the GEMM kernels
 * `gemm(a, lda, b, ldb, c, ldc, m, n, k, accumulate)` (A k-major) and `gemm_m(…)` (A m-major), as described
 * in {@link GemmCall}, the Winograd transforms of `wasm_winograd_kernels.ts` and the max-pool gradient of
 * `wasm_pool_kernels.ts`.
 */
export function gemmModuleBytes(sharedMemory: boolean): Uint8Array {
  return kernelModule(
    [gemmKernel(false), gemmKernel(true), ...winogradKernels(), maxPoolGradKernel()],
    sharedMemory,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Threads

/** Control words of the shared control block. */
const SEQ = 0; // job number, bumped by the main thread
const COUNT = 1; // calls in the job (−1: exit)
const SPLIT = 2; // 0: threads take slices of the columns of every product, 1: slices of its rows
const DONE = 3; // DONE + w: the last job worker w finished

/** The kernels a job can call, by index (see `runSlice`). */
const KERNEL_NAMES = [
  "gemm",
  "gemm_m",
  "wino_in",
  "wino_out",
  "wino_dy",
  "wino_filter",
  "wino_grad",
  "maxpool_grad",
  "wino4_in",
  "wino4_out",
  "wino4_filter",
  "wino4_dy",
  "wino4_grad",
];

const WORKER_SOURCE = `import { parentPort } from "node:worker_threads";
parentPort.once("message", ({ module, memory, control, calls, index, threads }) => {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const kernels = ${JSON.stringify(KERNEL_NAMES)}.map((name) => exports[name]);
  const ctrl = new Int32Array(control);
  const list = new Int32Array(calls);
  let seen = Atomics.load(ctrl, ${SEQ});
  parentPort.postMessage("ready");
  for (;;) {
    Atomics.wait(ctrl, ${SEQ}, seen);
    seen = Atomics.load(ctrl, ${SEQ});
    const count = Atomics.load(ctrl, ${COUNT});
    if (count < 0) break;
    runSlice(kernels, list, count, index, threads, Atomics.load(ctrl, ${SPLIT}));
    Atomics.store(ctrl, ${DONE} + index - 1, seen);
    Atomics.notify(ctrl, ${DONE} + index - 1);
  }
});
${runSliceSource()}
`;

function runSliceSource(): string {
  return `function runSlice(kernels, list, count, index, threads, rows) {
  for (let i = 0; i < count; i++) {
    const o = i * ${FIELDS};
    const kind = list[o + 10];
    if (kind === 2) {
      winograd(kernels, list, o, index, threads);
      continue;
    }
    if (kind === 3) {
      winogradGradient(kernels, list, o, index, threads);
      continue;
    }
    if (kind === 4) {
      // Max-pool gradient: threads take slices of the images (fields 0–9 and 11–16; 16 = images).
      const n = list[o + 16];
      const n0 = Math.floor((n * index) / threads);
      const n1 = Math.floor((n * (index + 1)) / threads);
      if (n1 > n0) kernels[7](...list.subarray(o, o + 10), ...list.subarray(o + 11, o + 16), n0, n1);
      continue;
    }
    const tiles = rows ? list[o + 6] / ${GEMM_MR} : list[o + 7] / ${GEMM_NR};
    const t0 = Math.floor((tiles * index) / threads);
    const t1 = Math.floor((tiles * (index + 1)) / threads);
    if (t1 <= t0) continue;
    if (rows) {
      // Rows t0·MR… of C, and of A: a row offset of A is a column offset in k-major layout.
      const r0 = t0 * ${GEMM_MR};
      const aShift = kind ? r0 * list[o + 1] : r0 * 4;
      kernels[kind](list[o] + aShift, list[o + 1], list[o + 2], list[o + 3], list[o + 4] + r0 * list[o + 5],
        list[o + 5], (t1 - t0) * ${GEMM_MR}, list[o + 7], list[o + 8], list[o + 9]);
    } else {
      const shift = t0 * ${GEMM_NR * 4};
      kernels[kind](list[o], list[o + 1], list[o + 2] + shift, list[o + 3], list[o + 4] + shift, list[o + 5],
        list[o + 6], (t1 - t0) * ${GEMM_NR}, list[o + 8], list[o + 9]);
    }
  }
}
function winograd(kernels, list, o, index, threads) {
  const [x, cs, rsIn, tpr, tiles, u, y, co, scratch, stride] = list.subarray(o, o + 10);
  const tb = list[o + 11], ci = list[o + 12], rsOut = list[o + 13], large = list[o + 14];
  // F(2×2, 3×3): 4×4 blocks, 16 products; F(4×4, 3×3): 6×6 blocks, 36 products.
  const [input, output, elements] = large ? [kernels[8], kernels[9], 36] : [kernels[2], kernels[3], 16];
  const blocks = Math.ceil(tiles / tb);
  const b0 = Math.floor((blocks * index) / threads);
  const b1 = Math.floor((blocks * (index + 1)) / threads);
  const v = scratch + index * stride;
  const m = v + elements * tb * cs;
  for (let b = b0; b < b1; b++) {
    const t0 = b * tb;
    const cnt = Math.min(tb, tiles - t0);
    if (cnt <= 0) break;
    input(x, cs, rsIn, tpr, t0, cnt, v, tb * cs);
    const rowsPadded = Math.ceil(cnt / ${GEMM_MR}) * ${GEMM_MR};
    for (let e = 0; e < elements; e++) {
      kernels[1](v + e * tb * cs, cs, u + e * ci * co * 4, co * 4, m + e * tb * co * 4, co * 4, rowsPadded, co, ci, 0);
    }
    output(m, co * 4, rsOut, tpr, t0, cnt, y, tb * co * 4);
  }
}
function winogradGradient(kernels, list, o, index, threads) {
  const [x, ci, stepW, tiles, dy, co, partials, partialStride, scratch, stride] = list.subarray(o, o + 10);
  const tb = list[o + 11], rows = list[o + 12], large = list[o + 13];
  // F(3×3, 2×2): 4×4 x blocks and 2×2 dy tiles, 16 products; F(3×3, 4×4): 6×6 and 4×4, 36 products.
  const [input, gradient, side, elements] = large ? [kernels[8], kernels[11], 4, 36] : [kernels[2], kernels[4], 2, 16];
  const blocks = Math.ceil(tiles / tb);
  const b0 = Math.floor((blocks * index) / threads);
  const b1 = Math.floor((blocks * (index + 1)) / threads);
  const v = scratch + index * stride;
  const w = v + 4 * (elements * tb * ci + rows);
  const part = partials + index * partialStride;
  for (let b = b0; b < b1; b++) {
    const t0 = b * tb;
    const cnt = Math.min(tb, tiles - t0);
    if (cnt <= 0) break;
    input(x, 4 * ci, 4 * ci * stepW, stepW / side, t0, cnt, v, 4 * tb * ci);
    gradient(dy, 4 * co, 4 * co * stepW, stepW / side, t0, cnt, w, 4 * tb * co);
    for (let e = 0; e < elements; e++) {
      kernels[0](v + 4 * e * tb * ci, 4 * ci, w + 4 * e * tb * co, 4 * co, part + 4 * e * rows * co, 4 * co, rows, co, cnt, 1);
    }
  }
}`;
}

// The same slicing on the main thread (kept textually identical to the worker's by construction).
const runSlice = new Function(`${runSliceSource()}\nreturn runSlice;`)() as (
  kernels: GemmFunction[],
  list: Int32Array,
  count: number,
  index: number,
  threads: number,
  rows: number,
) => void;

type GemmFunction = (...args: number[]) => void;

/**
 * A Winograd F(m×m, 3×3) convolution (m = `tile`, 2 or 4) on NHWC grids (`wasm_winograd_kernels.ts`);
 * addresses in bytes. Tile t covers output grid rows m·(t div stepW/m) + 0…m−1 and the same columns mod.
 */
export interface WinogradJob {
  /** The input grid: ci floats per pixel, rows of `stepW` (even) pixels. */
  x: number;
  stepW: number;
  ci: number;
  co: number;
  /** Tiles to compute (from tile 0). */
  tiles: number;
  /** The transformed filter: 16 planes [ci, co] (`winogradFilter`). */
  u: number;
  /** The output grid: co floats per pixel, the same rows as x. */
  y: number;
  /** Scratch of {@link winogradScratchBytes} per thread. */
  scratch: number;
  /** Tiles per block, a multiple of the GEMM's 6-row tile. */
  tileBlock: number;
  /** Output tile side: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3); `stepW` is a multiple of it. */
  tile: 2 | 4;
}

/** Elements of a transformed tile: (tile + 2)². */
export function winogradElements(tile: 2 | 4): number {
  return (tile + 2) ** 2;
}

/** Scratch bytes one thread needs for a {@link WinogradJob}: V and M of one block of tiles. */
export function winogradScratchBytes(tileBlock: number, ci: number, co: number, tile: 2 | 4 = 2): number {
  return winogradElements(tile) * tileBlock * 4 * (ci + co);
}

/**
 * The products of a filter gradient by Winograd's F(3×3, 2×2) on NHWC grids: for every 2×2 tile of the dy
 * grid (tiles as in {@link WinogradJob}), the 4×4 block of the x grid (`wino_in`) times the tile's
 * transformed dy (`wino_dy`), summed over tiles into 16 planes [rows ≥ ci, co] per thread
 * (`winogradFilterGradient` adds the threads' sums and finishes dW). Addresses in bytes.
 */
export interface WinogradGradientJob {
  x: number;
  dy: number;
  /** Pixels per grid row (even), shared by both grids. */
  stepW: number;
  ci: number;
  co: number;
  /** Tiles to add (from tile 0; even). */
  tiles: number;
  /** Rows of each partial plane: ci rounded up to the GEMM's 6-row tile. */
  rows: number;
  /** One partial sum of {@link winogradPartialBytes} per thread; the products are added to them. */
  partials: number;
  /** Scratch of {@link winogradGradientScratchBytes} per thread. */
  scratch: number;
  /** Tiles per block (even). */
  tileBlock: number;
  /** Side of the dy tiles: 2 for F(3×3, 2×2) (16 products per tile), 4 for F(3×3, 4×4) (36). */
  tile: 2 | 4;
}

/** Bytes of one thread's partial sums in a {@link WinogradGradientJob}. */
export function winogradPartialBytes(rows: number, co: number, tile: 2 | 4 = 2): number {
  return winogradElements(tile) * rows * co * 4;
}

/** Scratch bytes one thread needs for a {@link WinogradGradientJob} (with room for the GEMM's row overrun). */
export function winogradGradientScratchBytes(
  tileBlock: number,
  ci: number,
  co: number,
  rows: number,
  tile: 2 | 4 = 2,
): number {
  return 4 * (winogradElements(tile) * tileBlock * (ci + co) + rows);
}

/** A 2-D max-pool gradient over NHWC tensors on the wasm heap (byte addresses); see {@link GemmEngine.maxPoolGrad}. */
export interface MaxPoolGradJob {
  x: number;
  y: number;
  dy: number;
  out: number;
  images: number;
  height: number;
  width: number;
  /** A multiple of 4. */
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/** Calls one batch can hold; longer batches run in several rounds. */
const CAPACITY = 4096;

/** The GEMM bound to one wasm memory, with its worker threads. */
export class GemmEngine {
  private readonly kernels: GemmFunction[];
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (DONE + 8)));
  private readonly calls: Int32Array;
  private readonly workers: Worker[] = [];

  private constructor(memory: WebAssembly.Memory, module: WebAssembly.Module, readonly threads: number) {
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    this.kernels = KERNEL_NAMES.map((name) => exports[name] as GemmFunction);
    this.calls = new Int32Array(
      threads > 1 ? new SharedArrayBuffer(4 * FIELDS * CAPACITY) : new ArrayBuffer(4 * FIELDS * CAPACITY),
    );
  }

  /**
   * An engine on `memory` with `threads` threads (the calling one included; more than one only for a shared
   * memory). Resolves once the workers are running.
   */
  static async create(memory: WebAssembly.Memory, threads: number): Promise<GemmEngine> {
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(gemmModuleBytes(shared) as BufferSource);
    const engine = new GemmEngine(memory, module, shared ? Math.max(1, Math.min(8, threads)) : 1);
    const url = new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`);
    const ready: Promise<void>[] = [];
    for (let index = 1; index < engine.threads; index++) {
      const worker = new Worker(url);
      engine.workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
        }),
      );
      worker.postMessage({
        module,
        memory,
        control: engine.control.buffer,
        calls: engine.calls.buffer,
        index,
        threads: engine.threads,
      });
    }
    await Promise.all(ready);
    for (const worker of engine.workers) worker.unref();
    return engine;
  }

  /**
   * Run a batch of products. Each thread takes a slice of the columns (`split` "columns", the default) or of
   * the rows ("rows") of every product, in order, so products that accumulate into the same C stay ordered.
   */
  run(calls: GemmCall[], split: "columns" | "rows" = "columns"): void {
    for (let start = 0; start < calls.length; start += CAPACITY) {
      const count = Math.min(CAPACITY, calls.length - start);
      for (let i = 0; i < count; i++) {
        const call = calls[start + i];
        if (call.m % GEMM_MR !== 0 || call.n % GEMM_NR !== 0 || call.k % GEMM_KU !== 0 || call.k <= 0) {
          throw new Error(
            `GEMM shape ${call.m}×${call.n}×${call.k} is not a multiple of ${GEMM_MR}×${GEMM_NR}×${GEMM_KU}`,
          );
        }
        this.calls.set([
          call.a,
          call.lda,
          call.b,
          call.ldb,
          call.c,
          call.ldc,
          call.m,
          call.n,
          call.k,
          call.accumulate ? 1 : 0,
          call.layout === "m-major" ? 1 : 0,
        ], i * FIELDS);
      }
      this.round(count, split === "rows" ? 1 : 0);
    }
  }

  /**
   * One Winograd F(2×2, 3×3) convolution of a grid (see {@link WinogradJob}): threads take blocks of tiles
   * and run, per block, the input transform, the 16 products and the output transform.
   */
  runWinograd(job: WinogradJob): void {
    if (job.ci % 4 !== 0 || job.co % GEMM_NR !== 0 || job.tileBlock % GEMM_MR !== 0) {
      throw new Error(`Winograd job with ${job.ci}→${job.co} channels and ${job.tileBlock}-tile blocks`);
    }
    const large = job.tile === 4;
    this.calls.set([
      job.x,
      4 * job.ci,
      4 * job.ci * job.stepW,
      job.stepW / job.tile,
      job.tiles,
      job.u,
      job.y,
      job.co,
      job.scratch,
      winogradScratchBytes(job.tileBlock, job.ci, job.co, job.tile),
      2,
      job.tileBlock,
      job.ci,
      4 * job.co * job.stepW,
      large ? 1 : 0,
    ], 0);
    this.round(1, 0);
  }

  /**
   * The F(3×3, 2×2) products of a filter gradient (see {@link WinogradGradientJob}), added to each thread's
   * partial sums: threads take blocks of tiles.
   */
  runWinogradGradient(job: WinogradGradientJob): void {
    if (job.ci % 4 !== 0 || job.co % GEMM_NR !== 0 || job.rows % GEMM_MR !== 0 || job.tileBlock % GEMM_KU) {
      throw new Error(
        `Winograd gradient job with ${job.ci}→${job.co} channels, ${job.tileBlock}-tile blocks`,
      );
    }
    if (job.tiles % GEMM_KU !== 0) throw new Error(`Winograd gradient job with ${job.tiles} tiles (odd)`);
    this.calls.set([
      job.x,
      job.ci,
      job.stepW,
      job.tiles,
      job.dy,
      job.co,
      job.partials,
      winogradPartialBytes(job.rows, job.co, job.tile),
      job.scratch,
      winogradGradientScratchBytes(job.tileBlock, job.ci, job.co, job.rows, job.tile),
      3,
      job.tileBlock,
      job.rows,
      job.tile === 4 ? 1 : 0,
    ], 0);
    this.round(1, 0);
  }

  /**
   * U = G·g·Gᵀ of a 3×3 filter [3, 3, ci, co] at `g` into 16 (F(2×2, 3×3)) or 36 (F(4×4, 3×3)) planes
   * [ci, co] at `u` (byte addresses), on the calling thread. ci·co must be a multiple of 4.
   */
  winogradFilter(g: number, u: number, ci: number, co: number, tile: 2 | 4 = 2): void {
    if ((ci * co) % 4 !== 0) throw new Error(`Winograd filter with ${ci}×${co} channels`);
    this.kernels[tile === 4 ? 10 : 5](g, u, 4 * ci * co);
  }

  /**
   * dW [3, 3, ci, co] at `out` from the partial sums of a {@link WinogradGradientJob} (one per thread, at
   * `partials`), on the calling thread.
   */
  winogradFilterGradient(
    partials: number,
    rows: number,
    ci: number,
    co: number,
    out: number,
    tile: 2 | 4 = 2,
  ): void {
    const plane = 4 * rows * co;
    const kernel = this.kernels[tile === 4 ? 12 : 6];
    kernel(partials, winogradPartialBytes(rows, co, tile), this.threads, plane, 4 * ci * co, out);
  }

  /**
   * Add every dy of a 2-D max-pool to `out` (zeroed by the caller) at the first maximum of its window (see
   * `wasm_pool_kernels.ts`); threads take slices of the images.
   */
  maxPoolGrad(job: MaxPoolGradJob): void {
    if (job.channels % 4 !== 0) throw new Error(`max-pool gradient with ${job.channels} channels`);
    this.calls.set([
      job.x,
      job.y,
      job.dy,
      job.out,
      4 * job.channels,
      job.height,
      job.width,
      job.outHeight,
      job.outWidth,
      job.filterHeight,
      4,
      job.filterWidth,
      job.strideHeight,
      job.strideWidth,
      job.top,
      job.left,
      job.images,
    ], 0);
    this.round(1, 0);
  }

  private round(count: number, rows: number): void {
    if (this.threads === 1) {
      runSlice(this.kernels, this.calls, count, 0, 1, rows);
      return;
    }
    Atomics.store(this.control, COUNT, count);
    Atomics.store(this.control, SPLIT, rows);
    const seq = Atomics.add(this.control, SEQ, 1) + 1;
    Atomics.notify(this.control, SEQ);
    runSlice(this.kernels, this.calls, count, 0, this.threads, rows);
    for (let w = 0; w < this.workers.length; w++) {
      for (;;) {
        const done = Atomics.load(this.control, DONE + w);
        if (done === seq) break;
        Atomics.wait(this.control, DONE + w, done);
      }
    }
  }

  /** Stop the worker threads. */
  dispose(): void {
    if (this.workers.length === 0) return;
    Atomics.store(this.control, COUNT, -1);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    for (const worker of this.workers) worker.terminate();
    this.workers.length = 0;
  }
}

/**
 * A {@link GemmEngine} on `memory`, or null where the runtime lacks relaxed SIMD or the module does not
 * instantiate (the callers then use XNNPACK).
 */
export async function createGemmEngine(
  memory: WebAssembly.Memory,
  threads: number,
): Promise<GemmEngine | null> {
  if (!relaxedSimdSupported()) return null;
  try {
    return await GemmEngine.create(memory, threads);
  } catch {
    return null;
  }
}
