/**
 * Starting the TensorFlow.js wasm backend (XNNPACK, SIMD) ready for training: multi-threaded where the
 * threaded binary starts (see `wasm_threads.ts`), with the backward-pass kernels of `kernels/` and the
 * memory-lean backward pass of `lean_backprop.ts` (the wasm heap cannot grow beyond 4 GiB, and a 256² ResNet
 * step with tfjs' own backward pass came close). Where the runtime has relaxed SIMD, XNNPACK's multiply-adds
 * are fused (`wasm_fma.ts`) and stride-1 convolutions, their input gradients and filter gradients run on our
 * own threaded GEMM (`wasm_gemm.ts`, `wasm_conv_gemm.ts`; 3×3 ones by Winograd).
 *
 * The options (`options.ts`) say which parts run and how many threads; results agree to float32 rounding
 * either way. Threads and fused multiply-adds are fixed when the wasm runtime first starts (once per process);
 * a later start with other `gemm`/`winograd` options switches those on the running backend.
 *
 * All of it patches tfjs internals, so it is only applied to the tfjs version it was written for
 * (`tfjs_version.ts`); with another, the stock wasm backend starts, after one notice line.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import "./gradients.ts";
import { registerWasmTrainingKernels, type WasmTrainingKernels } from "./kernels/register.ts";
import { createGemmEngine, type GemmEngine } from "./wasm_gemm.ts";
import { enableWasmThreads, wasmThreadsCount } from "./wasm_threads.ts";
import { installLeanBackprop } from "./lean_backprop.ts";
import { type FmaOutcome, withFusedMultiplyAdds } from "./wasm_fma.ts";
import { type ResolvedWasmOptions, resolveWasmOptions, type WasmBackendOptions } from "./options.ts";
import { loadedTfjsVersions, tfjsMismatchNotice, type TfjsVersions } from "./tfjs_version.ts";

/** What {@link startWasmBackend} started: the description and whether it can train. */
export interface WasmStart {
  /** A human description (SIMD, FMA, our GEMM, threads). */
  device: string;
  /** False when the stock kernels run (they lack `Conv2DBackpropFilter`). */
  canTrain: boolean;
}

/** Stand-ins for tests: the tfjs versions to check, and where the notice line goes. */
export interface WasmStartHooks {
  /** Versions to check instead of the loaded ones. */
  versions?: Partial<TfjsVersions>;
  /** Where the version notice goes (default: stderr). */
  notice?: (line: string) => void;
}

interface WasmModuleMemory {
  wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
}

/** The state of a started wasm backend: what its first start fixed, and the parts now running. */
class WasmRuntime {
  /** Our GEMM on the backend's memory, made on first need (null: not made, or no relaxed SIMD). */
  #engine: GemmEngine | null = null;
  /** The registration of our kernels (null before {@link patch}, or with the stock kernels). */
  #kernels: WasmTrainingKernels | null = null;

  constructor(
    /** XNNPACK threads of the running binary. */
    readonly threads: number,
    /** What the first start did about fused multiply-adds (null: the runtime was started elsewhere). */
    readonly fma: FmaOutcome | null,
    /** Whether our patches apply (false: the stock kernels run, after a version mismatch). */
    readonly patched: boolean,
    /** Whether our GEMM may run (false where the runtime was started elsewhere, as before). */
    readonly gemmAllowed: boolean,
  ) {}

  /** Register our kernels and the lean backward pass again where something took them away (idempotent). */
  patch(): void {
    if (!this.patched) return;
    this.#kernels = registerWasmTrainingKernels();
    installLeanBackprop();
  }

  /** Switch our GEMM and Winograd on or off as `options` say (the engine is made once, on first need). */
  async apply(options: ResolvedWasmOptions): Promise<void> {
    if (!this.#kernels) return;
    const gemm = options.gemm && this.gemmAllowed;
    if (gemm && !this.#engine) {
      const module = (tf.backend() as unknown as WasmModuleMemory).wasm;
      const memory = module?.wasmMemory ?? module?.asm?.memory;
      if (memory) this.#engine = await createGemmEngine(memory, this.threads);
    }
    this.#kernels.configure({
      engine: gemm ? this.#engine : null,
      winograd: options.winograd,
      im2col: options.im2col,
    });
  }

  /** The description, e.g. `XNNPACK, SIMD on, FMA, own GEMM + Winograd, 2 threads`. */
  describe(simd: boolean): string {
    const running = this.threads > 1 ? wasmThreadsCount() : 1;
    const fmaNote = this.fma == null ? "" : this.fma.fused > 0 ? ", FMA" : `, no FMA (${this.fma.reason})`;
    const settings = this.#kernels?.settings;
    const gemmNote = !this.patched
      ? ", stock kernels"
      : settings?.engine
      ? settings.winograd ? ", own GEMM + Winograd" : ", own GEMM"
      : "";
    return `XNNPACK, SIMD ${simd ? "on" : "off"}${fmaNote}${gemmNote}, ${running} thread${
      running > 1 ? "s" : ""
    }`;
  }
}

/** The runtime of each started tfjs wasm backend instance (one per process in practice). */
const runtimes = new WeakMap<object, WasmRuntime>();

async function setWasm(): Promise<void> {
  if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
  await tf.ready();
}

/** First start of the wasm runtime: threads, fused multiply-adds, our kernels — or, on a mismatch, stock. */
async function firstStart(options: ResolvedWasmOptions, hooks: WasmStartHooks): Promise<WasmRuntime> {
  const notice = tfjsMismatchNotice({ ...loadedTfjsVersions(), ...hooks.versions });
  if (notice) {
    (hooks.notice ?? console.error)(notice);
    await setWasm();
    return new WasmRuntime(1, null, false, false);
  }
  // Threads are chosen when the wasm runtime first starts; one started elsewhere keeps its own.
  if (tf.findBackend("wasm") != null) {
    const runtime = new WasmRuntime(wasmThreadsCount(), null, true, false);
    runtime.patch();
    await setWasm();
    return runtime;
  }
  // The binary is compiled once, while the backend initialises: that is when its multiply-adds are fused.
  const { result: threads, fma } = await withFusedMultiplyAdds(async () => {
    const threads = options.threads > 1 ? await enableWasmThreads(options.threads) : 1;
    registerWasmTrainingKernels();
    installLeanBackprop();
    await setWasm();
    return threads;
  }, options.fma);
  const runtime = new WasmRuntime(threads, fma, true, true);
  runtime.patch();
  return runtime;
}

/**
 * Start (or switch back to) the wasm backend with `options` and describe it. Threads and fused
 * multiply-adds are those of the first start in this process.
 */
export async function startWasmBackend(
  options: WasmBackendOptions = {},
  hooks: WasmStartHooks = {},
): Promise<WasmStart> {
  const resolved = resolveWasmOptions(options);
  const started = tf.findBackend("wasm");
  let runtime = started ? runtimes.get(started) : undefined;
  if (!runtime) {
    runtime = await firstStart(resolved, hooks);
    runtimes.set(tf.findBackend("wasm")!, runtime);
  } else {
    runtime.patch();
    await setWasm();
  }
  await runtime.apply(resolved);
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return { device: runtime.describe(Boolean(simd)), canTrain: runtime.patched };
}
