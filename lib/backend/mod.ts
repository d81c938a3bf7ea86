/**
 * The compute backend as a unit: choosing and starting a TensorFlow.js backend (`select.ts`), the options
 * of the wasm backend (`options.ts`), and the tfjs version our wasm patches were written for
 * (`tfjs_version.ts`). The wasm kernels (`kernels/`), our GEMM and the other internals stay behind this face.
 *
 * @example Start the plain JavaScript backend and say which one runs
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeBackend, initBackend } from "./mod.ts";
 * const info = await initBackend("cpu");
 * assert.equal(info.name, "cpu");
 * console.log(describeBackend(info));
 * ```
 * @module
 */
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  initBackend,
  parseBackendChoice,
} from "./select.ts";
export {
  type BackendOptions,
  MAX_WASM_THREADS,
  type ResolvedWasmOptions,
  resolveWasmOptions,
  type WasmBackendOptions,
} from "./options.ts";
export { PATCHED_TFJS } from "./tfjs_version.ts";
