/**
 * Where a notebook's data comes from, decided from its parameters, in this order:
 *
 * 1. `SSPCAB_ARCHIVE` set: extract the official archive (with live progress) into the data folder
 *    (`SSPCAB_DATA_DIR`, default `data/mvtec`) — skipped when an earlier extraction is complete;
 * 2. `SSPCAB_DATA_DIR` set: use that folder;
 * 3. `data/mvtec` present: use it;
 * 4. otherwise: generate the embedded synthetic MVTec-like set into `<output dir>/synthetic` (reused when an
 *    identical one is already there) and use it, so every notebook runs on a machine without the data set.
 * @module
 */
import { join } from "@std/path";
import { extractMvtec } from "../data/extract.ts";
import { presentCategories } from "../data/mvtec.ts";
import { generateSyntheticDataset, SYNTHETIC_CATEGORIES, SYNTHETIC_MARKER } from "../data/synthetic.ts";
import { UserError } from "../util/errors.ts";
import { displayPath, projectPath } from "./params.ts";
import { type Displayable, JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";
import { withLiveProgress } from "./progress.ts";

/** Where the data came from. */
export type DataSource = "archive" | "given" | "mvtec" | "synthetic";

/** The data folder a notebook works on (see the module doc). */
export interface DataInfo {
  /** The folder as given (relative to the project root, or absolute); for display and for other tools. */
  dataDir: string;
  /** The folder as a path this process can open. */
  path: string;
  /** Which rule chose it. */
  source: DataSource;
  /** Categories present (folders with a `train/` sub-folder), MVTec order first. */
  categories: string[];
  /** What was done (extracted, reused, generated …). */
  note: string;
}

/** {@link DataInfo} that displays in a notebook as a short Markdown summary. */
export type PreparedData = DataInfo & Displayable;

/** Options of {@link prepareData}: the notebook parameters it needs. */
export interface PrepareDataOptions {
  /** `SSPCAB_DATA_DIR` (empty: not given). */
  dataDir: string;
  /** `SSPCAB_ARCHIVE` (empty: none). */
  archive?: string;
  /** `SSPCAB_OUTPUT_DIR`: the synthetic set goes to `<outputDir>/synthetic`. */
  outputDir: string;
  /** Side of the synthetic images (the notebook's image size; at least 32). */
  size: number;
  /** The default MVTec folder (default `data/mvtec`). */
  defaultDir?: string;
}

/** The generator options the notebooks use for the synthetic set at image side `size`. */
export function syntheticOptions(size: number): { size: number; seed: number } {
  return { size: Math.max(32, Math.round(size)), seed: 0 };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Generate the synthetic set into `dir` unless every synthetic category there was already generated with
 * the same size and seed (read from each category's marker file). Returns whether it generated.
 */
export async function ensureSyntheticDataset(dir: string, size: number): Promise<boolean> {
  const opts = syntheticOptions(size);
  let current = true;
  for (const category of SYNTHETIC_CATEGORIES) {
    try {
      const marker = JSON.parse(await Deno.readTextFile(join(dir, category, SYNTHETIC_MARKER)));
      if (marker.size !== opts.size || marker.seed !== opts.seed) current = false;
    } catch {
      current = false;
    }
  }
  if (current) return false;
  await generateSyntheticDataset(dir, opts);
  return true;
}

function summary(data: DataInfo): MimeBundle {
  const what = {
    archive: "extracted from the official archive",
    given: "given by SSPCAB_DATA_DIR",
    mvtec: "found the default MVTec AD folder",
    synthetic: "no MVTec AD folder found: using the generated synthetic MVTec-like set",
  }[data.source];
  const text = `**Data:** \`${data.dataDir}\` — ${what}. ${data.note}\n\n` +
    `**Categories (${data.categories.length}):** ${data.categories.join(", ") || "(none)"}`;
  return { "text/markdown": text, "text/plain": text.replaceAll("**", "").replaceAll("`", "") };
}

/** Decide the data folder from the notebook parameters (see the module doc) and prepare it. */
export async function prepareData(options: PrepareDataOptions): Promise<PreparedData> {
  const defaultDir = options.defaultDir ?? "data/mvtec";
  let dataDir = options.dataDir;
  let source: DataSource;
  let note = "";
  if (options.archive) {
    dataDir ||= defaultDir;
    // Count mismatches (a partial or custom archive) are reported here and in the counts table rather than
    // stopping the notebook; a corrupt or truncated archive still raises.
    const result = await withLiveProgress(
      "MVTec AD archive",
      () =>
        extractMvtec(projectPath(options.archive!), projectPath(dataDir), {
          progress: true,
          strictCounts: false,
          warn: () => {},
        }),
    );
    source = "archive";
    note = result.skipped
      ? "An earlier complete extraction was found; nothing to do."
      : `Extracted ${result.files} files.`;
    const n = result.mismatches.length;
    if (n) {
      note += ` ${n} count mismatch${n > 1 ? "es" : ""} with the official release: ` +
        `${result.mismatches.slice(0, 3).join("; ")}${n > 3 ? "; …" : ""}.`;
    }
  } else if (dataDir) {
    if (!(await isDir(projectPath(dataDir)))) {
      throw new UserError(
        `SSPCAB_DATA_DIR=${dataDir} is not a folder (paths are relative to the project root)`,
        "point it at the folder holding the category folders (bottle/, cable/, …), or unset it to use " +
          `${defaultDir} or the synthetic set`,
      );
    }
    source = "given";
  } else if (
    await isDir(projectPath(defaultDir)) && (await presentCategories(projectPath(defaultDir))).length
  ) {
    dataDir = defaultDir;
    source = "mvtec";
  } else {
    dataDir = join(options.outputDir, "synthetic");
    const generated = await ensureSyntheticDataset(projectPath(dataDir), options.size);
    const side = syntheticOptions(options.size).size;
    note = generated
      ? `Generated at ${side}×${side} px.`
      : `Reused the set generated earlier at ${side}×${side} px.`;
    source = "synthetic";
  }
  const path = projectPath(dataDir);
  const categories = await presentCategories(path);
  const shown = displayPath(dataDir);
  const data: DataInfo = { dataDir: shown, path, source, categories, note };
  return { ...data, [JUPYTER_DISPLAY]: () => summary(data) };
}

/**
 * The category to work on: `requested` when given (it must be present), else the first category present.
 * Throws a {@link UserError} listing the categories present otherwise.
 */
export function pickCategory(requested: string, data: Pick<DataInfo, "categories" | "dataDir">): string {
  if (!requested) {
    if (!data.categories.length) {
      throw new UserError(`no category folders in ${data.dataDir}`, "check SSPCAB_DATA_DIR");
    }
    return data.categories[0];
  }
  if (!data.categories.includes(requested)) {
    throw new UserError(
      `SSPCAB_CATEGORY=${requested} is not in ${data.dataDir}`,
      `categories present: ${data.categories.join(", ") || "(none)"}`,
    );
  }
  return requested;
}
