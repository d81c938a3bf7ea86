/**
 * Starting the TensorFlow.js wasm backend (XNNPACK) with the kernels our training step needs.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";

/** Start the wasm backend and return a description of it (SIMD, threads). */
export async function startWasmBackend(): Promise<string> {
  if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
  await tf.ready();
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
  return `XNNPACK, SIMD ${simd ? "on" : "off"}, ${threads ? "multi-threaded" : "1 thread"}`;
}
