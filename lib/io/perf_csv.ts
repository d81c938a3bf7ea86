/**
 * `models_perf.csv`: the per-category evaluation table (`category,roc_auc,threshold,density,n_train,n_test`)
 * with a final `mean` row, as the reference writes it. This module owns its path, its writer and its
 * validating reader (the report and the notebooks read it).
 * @module
 */
import { join } from "node:path";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** The table's header, in column order. */
export const PERF_CSV_COLUMNS = ["category", "roc_auc", "threshold", "density", "n_train", "n_test"] as const;

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
}

/** Where evaluation writes the table for the models in `modelDir`. */
export function perfCsvPath(modelDir: string): string {
  return join(modelDir, "models_perf.csv");
}

/** The table's text: one row per entry, then the `mean` row. */
export function formatPerfCsv(entries: readonly PerfEntry[], density: string): string {
  const rows = entries.map((r) =>
    `${r.category},${r.auroc.toFixed(6)},${r.threshold.toFixed(6)},${density},${r.nTrain},${r.nTest}`
  );
  const mean = entries.reduce((s, r) => s + r.auroc, 0) / Math.max(1, entries.length);
  rows.push(`mean,${mean.toFixed(6)},,${density},,`);
  return [PERF_CSV_COLUMNS.join(","), ...rows].join("\n") + "\n";
}

/** Write the table (atomically). */
export async function writePerfCsv(
  path: string,
  entries: readonly PerfEntry[],
  density: string,
): Promise<void> {
  await writeFileAtomic(path, formatPerfCsv(entries, density));
}

/**
 * Parse the table's text; a wrong header or a row with a wrong number of cells or a non-numeric AUROC is a
 * `UserError` naming `path`, the line and the column.
 */
export function parsePerfCsv(text: string, path: string): PerfRow[] {
  const fix = "run `deno task eval` again to rewrite it";
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0]?.trim() !== PERF_CSV_COLUMNS.join(",")) {
    throw new UserError(`${path}: the header must be ${PERF_CSV_COLUMNS.join(",")}`, fix);
  }
  return lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    if (cells.length !== PERF_CSV_COLUMNS.length) {
      throw new UserError(
        `${path} line ${i + 2}: ${cells.length} cells, expected ${PERF_CSV_COLUMNS.length}`,
        fix,
      );
    }
    const num = (j: number, required: boolean) => {
      const v = cells[j] === "" && !required ? NaN : Number(cells[j]);
      if (required && !Number.isFinite(v)) {
        throw new UserError(
          `${path} line ${i + 2}: ${PERF_CSV_COLUMNS[j]} ${JSON.stringify(cells[j])} is not a number`,
          fix,
        );
      }
      return v;
    };
    return {
      category: cells[0],
      rocAuc: num(1, true),
      threshold: num(2, false),
      density: cells[3],
      nTrain: num(4, false),
      nTest: num(5, false),
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
