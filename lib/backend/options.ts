/**
 * The options of {@link initBackend}: what the wasm backend switches on and how many threads it runs.
 * Nothing here reads the environment; a command that takes these from environment variables does so
 * itself and passes the result in.
 * @module
 */

/** The most XNNPACK (and GEMM) threads the wasm backend starts. */
export const MAX_WASM_THREADS = 8;

/** Options of the wasm backend (each part on by default; see `lib/backend/wasm.ts`). */
export interface WasmBackendOptions {
  /** Fuse XNNPACK's multiply-adds where the runtime has relaxed SIMD (`wasm_fma.ts`). Default on. */
  fma?: boolean;
  /** Run convolutions, their gradients and max-pool gradients on our own GEMM (`wasm_gemm.ts`). Default on. */
  gemm?: boolean;
  /** With `gemm`: 3×3 stride-1 convolutions and their filter gradients by Winograd. Default on. */
  winograd?: boolean;
  /**
   * With `gemm`: convolutions on small maps (layer4 of a 64² image, strided ones up to 8×8 outputs) and their
   * filter gradients as one im2col product where that costs less (`wasm_conv_im2col.ts`). Default on.
   */
  im2col?: boolean;
  /** XNNPACK threads: default the machine's logical cores, at most {@link MAX_WASM_THREADS}; 1 disables. */
  threads?: number;
}

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** The wasm backend's parts and threads. */
  wasm?: WasmBackendOptions;
}

/** {@link WasmBackendOptions} with every default filled in. */
export type ResolvedWasmOptions = Required<WasmBackendOptions>;

/**
 * Fill in the defaults: every part on, threads = the logical cores (at most {@link MAX_WASM_THREADS}).
 * A thread count is made whole and kept within 1 … {@link MAX_WASM_THREADS}; one that is not a finite
 * number means 1 (no threads), as does a count below 2.
 */
export function resolveWasmOptions(
  options: WasmBackendOptions = {},
  cores: number = navigator.hardwareConcurrency ?? 1,
): ResolvedWasmOptions {
  const wanted = options.threads ?? cores;
  const threads = Number.isFinite(wanted) ? Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(wanted))) : 1;
  return {
    fma: options.fma ?? true,
    gemm: options.gemm ?? true,
    winograd: options.winograd ?? true,
    im2col: options.im2col ?? true,
    threads,
  };
}
