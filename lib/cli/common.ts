/**
 * Flags shared by several commands and the glue every command uses: parse, print help, pick the backend.
 * @module
 */
import { type FlagSpec, type ParsedFlags, parseFlags, usage } from "./flags.ts";
import {
  BACKEND_CHOICES,
  type BackendInfo,
  describeBackend,
  initBackend,
  parseBackendChoice,
} from "../backend.ts";
import { UserError } from "../util/errors.ts";

/** The default data folder: `SSPCAB_DATA_DIR`, else `data/mvtec`. */
export function defaultDataDir(): string {
  return Deno.env.get("SSPCAB_DATA_DIR") ?? "data/mvtec";
}

/** `--backend` (default: `SSPCAB_BACKEND`, else auto). */
export const BACKEND_FLAG: FlagSpec = {
  name: "backend",
  type: "string",
  default: Deno.env.get("SSPCAB_BACKEND") ?? "auto",
  choices: BACKEND_CHOICES,
  help: "compute backend",
};

/** `--data_dir`. */
export const DATA_DIR_FLAG: FlagSpec = {
  name: "data_dir",
  type: "string",
  default: defaultDataDir(),
  help: "MVTec AD folder (default: SSPCAB_DATA_DIR or data/mvtec)",
};

/** `--model_dir`. */
export const MODEL_DIR_FLAG: FlagSpec = {
  name: "model_dir",
  type: "string",
  default: "outputs/models",
  help: "folder of trained models and their results",
};

/** `--max_pixels`: the decompression-bomb limit of image decoding (library default: 100 megapixels). */
export const MAX_PIXELS_FLAG: FlagSpec = {
  name: "max_pixels",
  type: "number",
  help: "refuse images with more pixels than this (default: 100000000)",
};

/** The value of `--max_pixels` (undefined when not given); a positive integer. */
export function maxPixelsFrom(flags: Record<string, unknown>): number | undefined {
  if (flags.max_pixels === undefined) return undefined;
  const n = Number(flags.max_pixels);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--max_pixels must be a positive integer, got ${flags.max_pixels}`);
  }
  return n;
}

/** `--type`: categories. */
export const TYPE_FLAG: FlagSpec = {
  name: "type",
  type: "string",
  default: "all",
  help: "category, comma list, or all",
};

/**
 * Parse flags for a command; returns undefined (after printing the usage) when `--help` was asked for.
 */
export function parseCommand(
  command: string,
  summary: string,
  specs: readonly FlagSpec[],
  args: readonly string[] = Deno.args,
): ParsedFlags | undefined {
  const flags = parseFlags(args, specs, command, summary);
  if (flags.help) {
    console.log(usage(command, summary, specs));
    return undefined;
  }
  return flags;
}

/** Start the chosen backend and print which one is used and why others were skipped. */
export async function startBackend(
  choice: unknown,
  log: (line: string) => void = console.log,
): Promise<BackendInfo> {
  const info = await initBackend(parseBackendChoice(String(choice ?? "auto")));
  log(describeBackend(info));
  return info;
}
