/**
 * `models_perf.csv`: the per-category evaluation table (`category,roc_auc,threshold,density,n_train,n_test`)
 * with a final `mean` row, as the reference writes it. When evaluation computed anomaly maps, three columns
 * per map method follow — `pixel_auroc_<method>,au_pro_<method>,pixel_f1_max_<method>` (methods in
 * {@link LOCALIZATION_METHODS} order; the column set is the union over the categories, a cell is empty where a
 * category has no value, e.g. no ground-truth masks) — and the `mean` row averages each over the categories
 * that have a value. Masks are resized to the map size with nearest neighbour before these are computed.
 * This module owns its path, its writer and its validating reader (the report and the notebooks read it),
 * which accepts the table with or without the localisation columns.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { LOCALIZATION_METHODS, type LocalizationMethod } from "./localization_file.ts";

/** The table's first columns, in order (the whole header when no anomaly maps were evaluated). */
export const PERF_CSV_COLUMNS = ["category", "roc_auc", "threshold", "density", "n_train", "n_test"] as const;

/** The three localisation columns of `method`, in order. */
export function localizationColumns(method: LocalizationMethod): [string, string, string] {
  return [`pixel_auroc_${method}`, `au_pro_${method}`, `pixel_f1_max_${method}`];
}

/** One map method's pixel-level metrics in a row of the table. */
export interface PerfLocalization {
  /** The map method. */
  method: LocalizationMethod;
  /** Pooled pixel AUROC (0–1). */
  pixelAuroc: number;
  /** AU-PRO up to FPR 0.3, normalised (0–1). */
  auPro: number;
  /** Best pooled pixel F1 (0–1). */
  pixelF1Max: number;
}

/** One row of the table (the `mean` row has no threshold or counts). */
export interface PerfRow {
  /** Category, or `mean`. */
  category: string;
  /** Test image AUROC (0–1). */
  rocAuc: number;
  /** Youden threshold (NaN on the mean row). */
  threshold: number;
  /** Density estimator, e.g. `gaussian`. */
  density: string;
  /** Train images (NaN on the mean row). */
  nTrain: number;
  /** Test images (NaN on the mean row). */
  nTest: number;
  /** The map methods this row has values for (empty cells are left out), in column order. */
  localization: PerfLocalization[];
}

/** What one evaluated category contributes to the table. */
export interface PerfEntry {
  /** Category. */
  category: string;
  /** Test image AUROC. */
  auroc: number;
  /** Youden threshold. */
  threshold: number;
  /** Train images. */
  nTrain: number;
  /** Test images. */
  nTest: number;
  /** Pixel-level metrics of each map method computed for this category (none without masks). */
  localization?: readonly PerfLocalization[];
}

/** Where evaluation writes the table for the models in `modelDir`. */
export function perfCsvPath(modelDir: string): string {
  return join(modelDir, "models_perf.csv");
}

const fmt = (v: number) => v.toFixed(6);

/** The table's text: one row per entry, then the `mean` row (see the module doc for the columns). */
export function formatPerfCsv(entries: readonly PerfEntry[], density: string): string {
  const present = new Set(entries.flatMap((e) => (e.localization ?? []).map((l) => l.method)));
  const methods = LOCALIZATION_METHODS.filter((m) => present.has(m));
  const header = [...PERF_CSV_COLUMNS, ...methods.flatMap(localizationColumns)];
  const locCells = (e: PerfEntry) =>
    methods.flatMap((m) => {
      const l = e.localization?.find((x) => x.method === m);
      return l ? [fmt(l.pixelAuroc), fmt(l.auPro), fmt(l.pixelF1Max)] : ["", "", ""];
    });
  const rows = entries.map((r) =>
    [r.category, fmt(r.auroc), fmt(r.threshold), density, r.nTrain, r.nTest, ...locCells(r)].join(",")
  );
  const mean = entries.reduce((s, r) => s + r.auroc, 0) / Math.max(1, entries.length);
  const meanLoc = methods.flatMap((m) => {
    const ls = entries.flatMap((e) => e.localization?.filter((x) => x.method === m) ?? []);
    const avg = (f: (l: PerfLocalization) => number) => fmt(ls.reduce((s, l) => s + f(l), 0) / ls.length);
    return [avg((l) => l.pixelAuroc), avg((l) => l.auPro), avg((l) => l.pixelF1Max)];
  });
  rows.push(["mean", fmt(mean), "", density, "", "", ...meanLoc].join(","));
  return [header.join(","), ...rows].join("\n") + "\n";
}

