/**
 * Starting the TensorFlow.js wasm backend (XNNPACK, SIMD) ready for training: multi-threaded where the
 * threaded binary starts (see `wasm_threads.ts`), with the backward-pass kernels of `wasm_training_kernels.ts`
 * and the memory-lean backward pass of `lean_backprop.ts` (the wasm heap cannot grow beyond 4 GiB, and a
 * 256² ResNet step with tfjs' own backward pass came close). Where the runtime has relaxed SIMD, XNNPACK's
 * multiply-adds are fused (`wasm_fma.ts`) and stride-1 convolutions, their input gradients and filter
 * gradients run on our own threaded GEMM (`wasm_gemm.ts`, `wasm_conv_gemm.ts`; 3×3 ones by Winograd).
 *
 * Environment: `SSPCAB_WASM_THREADS` sets the thread count (default: the machine's logical cores, at most 8;
 * 1 disables); `SSPCAB_WASM_FMA=0`, `SSPCAB_WASM_GEMM=0` and `SSPCAB_WASM_WINOGRAD=0` turn those parts off
 * (for comparisons; results agree to float32 rounding either way).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import "./gradients.ts";
import { registerWasmTrainingKernels, useWasmGemm } from "./wasm_training_kernels.ts";
import { createGemmEngine } from "./wasm_gemm.ts";
import { useWinograd } from "./wasm_conv_gemm.ts";
import { enableWasmThreads, wasmThreadsCount } from "./wasm_threads.ts";
import { installLeanBackprop } from "./lean_backprop.ts";
import { type FmaOutcome, withFusedMultiplyAdds } from "./wasm_fma.ts";

/** What the first start of the backend did about fused multiply-adds (see `wasm_fma.ts`). */
let fmaOutcome: FmaOutcome | null = null;

/** What runs on our own GEMM, for the backend description (see {@link startGemm}). */
let gemmNote = "";

interface WasmModuleMemory {
  wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
}

/**
 * Give the convolution kernels our own GEMM (`wasm_gemm.ts`) on the backend's memory, with as many threads
 * as XNNPACK has (an engine of an earlier start of the backend is stopped). Returns the description's note.
 */
async function startGemm(threads: number): Promise<string> {
  useWasmGemm(null)?.dispose();
  if ((Deno.env.get("SSPCAB_WASM_GEMM") ?? "1") === "0") return "";
  const module = (tf.backend() as unknown as WasmModuleMemory).wasm;
  const memory = module?.wasmMemory ?? module?.asm?.memory;
  if (!memory) return "";
  const engine = await createGemmEngine(memory, threads);
  useWasmGemm(engine);
  if (!engine) return "";
  const winograd = (Deno.env.get("SSPCAB_WASM_WINOGRAD") ?? "1") !== "0";
  useWinograd(winograd);
  return winograd ? ", own GEMM + Winograd" : ", own GEMM";
}

/** Start the wasm backend and return a description of it (SIMD, threads). */
export async function startWasmBackend(): Promise<string> {
  const wanted = Number(Deno.env.get("SSPCAB_WASM_THREADS") ?? navigator.hardwareConcurrency ?? 1);
  // Threads are chosen when the wasm runtime first starts; switching back to a running wasm backend keeps them.
  const alreadyStarted = tf.findBackend("wasm") != null;
  // The binary is compiled once, while the backend initialises: that is when its multiply-adds are fused.
  const { result: threads, fma } = await withFusedMultiplyAdds(async () => {
    const threads = alreadyStarted
      ? wasmThreadsCount()
      : Number.isFinite(wanted) && wanted > 1
      ? await enableWasmThreads(wanted)
      : 1;
    registerWasmTrainingKernels();
    installLeanBackprop();
    if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
    await tf.ready();
    return threads;
  });
  if (!alreadyStarted) {
    fmaOutcome = fma;
    gemmNote = await startGemm(threads);
  }
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const running = threads > 1 ? wasmThreadsCount() : 1;
  const fmaNote = fmaOutcome == null
    ? ""
    : fmaOutcome.fused > 0
    ? ", FMA"
    : `, no FMA (${fmaOutcome.reason})`;
  return `XNNPACK, SIMD ${simd ? "on" : "off"}${fmaNote}${gemmNote}, ${running} thread${
    running > 1 ? "s" : ""
  }`;
}
