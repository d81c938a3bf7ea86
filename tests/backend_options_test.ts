/**
 * The backend's options (`lib/backend/options.ts`) and how they reach the running wasm backend: defaults
 * (every part on, one thread per logical core up to 8), clamping, the switches landing in the kernel registration's settings (no module-level
 * switch), and no setting read from the environment anywhere under `lib/backend/` (the one environment access
 * left is the WebGPU probe's `XDG_RUNTIME_DIR` workaround, `webgpu_probe.ts`).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeBackend, initBackend, MAX_WASM_THREADS, resolveWasmOptions } from "../lib/backend/mod.ts";
import { wasmTrainingKernels } from "../lib/backend/kernels/register.ts";
import { relaxedSimdSupported } from "../lib/backend/wasm_fma.ts";

Deno.test("backend options: defaults are all parts on and the logical cores, capped", () => {
  assertEquals(resolveWasmOptions({}, 2), {
    fma: true,
    gemm: true,
    winograd: true,
    im2col: true,
    threads: 2,
  });
  assertEquals(resolveWasmOptions({}, 64).threads, MAX_WASM_THREADS);
  assertEquals(resolveWasmOptions(undefined, 1).threads, 1);
  assertEquals(
    resolveWasmOptions({ fma: false, gemm: false, winograd: false, im2col: false, threads: 3 }, 2),
    {
      fma: false,
      gemm: false,
      winograd: false,
      im2col: false,
      threads: 3,
    },
  );
  assertEquals(resolveWasmOptions({ threads: 2.7 }, 4).threads, 2);
  assertEquals(resolveWasmOptions({ threads: 0 }, 4).threads, 1);
  assertEquals(resolveWasmOptions({ threads: 99 }, 4).threads, MAX_WASM_THREADS);
  assertEquals(resolveWasmOptions({ threads: NaN }, 4).threads, 1);
});

Deno.test("backend options: gemm and winograd switch the running wasm backend's kernel settings", async () => {
  const off = await initBackend("wasm", { wasm: { gemm: false, threads: 1 } });
  assertEquals(off.name, "wasm");
  assert(off.canTrain);
  assert(!off.device.includes("GEMM"), off.device);
  assertEquals(wasmTrainingKernels()?.settings.engine, null);
  assert(describeBackend(off).startsWith("backend: wasm — XNNPACK"));
  // The same options again: the cached result.
  assert((await initBackend("wasm", { wasm: { gemm: false, threads: 1 } })) === off);
  if (!relaxedSimdSupported()) return; // no engine without relaxed SIMD: XNNPACK only (checked above)
  const on = await initBackend("wasm", { wasm: { threads: 1 } });
  assertStringIncludes(on.device, "own GEMM + Winograd");
  assert(wasmTrainingKernels()?.settings.engine != null);
  assertEquals(wasmTrainingKernels()?.settings.winograd, true);
  const noWinograd = await initBackend("wasm", { wasm: { winograd: false, threads: 1 } });
  assertStringIncludes(noWinograd.device, "own GEMM,");
  assertEquals(wasmTrainingKernels()?.settings.winograd, false);
  assertEquals(wasmTrainingKernels()?.settings.im2col, true);
  await initBackend("wasm", { wasm: { im2col: false, threads: 1 } });
  assertEquals(wasmTrainingKernels()?.settings.im2col, false);
  await initBackend("wasm", { wasm: { threads: 1 } });
  assertEquals(wasmTrainingKernels()?.settings.im2col, true);
  // Threads were fixed by the first start (1), whatever a later call asks for.
  assertStringIncludes((await initBackend("wasm", { wasm: { threads: 4 } })).device, "1 thread");
  await tf.setBackend("cpu");
});

Deno.test("backend options: no setting under lib/backend comes from the environment", async () => {
  const root = fileURLToPath(new URL("../lib/backend/", import.meta.url));
  const offenders: string[] = [];
  let files = 0;
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        files++;
        const text = await Deno.readTextFile(path);
        const name = path.slice(root.length);
        if (/SSPCAB_/.test(text) || (/Deno\.env/.test(text) && name !== "webgpu_probe.ts")) {
          offenders.push(name);
        }
      }
    }
  };
  await walk(root);
  assert(files > 20, `only ${files} files found under lib/backend`);
  assertEquals(offenders, []);
});

Deno.test("backend options: they only concern wasm — an active cpu backend is kept by auto", async () => {
  const cpu = await initBackend("cpu");
  assert((await initBackend("auto", { wasm: { gemm: false } })) === cpu);
  assertEquals(tf.getBackend(), "cpu");
});
