/**
 * The benchmark's wasm options from the environment, so that `deno task bench:wasm-parts` (which times the
 * wasm backend with `SSPCAB_WASM_FMA=0`, `SSPCAB_WASM_GEMM=0`, `SSPCAB_WASM_WINOGRAD=0`) and
 * `SSPCAB_WASM_THREADS=N` keep working now that the backend takes options instead of reading the
 * environment. Temporary: the shared reading of the environment is to replace it.
 * @module
 */
import {
  type BackendInfo,
  type BackendOptions,
  describeBackend,
  initBackend,
  parseBackendChoice,
} from "../backend/mod.ts";

/**
 * `{ wasm: { fma, gemm, winograd, threads } }` from `SSPCAB_WASM_FMA`, `SSPCAB_WASM_GEMM`,
 * `SSPCAB_WASM_WINOGRAD` (`0` turns the part off; anything else or unset leaves it on) and
 * `SSPCAB_WASM_THREADS` (a number; unset: the default).
 */
export function benchBackendOptions(
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
): BackendOptions {
  const on = (name: string) => (get(name) ?? "1") !== "0";
  const threads = get("SSPCAB_WASM_THREADS");
  return {
    wasm: {
      fma: on("SSPCAB_WASM_FMA"),
      gemm: on("SSPCAB_WASM_GEMM"),
      winograd: on("SSPCAB_WASM_WINOGRAD"),
      ...(threads === undefined ? {} : { threads: Number(threads) }),
    },
  };
}

/** Start the chosen backend with {@link benchBackendOptions} and log which one is used (as `startBackend`). */
export async function startBenchBackend(
  choice: unknown,
  log: (line: string) => void = console.log,
): Promise<BackendInfo> {
  const info = await initBackend(parseBackendChoice(String(choice ?? "auto")), benchBackendOptions());
  log(describeBackend(info));
  return info;
}
