/**
 * The one way to get a data set in the MVTec AD layout, used by the commands, the pipeline and the notebooks.
 * The folder is decided in this order:
 *
 * 1. an `archive` is given: extract the official archive into `dataDir` (default `data/mvtec`) — skipped when
 *    an earlier extraction there is complete;
 * 2. a `dataDir` is given: use that folder (it must exist);
 * 3. the default folder (`data/mvtec`) holds categories: use it;
 * 4. otherwise: generate the embedded synthetic MVTec-like set into `<outputDir>/synthetic` (reused when an
 *    identical one is already there), so everything runs on a machine without the data set.
 *
 * Paths are resolved against `root` (default: the working directory), so notebooks, whose kernel starts in
 * `notebooks/`, pass the project root.
 * @module
 */
import { isAbsolute, join } from "node:path";
import { extractMvtec } from "../data/extract.ts";
import { presentCategories } from "../data/mvtec.ts";
import { generateSyntheticDataset, SYNTHETIC_CATEGORIES, SYNTHETIC_MARKER } from "../data/synthetic.ts";
import { UserError } from "../util/errors.ts";

/** Where the data came from. */
export type DataSource = "archive" | "given" | "mvtec" | "synthetic";

/** The data folder to work on (see the module doc). */
export interface DataInfo {
  /** The folder as given (relative to `root`, or absolute): for display and for other tools. */
  dataDir: string;
  /** The folder as a path this process can open. */
  path: string;
  /** Which rule chose it. */
  source: DataSource;
  /** Categories present (folders with a `train/` sub-folder), MVTec order first. */
  categories: string[];
  /** What was done (extracted, reused, generated …), one sentence or empty. */
  note: string;
}

/** Options of {@link ensureDataset}. */
export interface EnsureDatasetOptions {
  /** An MVTec-layout folder to use; empty or absent: not given. */
  dataDir?: string;
  /** The official archive to extract first; empty or absent: none. */
  archive?: string;
  /** The synthetic set goes to `<outputDir>/synthetic`. */
  outputDir: string;
  /** Side of the synthetic images in pixels (the run's image size; see {@link syntheticOptions}). */
  size: number;
  /** The default MVTec folder (default `data/mvtec`); `null`: none (rule 3 is skipped). */
  defaultDir?: string | null;
  /** Folder that relative paths are relative to (default: the working directory). */
  root?: string;
  /** Show the extraction's progress bar on stderr (default true). */
  progress?: boolean;
  /** The name the user gave `dataDir` under, for messages (default `--data_dir`). */
  dataDirName?: string;
}

/**
 * The generator options for the synthetic set at image side `size`: the side is at least 32 pixels (the
 * smallest input the network's five stride-2 stages accept) and the seed is fixed, so every tool that asks
 * for the same size gets the same images.
 */
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

/**
 * Decide the data folder (see the module doc), prepare it and list its categories.
 *
 * @example Use the synthetic set when no MVTec AD folder is around
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureDataset } from "./ensure_dataset.ts";
 * const dir = await Deno.makeTempDir();
 * const data = await ensureDataset({ outputDir: dir, size: 32, defaultDir: `${dir}/none` });
 * assert.ok(data.source === "synthetic" && data.categories.length > 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ensureDataset(options: EnsureDatasetOptions): Promise<DataInfo> {
  const resolvePath = (p: string) => (isAbsolute(p) || !options.root ? p : join(options.root, p));
  const defaultDir = options.defaultDir === undefined ? "data/mvtec" : options.defaultDir;
  let dataDir = options.dataDir ?? "";
  let source: DataSource;
  let note = "";
  if (options.archive) {
    dataDir ||= defaultDir ?? "data/mvtec";
    // Count mismatches (a partial or custom archive) are reported in the note rather than stopping the run;
    // a corrupt or truncated archive still raises.
    const result = await extractMvtec(resolvePath(options.archive), resolvePath(dataDir), {
      progress: options.progress ?? true,
      strictCounts: false,
      warn: () => {},
    });
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
    if (!(await isDir(resolvePath(dataDir)))) {
      throw new UserError(
        `${options.dataDirName ?? "--data_dir"} ${dataDir} is not a folder`,
        "point it at the folder holding the category folders (bottle/, cable/, …), or leave it out to use " +
          `${defaultDir ? `${defaultDir} or ` : ""}the synthetic set`,
      );
    }
    source = "given";
  } else if (
    defaultDir && await isDir(resolvePath(defaultDir)) &&
    (await presentCategories(resolvePath(defaultDir))).length
  ) {
    dataDir = defaultDir;
    source = "mvtec";
  } else {
    dataDir = join(options.outputDir, "synthetic");
    const generated = await ensureSyntheticDataset(resolvePath(dataDir), options.size);
    const side = syntheticOptions(options.size).size;
    note = generated
      ? `Generated at ${side}×${side} px.`
      : `Reused the set generated earlier at ${side}×${side} px.`;
    source = "synthetic";
  }
  const path = resolvePath(dataDir);
  return { dataDir, path, source, categories: await presentCategories(path), note };
}

/**
 * The category to work on: `requested` when given (it must be present), else the first category present.
 * Throws a {@link UserError} listing the categories present otherwise.
 *
 * @param requested the category asked for; empty: the first present
 * @param data the data folder's categories and its name for messages
 * @param flagName how the user names the category, for messages (e.g. `SSPCAB_CATEGORY` or `--type`)
 */
export function pickCategory(
  requested: string,
  data: Pick<DataInfo, "categories" | "dataDir">,
  flagName = "--type",
): string {
  if (!requested) {
    if (!data.categories.length) {
      throw new UserError(`no category folders in ${data.dataDir}`, "check the data folder");
    }
    return data.categories[0];
  }
  if (!data.categories.includes(requested)) {
    throw new UserError(
      `${flagName}=${requested} is not in ${data.dataDir}`,
      `categories present: ${data.categories.join(", ") || "(none)"}`,
    );
  }
  return requested;
}
