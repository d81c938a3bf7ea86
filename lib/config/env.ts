/**
 * Every `SSPCAB_*` environment variable the project reads, declared once: its name, type, default and
 * meaning, with a typed getter. Code reads the environment through {@link ENV} (or the helpers below), never
 * with `Deno.env.get` directly, so this file is the complete list.
 *
 * Getters are safe without `--allow-env` (the variable then counts as unset, and no permission prompt is
 * shown) and read the environment on every call (tests may set variables in between). An empty or
 * whitespace-only value counts as unset. A value of the wrong type is a {@link UserError} naming the variable
 * and the accepted values.
 * @module
 */
import type { BackendOptions } from "../backend/options.ts";
import { UserError } from "../util/errors.ts";

/** The type of an environment variable's value, as documented. */
export type EnvKind = "string" | "path" | "integer" | "switch" | "choice" | "list";

/** One declared environment variable with a typed getter. */
export interface EnvVar<T> {
  /** The variable's name, e.g. `SSPCAB_DATA_DIR`. */
  readonly name: string;
  /** The kind of value it takes. */
  readonly kind: EnvKind;
  /** The default as a person reads it (what applies when the variable is unset). */
  readonly defaultText: string;
  /** What it sets, and who reads it. */
  readonly doc: string;
  /** Whether only the test suite reads it. */
  readonly testOnly: boolean;
  /** The typed value (the default when unset); throws a {@link UserError} naming the variable when invalid. */
  get(): T;
  /** The raw value (trimmed), or undefined when unset, empty or not readable. */
  raw(): string | undefined;
}

/**
 * The value of environment variable `name`, trimmed; undefined when unset, empty, or when the process may
 * not read it (no `--allow-env`: no prompt is shown).
 */
export function readEnvRaw(name: string): string | undefined {
  try {
    const state = Deno.permissions?.querySync?.({ name: "env", variable: name }).state;
    if (state !== undefined && state !== "granted") return undefined;
    const v = Deno.env.get(name)?.trim();
    return v ? v : undefined;
  } catch {
    return undefined;
  }
}

function invalid(name: string, raw: string, expected: string, defaultText: string): UserError {
  return new UserError(
    `invalid ${name}=${JSON.stringify(raw)}`,
    `use ${expected}, or unset it for the default (${defaultText})`,
  );
}

/**
 * Parse `raw` as a number for variable `name`: an integer unless `integer` is false, at least `min` (default 1
 * for integers). Throws a {@link UserError} naming the variable otherwise.
 */
export function parseEnvNumber(
  name: string,
  raw: string,
  options: { integer?: boolean; min?: number; defaultText?: string } = {},
): number {
  const v = Number(raw);
  const integer = options.integer ?? true;
  const min = options.min ?? (integer ? 1 : -Infinity);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min) {
    throw invalid(
      name,
      raw,
      `${integer ? "an integer" : "a number"}${Number.isFinite(min) ? ` >= ${min}` : ""}`,
      options.defaultText ?? "none",
    );
  }
  return v;
}

interface Declared {
  doc: string;
  testOnly?: boolean;
}

function declare<T>(
  name: string,
  kind: EnvKind,
  defaultText: string,
  d: Declared,
  parse: (raw: string | undefined) => T,
): EnvVar<T> {
  return {
    name,
    kind,
    defaultText,
    doc: d.doc,
    testOnly: d.testOnly ?? false,
    raw: () => readEnvRaw(name),
    get: () => parse(readEnvRaw(name)),
  };
}

/** A string (or path) variable without a default: `undefined` when unset. */
function optionalString(
  name: string,
  kind: "string" | "path",
  defaultText: string,
  d: Declared,
): EnvVar<string | undefined> {
  return declare(name, kind, defaultText, d, (raw) => raw);
}

/** A string (or path) variable with a default. */
function stringWithDefault(
  name: string,
  kind: "string" | "path",
  fallback: string,
  d: Declared,
): EnvVar<string> {
  return declare(name, kind, fallback, d, (raw) => raw ?? fallback);
}