/** Write the table (atomically). */
export async function writePerfCsv(
  path: string,
  entries: readonly PerfEntry[],
  density: string,
): Promise<void> {
  await writeFileAtomic(path, formatPerfCsv(entries, density));
}

// The localisation methods of a header's trailing columns, or a description of what is wrong.
function headerMethods(columns: readonly string[]): LocalizationMethod[] | string {
  const base = PERF_CSV_COLUMNS.length;
  if (PERF_CSV_COLUMNS.some((c, i) => columns[i] !== c)) {
    return `it must start with ${PERF_CSV_COLUMNS.join(",")}`;
  }
  const rest = columns.slice(base);
  if (rest.length % 3 !== 0) return "the localisation columns come in threes";
  const methods: LocalizationMethod[] = [];
  for (let k = 0; k < rest.length; k += 3) {
    const name = rest[k].startsWith("pixel_auroc_") ? rest[k].slice("pixel_auroc_".length) : "";
    const method = LOCALIZATION_METHODS.find((m) => m === name);
    const wanted = method ? localizationColumns(method) : null;
    if (!method || !wanted || wanted.some((c, j) => rest[k + j] !== c)) {
      return `columns ${base + k + 1}–${
        base + k + 3
      } must be pixel_auroc_M,au_pro_M,pixel_f1_max_M for M one of ` +
        `${LOCALIZATION_METHODS.join(", ")} (got ${rest.slice(k, k + 3).join(",")})`;
    }
    if (methods.includes(method)) return `the columns of ${method} appear twice`;
    methods.push(method);
  }
  return methods;
}

/**
 * Parse the table's text (with or without localisation columns); a wrong header, a row with a wrong number
 * of cells, a non-numeric AUROC, or a localisation cell that is not a number in [0, 1] (or a method with
 * some of its three cells empty) is a `UserError` naming `path`, the line and the column.
 */
export function parsePerfCsv(text: string, path: string): PerfRow[] {
  const fix = "run `deno task eval` again to rewrite it";
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").trim().split(",");
  const methods = headerMethods(header);
  if (typeof methods === "string") {
    throw new UserError(
      `${path}: bad header (${methods}); expected ${PERF_CSV_COLUMNS.join(",")} then, per map method M, ` +
        "pixel_auroc_M,au_pro_M,pixel_f1_max_M",
      fix,
    );
  }
  return lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    const where = (j: number) => `${path} line ${i + 2}: ${header[j]} ${JSON.stringify(cells[j])}`;
    if (cells.length !== header.length) {
      throw new UserError(
        `${path} line ${i + 2}: ${cells.length} cells, expected ${header.length}`,
        fix,
      );
    }
    const num = (j: number, required: boolean) => {
      const v = cells[j] === "" && !required ? NaN : Number(cells[j]);
      if (required && !Number.isFinite(v)) throw new UserError(`${where(j)} is not a number`, fix);
      return v;
    };
    const localization: PerfLocalization[] = [];
    methods.forEach((method, k) => {
      const j0 = PERF_CSV_COLUMNS.length + 3 * k;
      const three = [j0, j0 + 1, j0 + 2];
      const empty = three.filter((j) => cells[j] === "").length;
      if (empty === 3) return;
      if (empty !== 0) {
        const j = three.find((j) => cells[j] === "")!;
        throw new UserError(`${where(j)} is empty but other ${method} cells of the row are not`, fix);
      }
      const [a, p, f] = three.map((j) => {
        const v = cells[j].trim() === "" ? NaN : Number(cells[j]);
        if (!(v >= 0 && v <= 1)) throw new UserError(`${where(j)} is not a number in [0, 1]`, fix);
        return v;
      });
      localization.push({ method, pixelAuroc: a, auPro: p, pixelF1Max: f });
    });
    return {
      category: cells[0],
      rocAuc: num(1, true),
      threshold: num(2, false),
      density: cells[3],
      nTrain: num(4, false),
      nTest: num(5, false),
      localization,
    };
  });
}

/** Read and validate the table; a missing file says to run the evaluation. */
export async function readPerfCsv(path: string): Promise<PerfRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${path} not found`, "run `deno task eval` first");
    }
    throw err;
  }
  return parsePerfCsv(text, path);
}
