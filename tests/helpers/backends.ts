/**
 * Which tfjs backends this machine offers for tests: always `cpu` and `wasm`; `webgpu` when Deno finds an
 * adapter (a software one included). `SSPCAB_TEST_BACKENDS=cpu,wasm` narrows the list.
 * @module
 */
import { quietGpuProbe } from "../../lib/backend/webgpu_probe.ts";

/** Backend names to run backend-parametrised tests on. */
export async function availableBackends(): Promise<string[]> {
  const names = ["cpu", "wasm"];
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu;
  if (gpu) quietGpuProbe();
  if (gpu && (await gpu.requestAdapter().catch(() => null))) names.push("webgpu");
  const only = Deno.env.get("SSPCAB_TEST_BACKENDS");
  return only ? names.filter((n) => only.split(",").map((s) => s.trim()).includes(n)) : names;
}
