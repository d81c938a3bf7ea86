/**
 * Choosing and starting the TensorFlow.js compute backend.
 *
 * `auto` tries, in order: TensorFlow native (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`, only
 * when already installed in the project's `node_modules` — optional, never required), WebGPU (Deno's
 * `navigator.gpu` with a hardware adapter), wasm (XNNPACK, SIMD), then the plain-JS `cpu` backend. A backend
 * can be forced by name (a command's `--backend`); the result says which backend and device are in use and
 * why the others were skipped. How the wasm backend runs comes in as {@link BackendOptions}; nothing here
 * reads the environment.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "./gradients.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.ts";
import type { BackendOptions } from "./options.ts";
import { requestGpuAdapter } from "./webgpu_probe.ts";

/** Backend names accepted by `--backend`. */
export const BACKEND_CHOICES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
/** A backend name accepted by `--backend`. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

/** What {@link initBackend} selected. */
export interface BackendInfo {
  /** The tfjs backend name now active (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  name: string;
  /** A human description of the device (adapter name, SIMD/threads, …). */
  device: string;
  /** Why each backend tried before this one was skipped. */
  skipped: string[];
  /**
   * Whether this backend can run a training step (all of ours can, wasm through our own kernels — not with
   * the stock ones that run on a tfjs version our kernels were not written for).
   */
  canTrain: boolean;
}

/** The backend {@link initBackend} started last, with the options it was given. */
let active: { info: BackendInfo; options: string } | undefined;

// Production mode: no debug checks and no "install tfjs-node" banner on the cpu backend.
tf.env().set("PROD", true);

/** Parse a backend name (from a flag or a setting), with a clear error listing the valid ones. */
export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? "auto").trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new UserError(`unknown backend "${value}"`, `use one of: ${BACKEND_CHOICES.join(", ")}`);
}

function projectNodeModules(): string {
  return join(fileURLToPath(new URL("../..", import.meta.url)), "node_modules");
}

async function tryTensorflow(skipped: string[]): Promise<string | undefined> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await Deno.stat(join(projectNodeModules(), pkg, "package.json"));
    } catch {
      skipped.push(`${pkg}: not installed (optional; see the README to add it)`);
      continue;
    }
    try {
      const specifier = `npm:${pkg}@4.22.0`;
      await import(specifier);
      if (await tf.setBackend("tensorflow")) return pkg;
      skipped.push(`${pkg}: installed but the "tensorflow" backend did not start`);
    } catch (err) {
      skipped.push(`${pkg}: installed but failed to load (${(err as Error).message.split("\n")[0]})`);
    }
  }
  return undefined;
}

async function tryWebgpu(skipped: string[], allowSoftware: boolean): Promise<string | undefined> {
  const adapter = await requestGpuAdapter();
  if (!adapter) {
    skipped.push("webgpu: no WebGPU adapter (no GPU driver, or Vulkan/Metal/D3D12 not available)");
    return undefined;
  }
  const info = adapter.info ?? {};
  const description = info.description || info.device || info.vendor || "unknown adapter";
  if (info.isFallbackAdapter && !allowSoftware) {
    skipped.push(
      `webgpu: only a software adapter (${description}); slower than wasm, force it with --backend webgpu`,
    );
    return undefined;
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) {
    skipped.push(`webgpu: adapter ${description} found but the tfjs webgpu backend did not start`);
    return undefined;
  }
  return `${description}${info.isFallbackAdapter ? " (software adapter)" : ""}`;
}

async function tryWasm(
  skipped: string[],
  options: BackendOptions,
): Promise<{ device: string; canTrain: boolean } | undefined> {
  try {
    const { startWasmBackend } = await import("./wasm.ts");
    return await startWasmBackend(options.wasm);
  } catch (err) {
    skipped.push(`wasm: failed to start (${(err as Error).message.split("\n")[0]})`);
    return undefined;
  }
}

/**
 * Select and start a backend. `auto` picks the fastest available (see the module doc); a forced choice that
 * cannot start is a {@link UserError} that says why. `options` say how the wasm backend runs (every part on
 * and one thread per logical core, at most 8, by default). Calling it again with the active backend (and, for
 * wasm, the same options) is cheap.
 */
export async function initBackend(
  choice: BackendChoice = "auto",
  options: BackendOptions = {},
): Promise<BackendInfo> {
  const key = JSON.stringify(options);
  // The options only concern wasm: another active backend is kept whatever they say.
  const same = active && (choice === "auto" || choice === active.info.name) &&
    (active.info.name !== "wasm" || active.options === key);
  if (active && same) return active.info;
  const skipped: string[] = [];
  const want = (name: BackendChoice) => choice === "auto" || choice === name;
  let info: BackendInfo | undefined;

  if (want("tensorflow")) {
    const pkg = await tryTensorflow(skipped);
    if (pkg) info = { name: "tensorflow", device: `libtensorflow via ${pkg}`, skipped, canTrain: true };
  }
  if (!info && want("webgpu")) {
    const device = await tryWebgpu(skipped, choice === "webgpu");
    if (device) info = { name: "webgpu", device, skipped, canTrain: true };
  }
  if (!info && want("wasm")) {
    const wasm = await tryWasm(skipped, options);
    if (wasm) info = { name: "wasm", device: wasm.device, skipped, canTrain: wasm.canTrain };
  }
  if (!info && want("cpu")) {
    await tf.setBackend("cpu");
    info = { name: "cpu", device: "plain JavaScript (slow; for checks)", skipped, canTrain: true };
  }
  if (!info) {
    throw new UserError(
      `backend "${choice}" is not available here: ${skipped.join("; ")}`,
      "choose another with --backend (auto, webgpu, wasm, cpu)",
    );
  }
  await tf.ready();
  active = { info, options: key };
  return info;
}

/** A one-line description of the active backend for logs, e.g. `backend: wasm (XNNPACK, SIMD, 2 threads)`. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.length ? `\n  skipped: ${info.skipped.join("\n  skipped: ")}` : "";
  return `backend: ${info.name} — ${info.device}${skipped}`;
}
