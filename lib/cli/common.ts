/**
 * Flags shared by several commands and the glue every command uses: parse, print help, pick the backend.
 * @module
 */
import { type CheckFlagSpecs, type FlagSpecs, type ParsedFlags, parseFlags, usage } from "./flags.ts";
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  initBackend,
} from "../backend/mod.ts";
import { backendOptionsFromEnv, ENV } from "../config/env.ts";
import { UserError } from "../util/errors.ts";

/** The default data folder: `SSPCAB_DATA_DIR`, else `data/mvtec`. */
export function defaultDataDir(): string {
  return ENV.dataDir.get() ?? "data/mvtec";
}

/** `--backend` (default: `SSPCAB_BACKEND`, else auto). */
export const BACKEND_FLAG = {
  type: "string",
  default: () => ENV.backend.get(),
  choices: BACKEND_CHOICES,
  help: "compute backend; SSPCAB_BACKEND sets the default",
} as const;

/** `--data_dir`. */
export const DATA_DIR_FLAG = {
  type: "string",
  default: defaultDataDir,
  help: "MVTec AD folder; SSPCAB_DATA_DIR sets the default",
} as const;

/** `--model_dir`. */
export const MODEL_DIR_FLAG = {
  type: "string",
  default: "outputs/models",
  help: "folder of trained models and their results",
} as const;

/** `--max_pixels`: the decompression-bomb limit of image decoding (library default: 100 megapixels). */
export const MAX_PIXELS_FLAG = {
  type: "number",
  help: "refuse images with more pixels than this (default: 100000000)",
} as const;

/**
 * `value` of flag `--name`, checked to be a positive integer: a `UserError` naming the flag otherwise (with
 * `hint` as what to do, when given).
 */
export function positiveInt(name: string, value: number, hint?: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new UserError(`--${name} must be a positive integer, got ${value}`, hint);
  }
  return value;
}

/** The value of `--max_pixels` (undefined when not given), checked to be a positive integer. */
export function maxPixelsFrom(value: number | undefined): number | undefined {
  return value === undefined ? undefined : positiveInt("max_pixels", value, "e.g. --max_pixels 200000000");
}

/** `--execution_provider`: where ONNX Runtime runs (with `--engine onnxruntime`). */
export const EXECUTION_PROVIDER_FLAG = {
  type: "string",
  default: "cpu",
  choices: ["cpu", "cuda", "tensorrt"],
  help: "onnxruntime execution provider (cuda/tensorrt need a GPU install of onnxruntime-node)",
} as const;

/** `--type`: categories. */
export const TYPE_FLAG = {
  type: "string",
  default: "all",
  help: "category, comma list, or all",
} as const;

/**
 * Parse flags for a command; returns undefined (after printing the usage) when `--help` was asked for.
 */
export function parseCommand<const S extends FlagSpecs>(
  command: string,
  summary: string,
  specs: S & CheckFlagSpecs<S>,
  args: readonly string[] = Deno.args,
): ParsedFlags<S> | undefined {
  const flags = parseFlags<S>(args, specs, command, summary);
  if (flags.help) {
    console.log(usage(command, summary, specs));
    return undefined;
  }
  return flags;
}

/**
 * Start the chosen backend with the wasm switches of the environment (`SSPCAB_WASM_*`, see
 * `lib/config/env.ts`) and print which one is used and why others were skipped.
 */
export async function startBackend(
  choice: BackendChoice,
  log: (line: string) => void = console.log,
): Promise<BackendInfo> {
  const info = await initBackend(choice, backendOptionsFromEnv());
  log(describeBackend(info));
  return info;
}
