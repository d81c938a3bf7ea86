/**
 * The "Localisation" part of the report's title page: the localisation results files evaluation writes next
 * to the models (`<model dir>/model-<category>.localization.json`, by `deno task eval --localize` and by
 * notebook 04's "Where is the defect?" section when the data has masks), read through their owner module's
 * validating reader, as one table per model folder; and the heatmap grids `eval --localize --save_plots`
 * writes (`<model dir>/plots/model-<category>/localization_<method>.png`), embedded as `data:` URLs so the
 * report stays offline. A file that does not validate is skipped with a note naming it; the report does not
 * fail on it.
 * @module
 */
import { basename, dirname, join, relative } from "node:path";
import {
  LOCALIZATION_METHODS,
  type LocalizationFile,
  type LocalizationMethod,
  localizationPath,
  readLocalization,
} from "../io/localization_file.ts";
import { modelName } from "../train/config.ts";
import { encodeBase64 } from "../notebook/display.ts";
import type { ReportFigure, ReportLocalization, ReportTable } from "./html.ts";
import { SKIP_DIRS } from "./results.ts";

/** Heatmap grids larger than this many bytes are not embedded (a note says so instead). */
export const MAX_FIGURE_BYTES = 16 * 1024 * 1024;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The category of a localisation results file named as {@link localizationPath} names it (the owner
 * module's naming, not a copy of it), or null for any other file name.
 */
export function localizationCategoryOf(path: string): string | null {
  const marker = "\u0000";
  const [prefix, suffix] = basename(localizationPath(".", marker)).split(marker);
  const name = basename(path);
  if (name.length <= prefix.length + suffix.length) return null;
  if (!name.startsWith(prefix) || !name.endsWith(suffix)) return null;
  const category = name.slice(prefix.length, name.length - suffix.length);
  return localizationPath(dirname(path), category) === path ? category : null;
}

/**
 * Where `eval --localize METHOD --save_plots` writes the heatmap grid of `category`: the category's plot
 * folder (`<model dir>/plots/model-<category>`, as `plotDir` of the evaluation pipeline) and
 * `localization_<method>.png` in it.
 */
export function localizationPlotPath(modelDir: string, category: string, method: LocalizationMethod): string {
  return join(modelDir, "plots", modelName(category), `localization_${method}.png`);
}

/** The localisation results files under `dir` (up to `depth` folders deep), sorted by path. */
async function localizationFiles(dir: string, depth: number): Promise<string[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch {
    return [];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const found: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const path = join(dir, e.name);
    if (e.isDirectory && depth > 0 && !SKIP_DIRS.has(e.name)) {
      found.push(...await localizationFiles(path, depth - 1));
    } else if (e.isFile && localizationCategoryOf(path) !== null) found.push(path);
  }
  return found;
}

/** A metric in [0, 1] as the table shows it (4 decimals, as `eval` prints it). */
function metric(v: number): string {
  return v.toFixed(4);
}

/** Seconds per image: 3 significant digits below a second, 2 decimals above. */
export function formatSecondsPerImage(s: number): string {
  return s >= 1 ? s.toFixed(2) : s === 0 ? "0" : s.toPrecision(3);
}

/** The localisation table of one model folder's files (one row per method, in file order). */
export function localizationTable(caption: string, files: LocalizationFile[]): ReportTable {
  const rows = files.flatMap((f) =>
    f.methods.map((m) => ({ ...m, category: f.category, n_images: f.n_images }))
  );
  const limits = new Set(rows.map((f) => f.pro_limit));
  const oneLimit = limits.size === 1 ? [...limits][0] : null;
  return {
    caption,
    headers: [
      "category",
      "method",
      "pixel AUROC",
      oneLimit !== null ? `AU-PRO@${oneLimit}` : "AU-PRO (@FPR limit)",
      "pixel F1",
      "image AUROC of max",
      "s/image",
      "test images",
    ],
    rows: rows.map((f) => [
      f.category,
      f.method,
      metric(f.pixel_auroc),
      oneLimit !== null ? metric(f.au_pro) : `${metric(f.au_pro)} @${f.pro_limit}`,
      metric(f.pixel_f1),
      metric(f.image_auroc_of_max),
      formatSecondsPerImage(f.seconds_per_image),
      String(f.n_images),
    ]),
  };
}

/** A heatmap grid as a figure, or a note saying why it is not embedded. */
async function figureOf(path: string, shown: string, caption: string): Promise<ReportFigure | string | null> {
  let bytes: Uint8Array;
  try {
    const stat = await Deno.stat(path);
    if (!stat.isFile) return null;
    if (stat.size > MAX_FIGURE_BYTES) {
      return `${shown} not embedded: ${(stat.size / 1e6).toFixed(1)} MB is over the ${
        MAX_FIGURE_BYTES / 1024 / 1024
      } MiB limit for one figure`;
    }
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    return `${shown} not embedded: cannot read it (${(err as Error).message})`;
  }
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    return `${shown} not embedded: it is not a PNG file (run \`deno task eval --localize METHOD --save_plots\` again to rewrite it)`;
  }
  return { caption, src: `data:image/png;base64,${encodeBase64(bytes)}` };
}

/**
 * The title page's localisation part for `outputDir`: every localisation results file under it (up to
 * `maxDepth` folders deep, skipping the synthetic data set and the report folder; `models/` first), read with
 * {@link readLocalization} into one table per model folder, and the heatmap grids next to them. Paths are
 * shown relative to `outputDir`, prefixed by `shownDir`. A file that fails validation is left out of its
 * table with a note naming it and the reader's message. Returns null when there is no such file (the title
 * page then has no localisation part).
 */
export async function readLocalizationSection(
  outputDir: string,
  options: { shownDir?: string; maxDepth?: number } = {},
): Promise<ReportLocalization | null> {
  const files = await localizationFiles(outputDir, options.maxDepth ?? 3);
  if (!files.length) return null;
  const shown = (f: string) => {
    const rel = relative(outputDir, f).replaceAll("\\", "/") || ".";
    return options.shownDir ? `${options.shownDir.replace(/\/+$/, "")}/${rel}` : rel;
  };
  const first = "models";
  const dirs = [...new Set(files.map((f) => dirname(f)))].sort((a, b) =>
    Number(relative(outputDir, b) === first) - Number(relative(outputDir, a) === first) ||
    (a < b ? -1 : a > b ? 1 : 0)
  );
  const tables: ReportTable[] = [];
  const figures: ReportFigure[] = [];
  const notes: string[] = [];
  for (const dir of dirs) {
    const read: LocalizationFile[] = [];
    for (const f of files.filter((p) => dirname(p) === dir)) {
      const category = localizationCategoryOf(f)!;
      try {
        read.push(await readLocalization(f));
      } catch (err) {
        const message = (err as Error).message.replaceAll(f, shown(f)).replace(/\n\s*→\s*/g, " → ");
        notes.push(`skipped ${shown(f)}: ${message}`);
      }
      for (const method of LOCALIZATION_METHODS) {
        const png = localizationPlotPath(dir, category, method);
        const fig = await figureOf(png, shown(png), `${category} · ${method} — ${shown(png)}`);
        if (typeof fig === "string") notes.push(fig);
        else if (fig) figures.push(fig);
      }
    }
    if (read.length) {
      tables.push(localizationTable(`${shown(dir)}/${basename(localizationPath(".", "<category>"))}`, read));
    }
  }
  return { tables, figures, notes };
}
