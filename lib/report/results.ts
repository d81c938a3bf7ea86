/**
 * The results tables of the report's title page: whatever CSV results files exist under the output folder
 * (`models/models_perf.csv`, the per-category AUROC table written by evaluation, first), read as tables.
 * @module
 */
import { join, relative } from "node:path";
import type { ReportTable } from "./html.ts";

/** Folders under the output folder that hold inputs or the report itself, not results (not searched). */
export const SKIP_DIRS: ReadonlySet<string> = new Set<string>([
  "synthetic",
  "report",
  "node_modules",
  "data",
]);

/** The results file evaluation writes, relative to the output folder (shown first). */
export const PERF_CSV = "models/models_perf.csv";

/**
 * Parse CSV text (RFC 4180: `,` separators, `"` quoting with `""` escapes, CRLF or LF line ends) into rows
 * of fields. Empty trailing lines are dropped.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

async function* csvFiles(dir: string, depth: number): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const path = join(dir, e.name);
    if (e.isDirectory && depth > 0 && !SKIP_DIRS.has(e.name)) yield* csvFiles(path, depth - 1);
    else if (e.isFile && e.name.toLowerCase().endsWith(".csv")) yield path;
  }
}

/**
 * The CSV results files under `outputDir` (up to `maxDepth` folders deep, skipping the synthetic data set
 * and the report folder), `models/models_perf.csv` first, each as a {@link ReportTable} captioned with its
 * path relative to `outputDir` (prefixed by `shownDir`). Long tables are cut at `maxRows` rows.
 */
export async function readResultTables(
  outputDir: string,
  options: { shownDir?: string; maxDepth?: number; maxRows?: number } = {},
): Promise<ReportTable[]> {
  const files: string[] = [];
  for await (const f of csvFiles(outputDir, options.maxDepth ?? 3)) files.push(f);
  const rel = (f: string) => relative(outputDir, f).replaceAll("\\", "/");
  files.sort((a, b) => Number(rel(b) === PERF_CSV) - Number(rel(a) === PERF_CSV));
  const maxRows = options.maxRows ?? 60;
  const tables: ReportTable[] = [];
  for (const f of files) {
    const rows = parseCsv(await Deno.readTextFile(f));
    if (!rows.length) continue;
    const [headers, ...body] = rows;
    const shown = options.shownDir ? `${options.shownDir.replace(/\/+$/, "")}/${rel(f)}` : rel(f);
    tables.push({
      caption: shown,
      headers,
      rows: body.slice(0, maxRows),
      note: body.length > maxRows ? `first ${maxRows} of ${body.length} rows` : undefined,
    });
  }
  return tables;
}
