/**
 * The page's results model, free of the DOM so it is tested in Deno: one row per scored image, its verdict
 * under the current threshold (re-classified without re-running the model), sorting by any column, and the
 * CSV export.
 * @module
 */

/** One scored image. */
export interface ResultRow {
  /** 1-based order of arrival. */
  index: number;
  /** Image name (file name or relative folder path). */
  image: string;
  /** Anomaly score. */
  score: number;
  /** Model that scored it. */
  model: string;
  /** Where it ran: `browser (wasm)`, `api`, … */
  run: string;
  /** Milliseconds for this image. */
  ms: number;
}

/** The verdict of a score under a threshold (score ≥ threshold ⇒ anomalous, as in evaluation). */
export function verdictOf(score: number, threshold: number): "anomalous" | "normal" {
  return score >= threshold ? "anomalous" : "normal";
}

/** A sortable column. */
export type SortKey = "index" | "image" | "verdict" | "score" | "threshold" | "run" | "ms";

/** Rows sorted by `key` (stable; ties keep arrival order). The threshold is the same for every row. */
export function sortRows<R extends ResultRow>(
  rows: readonly R[],
  key: SortKey,
  direction: "ascending" | "descending",
  threshold: number,
): R[] {
  const sign = direction === "ascending" ? 1 : -1;
  const value = (r: ResultRow): number | string =>
    key === "verdict" ? verdictOf(r.score, threshold) : key === "threshold" ? threshold : r[key];
  return rows.map((r, i) => ({ r, i })).sort((a, b) => {
    const va = value(a.r);
    const vb = value(b.r);
    const c = typeof va === "number" && typeof vb === "number"
      ? va - vb
      : String(va).localeCompare(String(vb), undefined, { numeric: true });
    return c !== 0 ? sign * c : a.i - b.i;
  }).map((x) => x.r);
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV of the rows under `threshold`: a header row, then one line per image (full-precision numbers). */
export function rowsToCsv(rows: readonly ResultRow[], threshold: number): string {
  const lines = ["image,verdict,score,threshold,model,run,time_ms"];
  for (const r of rows) {
    lines.push(
      [r.image, verdictOf(r.score, threshold), r.score, threshold, r.model, r.run, r.ms.toFixed(1)]
        .map(csvField).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** Slider bounds that hold the bundle threshold and every score with some headroom. */
export function sliderRange(threshold: number, scores: readonly number[]): { min: number; max: number } {
  const hi = Math.max(threshold, ...scores);
  const lo = Math.min(threshold, ...scores);
  return { min: Math.max(0, Math.min(lo * 0.8, threshold * 0.5)), max: hi * 1.25 || 1 };
}
