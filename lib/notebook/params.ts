/**
 * Notebook parameters: the values of a notebook's first code cell, each overridable from an `SSPCAB_*`
 * environment variable (that is how `deno task report` and CI pass them), and the project-root-relative
 * paths the notebooks use. The variables are declared, with their types and defaults, in
 * `lib/config/env.ts`; the environment is read through it.
 *
 * The Deno kernel starts in the notebook's folder (`notebooks/`) and relative imports are resolved from
 * there, so a notebook must not `Deno.chdir`. Paths in parameters are instead relative to the **project
 * root** (like the `deno task` commands), and {@link projectPath} turns them into paths the process can open.
 * @module
 */
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ENV, parseEnvNumber, readEnvRaw } from "../config/env.ts";
import { recordReportFact } from "../io/report_facts.ts";

/** The environment variables of the parameters cell, by parameter (declared in `lib/config/env.ts`). */
export const PARAMETER_ENV = {
  /** Category folder name; empty: the first category present. */
  category: ENV.category.name,
  /** MVTec-layout data folder; empty: `data/mvtec` when present, else a generated synthetic set. */
  dataDir: ENV.dataDir.name,
  /** Image side in pixels. */
  size: ENV.size.name,
  /** Training steps (notebooks that train). */
  steps: ENV.steps.name,
  /** Compute backend (`auto`, `tensorflow`, `webgpu`, `wasm`, `cpu`). */
  backend: ENV.backend.name,
  /** Where the notebooks write (models, plots, the synthetic set, the report). */
  outputDir: ENV.outputDir.name,
  /** The official MVTec AD archive to extract first (optional). */
  archive: ENV.archive.name,
} as const;

/** Names of all parameter environment variables, in parameter-cell order. */
export const PARAMETER_ENV_VARS: readonly string[] = Object.values(PARAMETER_ENV);

/**
 * Environment variable the report runner sets to a JSON file where notebooks can record facts for the
 * report's title page (e.g. the backend actually used); see {@link reportFact}.
 */
export const REPORT_FACTS_ENV: string = ENV.reportFacts.name;

/** The project root (the folder holding `deno.json`), derived from this module's location. */
export const PROJECT_ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/[\\/]+$/, "");

/**
 * The value of environment variable `name` (trimmed) when set and not empty, else `fallback` (also without
 * `--allow-env`).
 */
export function envString(name: string, fallback: string): string {
  return readEnvRaw(name) ?? fallback;
}

/**
 * The numeric value of environment variable `name` when set and not empty, else `fallback`. Throws a
 * `UserError` naming the variable when the value is not a number (or not an integer when
 * `integer` is true, or below `min`).
 */
export function envNumber(
  name: string,
  fallback: number,
  options: { integer?: boolean; min?: number } = {},
): number {
  const raw = readEnvRaw(name);
  if (raw === undefined) return fallback;
  return parseEnvNumber(name, raw, { ...options, defaultText: String(fallback) });
}

/** A parameter path (relative to the project root, or absolute) as a path this process can open. */
export function projectPath(path: string): string {
  return isAbsolute(path) ? path : join(PROJECT_ROOT, path);
}

/**
 * A path for display: relative to the project root when it lies inside it (so executed notebooks and
 * reports never show this machine's absolute paths), else as given.
 */
export function displayPath(path: string): string {
  const abs = projectPath(path);
  const rel = relative(PROJECT_ROOT, abs);
  if (rel === "") return ".";
  return rel.startsWith("..") && isAbsolute(path) ? path : rel.replaceAll("\\", "/");
}

/**
 * Record a fact for the report's title page (e.g. `reportFact("backend", "wasm (SIMD)")`). Does nothing
 * unless the report runner set {@link REPORT_FACTS_ENV}; facts from all notebooks are merged, later ones
 * overwriting earlier ones with the same key.
 */
export async function reportFact(key: string, value: string | number | boolean): Promise<void> {
  const file = ENV.reportFacts.get();
  if (!file) return;
  await recordReportFact(file, key, value);
}