/** An integer variable (at least `min`) without a default: `undefined` when unset. */
function optionalInteger(
  name: string,
  min: number,
  defaultText: string,
  d: Declared,
): EnvVar<number | undefined> {
  return declare(
    name,
    "integer",
    defaultText,
    d,
    (raw) => raw === undefined ? undefined : parseEnvNumber(name, raw, { min, defaultText }),
  );
}

const ON = /^(1|true|on|yes)$/i;
const OFF = /^(0|false|off|no)$/i;

/** A switch: `0`/`false`/`off`/`no` turn it off, `1`/`true`/`on`/`yes` on, unset keeps `fallback`. */
function switchVar(name: string, fallback: boolean, d: Declared): EnvVar<boolean> {
  const defaultText = fallback ? "on" : "off";
  return declare(name, "switch", defaultText, d, (raw) => {
    if (raw === undefined) return fallback;
    if (ON.test(raw)) return true;
    if (OFF.test(raw)) return false;
    throw invalid(name, raw, "0 or 1", defaultText);
  });
}

/** One of fixed `choices` (matched case-insensitively), `fallback` when unset. */
function choiceVar<const C extends string>(
  name: string,
  choices: readonly C[],
  fallback: C,
  d: Declared,
): EnvVar<C> {
  return declare(name, "choice", fallback, d, (raw) => {
    if (raw === undefined) return fallback;
    const v = raw.toLowerCase();
    const hit = choices.find((c) => c === v);
    if (hit === undefined) throw invalid(name, raw, `one of ${choices.join(", ")}`, fallback);
    return hit;
  });
}

/** A comma-separated list (entries trimmed, empty ones dropped); `undefined` when unset. */
function listVar(name: string, defaultText: string, d: Declared): EnvVar<string[] | undefined> {
  return declare(
    name,
    "list",
    defaultText,
    d,
    (raw) => raw === undefined ? undefined : raw.split(",").map((s) => s.trim()).filter(Boolean),
  );
}

/**
 * Backend names accepted by `SSPCAB_BACKEND` (the same list as `BACKEND_CHOICES` of `lib/backend.ts`, which a
 * test keeps in step; declared here so that reading the environment does not load TensorFlow.js).
 */
export const ENV_BACKEND_CHOICES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;

/** The type of {@link ENV}: each variable's getter, by key. */
export interface EnvRegistry {
  /** `SSPCAB_DATA_DIR`. */
  dataDir: EnvVar<string | undefined>;
  /** `SSPCAB_BACKEND`. */
  backend: EnvVar<typeof ENV_BACKEND_CHOICES[number]>;
  /** `SSPCAB_CATEGORY`. */
  category: EnvVar<string | undefined>;
  /** `SSPCAB_SIZE`. */
  size: EnvVar<number | undefined>;
  /** `SSPCAB_STEPS`. */
  steps: EnvVar<number | undefined>;
  /** `SSPCAB_OUTPUT_DIR`. */
  outputDir: EnvVar<string>;
  /** `SSPCAB_ARCHIVE`. */
  archive: EnvVar<string | undefined>;
  /** `SSPCAB_REPORT_FACTS`. */
  reportFacts: EnvVar<string | undefined>;
  /** `SSPCAB_PYTHON`. */
  python: EnvVar<string | undefined>;
  /** `SSPCAB_CHROMIUM`. */
  chromium: EnvVar<string | undefined>;
  /** `SSPCAB_WASM_FMA`. */
  wasmFma: EnvVar<boolean>;
  /** `SSPCAB_WASM_GEMM`. */
  wasmGemm: EnvVar<boolean>;
  /** `SSPCAB_WASM_WINOGRAD`. */
  wasmWinograd: EnvVar<boolean>;
  /** `SSPCAB_WASM_IM2COL`. */
  wasmIm2col: EnvVar<boolean>;
  /** `SSPCAB_WASM_THREADS`. */
  wasmThreads: EnvVar<number | undefined>;
  /** `SSPCAB_PARITY_FIXTURE`. */
  parityFixture: EnvVar<string | undefined>;
  /** `SSPCAB_DENSITY_FIXTURE`. */
  densityFixture: EnvVar<string | undefined>;
  /** `SSPCAB_LOCALIZATION_FIXTURE`. */
  localizationFixture: EnvVar<string | undefined>;
  /** `SSPCAB_TEST_BACKENDS`. */
  testBackends: EnvVar<string[] | undefined>;
  /** `SSPCAB_REPORT_TEST`. */
  reportTest: EnvVar<boolean>;
}

