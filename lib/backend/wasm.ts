/**
 * Starting the TensorFlow.js wasm backend (XNNPACK, SIMD) ready for training: multi-threaded where the
 * threaded binary starts (see `wasm_threads.ts`), with the backward-pass kernels of `wasm_training_kernels.ts`
 * and the memory-lean backward pass of `lean_backprop.ts` (the wasm heap cannot grow beyond 4 GiB, and a
 * 256² ResNet step with tfjs' own backward pass came close). `SSPCAB_WASM_THREADS` sets the thread count
 * (default: the machine's logical cores, at most 8; 1 disables).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import "./gradients.ts";
import { registerWasmTrainingKernels } from "./wasm_training_kernels.ts";
import { enableWasmThreads, wasmThreadsCount } from "./wasm_threads.ts";
import { installLeanBackprop } from "./lean_backprop.ts";

/** Start the wasm backend and return a description of it (SIMD, threads). */
export async function startWasmBackend(): Promise<string> {
  const wanted = Number(Deno.env.get("SSPCAB_WASM_THREADS") ?? navigator.hardwareConcurrency ?? 1);
  // Threads are chosen when the wasm runtime first starts; switching back to a running wasm backend keeps them.
  const alreadyStarted = tf.findBackend("wasm") != null;
  const threads = alreadyStarted
    ? wasmThreadsCount()
    : Number.isFinite(wanted) && wanted > 1
    ? await enableWasmThreads(wanted)
    : 1;
  registerWasmTrainingKernels();
  installLeanBackprop();
  if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
  await tf.ready();
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const running = threads > 1 ? wasmThreadsCount() : 1;
  return `XNNPACK, SIMD ${simd ? "on" : "off"}, ${running} thread${running > 1 ? "s" : ""}, training kernels`;
}
