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

const FIELDS = 11;

// ---------------------------------------------------------------------------------------------------------
// The kernel, as WebAssembly bytes.

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/**
 * The code of one kernel: `mMajor` false reads A k-major (one pointer, six broadcasts at immediate offsets),
 * true reads A m-major (six row pointers, one broadcast each per k).
 */
function kernelBody(mMajor: boolean): number[] {
  // Parameters 0–9, then locals.
  const [A, LDA, B, LDB, C, LDC, M, N, K, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [I, J, KK, AP, BP, CP] = [10, 11, 12, 13, 14, 15];
  const [S, B0, B1] = [16, 17, 18];
  const acc = (r: number, h: number) => 19 + 2 * r + h;
  const rowPtr = (r: number) => 19 + 2 * GEMM_MR + r; // m-major: the six row pointers of A
  const get = (l: number) => [0x20, ...uleb(l)];
  const set = (l: number) => [0x21, ...uleb(l)];
  const tee = (l: number) => [0x22, ...uleb(l)];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const [ADD, MUL, SHL, LT_U] = [0x6a, 0x6c, 0x74, 0x49];
  const SUB = 0x6b;
  const memarg = (offset: number) => [2, ...uleb(offset)]; // 4-byte alignment hint
  const load = (offset: number) => [0xfd, 0x00, ...memarg(offset)];
  const splat = (offset: number) => [0xfd, 0x09, ...memarg(offset)];
  const store = (offset: number) => [0xfd, 0x0b, ...memarg(offset)];
  const zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
  const madd = [0xfd, 0x85, 0x02];
  const LOOP = [0x03, 0x40];
  const END = 0x0b;
  const brIf = (depth: number) => [0x0d, ...uleb(depth)];

  const code: number[] = [];
  const emit = (...parts: (number | number[])[]) => {
    for (const p of parts) typeof p === "number" ? code.push(p) : code.push(...p);
  };
  emit(i32(0), set(I), LOOP); // over row tiles
  emit(i32(0), set(J), LOOP); // over column tiles
  // cp = c + i·ldc + 4j
  emit(get(C), get(I), get(LDC), MUL, ADD, get(J), i32(2), SHL, ADD, set(CP));
  emit(get(ACC), [0x04, 0x40]);
  for (let r = 0; r < GEMM_MR; r++) {
    for (let h = 0; h < 2; h++) emit(get(CP), get(LDC), i32(r), MUL, ADD, load(16 * h), set(acc(r, h)));
  }
  emit(0x05);
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
  emit(END);

  const locals = [3, ...uleb(6), 0x7f, ...uleb(3 + 2 * GEMM_MR), 0x7b, ...uleb(GEMM_MR), 0x7f];
  return [...locals, ...code];
}

/**
 * The bytes of a module that imports `env.memory` (shared or not) and exports two kernels,
 * `gemm(a, lda, b, ldb, c, ldc, m, n, k, accumulate)` (A k-major) and `gemm_m(…)` (A m-major), as described
 * in {@link GemmCall}.
 */
export function gemmModuleBytes(sharedMemory: boolean): Uint8Array {
  const bodies = [kernelBody(false), kernelBody(true)];
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 10, ...new Array(10).fill(0x7f), 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, ...limits]),
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...name("gemm"), 0x00, 0, ...name("gemm_m"), 0x00, 1]),
    ...section(10, [2, ...bodies.flatMap((body) => [...uleb(body.length), ...body])]),
  ]);
}

// ---------------------------------------------------------------------------------------------------------
// Threads

/** Control words of the shared control block. */
const SEQ = 0; // job number, bumped by the main thread
const COUNT = 1; // calls in the job (−1: exit)
const SPLIT = 2; // 0: threads take slices of the columns of every product, 1: slices of its rows
const DONE = 3; // DONE + w: the last job worker w finished

const WORKER_SOURCE = `import { parentPort } from "node:worker_threads";
parentPort.once("message", ({ module, memory, control, calls, index, threads }) => {
  const { gemm, gemm_m } = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const kernels = [gemm, gemm_m];
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
    const mMajor = list[o + 10];
    const tiles = rows ? list[o + 6] / ${GEMM_MR} : list[o + 7] / ${GEMM_NR};
    const t0 = Math.floor((tiles * index) / threads);
    const t1 = Math.floor((tiles * (index + 1)) / threads);
    if (t1 <= t0) continue;
    if (rows) {
      // Rows t0·MR… of C, and of A: a row offset of A is a column offset in k-major layout.
      const r0 = t0 * ${GEMM_MR};
      const aShift = mMajor ? r0 * list[o + 1] : r0 * 4;
      kernels[mMajor](list[o] + aShift, list[o + 1], list[o + 2], list[o + 3], list[o + 4] + r0 * list[o + 5],
        list[o + 5], (t1 - t0) * ${GEMM_MR}, list[o + 7], list[o + 8], list[o + 9]);
    } else {
      const shift = t0 * ${GEMM_NR * 4};
      kernels[mMajor](list[o], list[o + 1], list[o + 2] + shift, list[o + 3], list[o + 4] + shift, list[o + 5],
        list[o + 6], (t1 - t0) * ${GEMM_NR}, list[o + 8], list[o + 9]);
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
    this.kernels = [exports.gemm as GemmFunction, exports.gemm_m as GemmFunction];
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