/** Every `SSPCAB_*` variable, by a short camelCase key. */
export const ENV: EnvRegistry = {
  // Notebook parameters (also read by the `deno task` commands where noted).

  /**
   * `SSPCAB_DATA_DIR`: MVTec-layout data folder (paths relative to the project root). Unset: the commands
   * use `data/mvtec`; `pipeline`/`tipc` and the notebooks use `data/mvtec` when present (notebooks) or a
   * generated synthetic set.
   */
  dataDir: optionalString("SSPCAB_DATA_DIR", "path", "data/mvtec, else the synthetic set", {
    doc: "MVTec-layout data folder (commands' --data_dir default, notebooks, pipeline, tipc)",
  }),
  /** `SSPCAB_BACKEND`: compute backend (`auto` tries TensorFlow native, WebGPU, wasm, cpu in turn). */
  backend: choiceVar("SSPCAB_BACKEND", ENV_BACKEND_CHOICES, "auto", {
    doc: "compute backend (commands' --backend default, notebooks)",
  }),
  /** `SSPCAB_CATEGORY`: category folder name; unset: the first category present. */
  category: optionalString("SSPCAB_CATEGORY", "string", "the first category present", {
    doc: "category the notebooks show and train",
  }),
  /** `SSPCAB_SIZE`: image side in pixels (at least 32); unset: the notebooks' 256. */
  size: optionalInteger("SSPCAB_SIZE", 32, "256 in the notebooks", {
    doc: "image side in pixels for the notebooks",
  }),
  /** `SSPCAB_STEPS`: training steps of the training notebooks; unset: their 30. */
  steps: optionalInteger("SSPCAB_STEPS", 1, "30 in the notebooks", {
    doc: "training steps of the training notebooks",
  }),
  /** `SSPCAB_OUTPUT_DIR`: where the notebooks and the report write (models, plots, the synthetic set). */
  outputDir: stringWithDefault("SSPCAB_OUTPUT_DIR", "path", "outputs", {
    doc: "output folder of the notebooks and of `deno task report`",
  }),
  /** `SSPCAB_ARCHIVE`: the official `mvtec_anomaly_detection.tar.xz` for notebook 01 to extract first. */
  archive: optionalString("SSPCAB_ARCHIVE", "path", "none", {
    doc: "official MVTec AD archive to extract first (notebook 01)",
  }),
  /** `SSPCAB_REPORT_FACTS`: JSON file where notebooks record facts for the report (set by the report runner). */
  reportFacts: optionalString("SSPCAB_REPORT_FACTS", "path", "none (facts are not recorded)", {
    doc: "facts file of the report's title page (set by `deno task report` for the notebooks)",
  }),

  // Tools the report uses.

  /** `SSPCAB_PYTHON`: Python with Jupyter's nbclient and nbconvert for `deno task report`. */
  python: optionalString("SSPCAB_PYTHON", "path", "jupyter's interpreter, else python3", {
    doc: "Python with nbclient/nbconvert for `deno task report`",
  }),
  /** `SSPCAB_CHROMIUM`: Chromium for `deno task report --screenshots`. */
  chromium: optionalString("SSPCAB_CHROMIUM", "path", "chromium (or chrome) on PATH", {
    doc: "headless browser for the report check",
  }),

  // The wasm backend (comparisons; results agree to float32 rounding either way).

  /** `SSPCAB_WASM_FMA`: fuse XNNPACK's multiply-adds where the runtime has relaxed SIMD (`0` turns it off). */
  wasmFma: switchVar("SSPCAB_WASM_FMA", true, { doc: "wasm: fused multiply-adds in XNNPACK" }),
  /** `SSPCAB_WASM_GEMM`: run stride-1 convolutions and their gradients on our own GEMM (`0` turns it off). */
  wasmGemm: switchVar("SSPCAB_WASM_GEMM", true, { doc: "wasm: own threaded GEMM for convolutions" }),
  /** `SSPCAB_WASM_WINOGRAD`: 3×3 convolutions by Winograd on the own GEMM (`0` turns it off). */
  wasmWinograd: switchVar("SSPCAB_WASM_WINOGRAD", true, { doc: "wasm: Winograd 3×3 convolutions" }),
  /** `SSPCAB_WASM_IM2COL`: small-map convolutions as one im2col product on the own GEMM (`0` turns it off). */
  wasmIm2col: switchVar("SSPCAB_WASM_IM2COL", true, { doc: "wasm: im2col convolutions on small maps" }),
  /** `SSPCAB_WASM_THREADS`: wasm thread count (1 disables threads); unset: logical cores, at most 8. */
  wasmThreads: optionalInteger("SSPCAB_WASM_THREADS", 1, "the logical cores, at most 8", {
    doc: "wasm: thread count (1: single-threaded)",
  }),

  // Test suite only.

  /** `SSPCAB_PARITY_FIXTURE`: folder of the PyTorch parity fixture (`config.json`, tensors). */
  parityFixture: optionalString("SSPCAB_PARITY_FIXTURE", "path", "../shared/fixtures/projection_net", {
    doc: "tests: PyTorch parity fixture folder",
    testOnly: true,
  }),
  /** `SSPCAB_DENSITY_FIXTURE`: folder of the scikit-learn density fixture (`density.json`). */
  densityFixture: optionalString("SSPCAB_DENSITY_FIXTURE", "path", "../shared/fixtures/density", {
    doc: "tests: density fixture folder",
    testOnly: true,
  }),
  /** `SSPCAB_LOCALIZATION_FIXTURE`: folder of a pixel-AUROC / AU-PRO fixture (`localization.json`). */
  localizationFixture: optionalString(
    "SSPCAB_LOCALIZATION_FIXTURE",
    "path",
    "../shared/fixtures/localization",
    { doc: "tests: localisation-metrics fixture folder", testOnly: true },
  ),
  /** `SSPCAB_TEST_BACKENDS`: comma list narrowing the backends that backend-parametrised tests run on. */
  testBackends: listVar("SSPCAB_TEST_BACKENDS", "cpu, wasm and webgpu where present", {
    doc: "tests: backends to run backend-parametrised tests on",
    testOnly: true,
  }),
  /** `SSPCAB_REPORT_TEST`: `1` runs the end-to-end report test (needs nbclient and Chromium). */
  reportTest: switchVar("SSPCAB_REPORT_TEST", false, {
    doc: "tests: run the headless report + browser test",
    testOnly: true,
  }),
} as const;

/** All declared variables, in declaration order. */
export const ENV_VARS: readonly EnvVar<unknown>[] = Object.values(ENV);

/** {@link BackendOptions} from `SSPCAB_WASM_FMA`, `_GEMM`, `_WINOGRAD`, `_IM2COL` (`0` turns off), `_THREADS`. */
export function backendOptionsFromEnv(): BackendOptions {
  return {
    wasm: {
      fma: ENV.wasmFma.get(),
      gemm: ENV.wasmGemm.get(),
      winograd: ENV.wasmWinograd.get(),
      im2col: ENV.wasmIm2col.get(),
      threads: ENV.wasmThreads.get(),
    },
  };
}

/** A Markdown table of every declared variable (name, type, default, meaning), e.g. for the README. */
export function envTable(): string {
  const rows = ENV_VARS.map((v) =>
    `| \`${v.name}\` | ${v.kind} | ${v.defaultText} | ${v.doc}${v.testOnly ? " (test suite)" : ""} |`
  );
  return ["| variable | type | default | what it sets |", "|---|---|---|---|", ...rows].join("\n");
}
