/**
 * The TensorFlow.js version our patches were written for. The wasm kernels, the threaded start, the fused
 * multiply-adds and the lean backward pass reach into internals of `@tensorflow/tfjs-core` and
 * `@tensorflow/tfjs-backend-wasm` 4.22 (the engine's tape walk, the wasm backend's tensor map, the emscripten
 * glue and binaries); another version may lay them out differently, so they are applied only where both
 * packages are 4.22.x, and the stock kernels run otherwise.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { version_wasm } from "@tensorflow/tfjs-backend-wasm";

/** The `major.minor` of tfjs our patches were written for. */
export const PATCHED_TFJS = "4.22";

/** The versions of the tfjs packages we patch. */
export interface TfjsVersions {
  /** `@tensorflow/tfjs-core`. */
  core: string;
  /** `@tensorflow/tfjs-backend-wasm`. */
  wasm: string;
}

/** The versions loaded in this process. */
export function loadedTfjsVersions(): TfjsVersions {
  return { core: tf.version_core, wasm: version_wasm };
}

/** Whether `version` is a {@link PATCHED_TFJS}.x release (`4.22.0`, `4.22.1-rc.0`, …). */
export function isPatchedTfjs(version: string): boolean {
  const [major, minor] = version.trim().split(".");
  return `${major}.${minor}` === PATCHED_TFJS;
}

/**
 * Null where our patches fit `versions`; else the one notice line to print, naming the version found, e.g.
 * `note: tfjs 4.23.0 is not the 4.22 our wasm kernels were written for; using the stock kernels`.
 */
export function tfjsMismatchNotice(versions: TfjsVersions): string | null {
  const off = !isPatchedTfjs(versions.core)
    ? `tfjs ${versions.core}`
    : !isPatchedTfjs(versions.wasm)
    ? `tfjs-backend-wasm ${versions.wasm}`
    : null;
  if (off == null) return null;
  return `note: ${off} is not the ${PATCHED_TFJS} our wasm kernels were written for; using the stock kernels ` +
    `(wasm cannot train then)`;
}
