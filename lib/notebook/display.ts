/**
 * Rich display for the Deno Jupyter kernel without depending on `Deno.jupyter` (which only exists inside the
 * kernel): values carrying a `Symbol.for("Jupyter.display")` method are shown by the kernel as HTML, SVG,
 * PNG or Markdown when they are the value of a cell or are passed to `Deno.jupyter.display`. Also the HTML
 * tables of the notebooks (data-set counts, parameters).
 * @module
 */
import type { CategorySummaryRow } from "../data/mvtec.ts";

/** A Jupyter MIME bundle (`{ "text/html": "…", "text/plain": "…" }`). */
export type MimeBundle = Record<string, string>;

/** A value the Deno Jupyter kernel displays through its `Symbol.for("Jupyter.display")` method. */
export interface Displayable {
  /** Returns the MIME bundle to show. */
  [key: symbol]: () => MimeBundle;
}

/** The symbol the Deno kernel looks for (`Deno.jupyter.$display`). */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** Wrap a MIME bundle as a {@link Displayable}. */
export function displayBundle(bundle: MimeBundle): Displayable {
  return { [JUPYTER_DISPLAY]: () => bundle };
}

/** The MIME bundle of a {@link Displayable} (for tests and for re-use in reports). */
export function bundleOf(value: Displayable): MimeBundle {
  const fn = value[JUPYTER_DISPLAY];
  if (typeof fn !== "function") throw new TypeError("bundleOf: not a displayable value");
  return fn();
}

/** Base64 of bytes (chunked, so large images do not overflow the argument list of `String.fromCharCode`). */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** Display an HTML fragment (with a plain-text fallback stripped of tags). */
export function html(fragment: string, plain?: string): Displayable {
  return displayBundle({
    "text/html": fragment,
    "text/plain": plain ?? fragment.replace(/<[^>]*>/g, "").trim(),
  });
}

/** Display Markdown text. */
export function markdown(text: string): Displayable {
  return displayBundle({ "text/markdown": text, "text/plain": text });
}

/** Display an SVG document inline. */
export function svg(document: string, alt = "SVG figure"): Displayable {
  return displayBundle({ "image/svg+xml": document, "text/plain": alt });
}

/** A PNG that displays inline and keeps its bytes (e.g. to save it). */
export type PngDisplay = Displayable & {
  /** The PNG file's bytes. */
  bytes: Uint8Array;
};

/** Display PNG bytes inline (base64-encoded as Jupyter requires); the bytes stay available as `.bytes`. */
export function png(bytes: Uint8Array, alt = "PNG image"): PngDisplay {
  return { bytes, [JUPYTER_DISPLAY]: () => ({ "image/png": encodeBase64(bytes), "text/plain": alt }) };
}

/** A table cell: text (escaped) or `{ html }` (inserted as is). */
export type TableCell = string | number | { html: string };

/** Options of {@link htmlTable}. */
export interface TableOptions {
  /** Caption above the table. */
  caption?: string;
  /** Per-column alignment (default: numbers right, text left). */
  align?: ("left" | "right" | "center")[];
  /** Rows (by index) to show in bold, e.g. a total row. */
  boldRows?: number[];
  /** Extra CSS class of the `<table>`. */
  className?: string;
}

function cellHtml(cell: TableCell): string {
  if (typeof cell === "object") return cell.html;
  return escapeHtml(String(cell));
}

/**
 * An HTML table (a string) with inline styles, so it looks the same in JupyterLab, in nbconvert's HTML and
 * on GitHub. Numeric cells are right-aligned unless `align` says otherwise.
 */
export function htmlTable(headers: string[], rows: TableCell[][], options: TableOptions = {}): string {
  const border = "border:1px solid #d0d7de;padding:4px 10px";
  const alignOf = (cell: TableCell | undefined, col: number) =>
    options.align?.[col] ?? (typeof cell === "number" ? "right" : "left");
  const head = headers.map((h, c) =>
    `<th style="${border};background:#f6f8fa;text-align:${alignOf(rows[0]?.[c], c)}">${escapeHtml(h)}</th>`
  ).join("");
  const body = rows.map((row, r) => {
    const weight = options.boldRows?.includes(r) ? ";font-weight:600" : "";
    return `<tr>${
      row.map((cell, c) =>
        `<td style="${border};text-align:${alignOf(cell, c)}${weight}">${cellHtml(cell)}</td>`
      )
        .join("")
    }</tr>`;
  }).join("\n");
  const caption = options.caption
    ? `<caption style="caption-side:top;text-align:left;font-weight:600;padding:4px 0">${
      escapeHtml(options.caption)
    }</caption>`
    : "";
  const cls = options.className ? ` class="${escapeHtml(options.className)}"` : "";
  return `<table${cls} style="border-collapse:collapse;margin:6px 0;font-size:13px">${caption}` +
    `<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Rows of {@link countsTableRows}: headers and cells of the per-category counts table. */
export interface CountsTable {
  /** Column headers. */
  headers: string[];
  /** One row per category, then a total row. */
  rows: TableCell[][];
}

/**
 * The per-category counts table of the data notebook: train good, test good, test defective with the
 * split by defect type, masks, and — for the 15 MVTec AD categories — whether the counts match the
 * official release. A total row closes the table.
 */
export function countsTableRows(summary: readonly CategorySummaryRow[]): CountsTable {
  const headers = [
    "category",
    "train good",
    "test good",
    "test defective",
    "by defect type",
    "masks",
    "official",
  ];
  const rows: TableCell[][] = summary.map((r) => {
    const types = Object.entries(r.byDefectType).map(([k, v]) => `${k} ${v}`).join(", ") || "—";
    let official = "— (not an MVTec AD category)";
    if (r.official) {
      official = r.complete
        ? "✓ matches"
        : `✗ expected ${r.official.train} / ${r.official.testGood} / ${r.official.testDefective}`;
    }
    return [r.category, r.train, r.testGood, r.testDefective, types, r.masks, official];
  });
  const sum = (f: (r: CategorySummaryRow) => number) => summary.reduce((s, r) => s + f(r), 0);
  rows.push([
    `total (${summary.length} categor${summary.length === 1 ? "y" : "ies"})`,
    sum((r) => r.train),
    sum((r) => r.testGood),
    sum((r) => r.testDefective),
    "",
    sum((r) => r.masks),
    "",
  ]);
  return { headers, rows };
}

/** Display the per-category counts table ({@link countsTableRows}) as HTML. */
export function countsTable(summary: readonly CategorySummaryRow[], caption?: string): Displayable {
  const t = countsTableRows(summary);
  const align: ("left" | "right")[] = ["left", "right", "right", "right", "left", "right", "left"];
  const plain = [t.headers.join(" | "), ...t.rows.map((r) => r.map((c) => String(c)).join(" | "))].join("\n");
  return html(htmlTable(t.headers, t.rows, { caption, align, boldRows: [t.rows.length - 1] }), plain);
}

/** Display a key → value table (e.g. the notebook's parameters). */
export function keyValueTable(entries: Record<string, unknown>, caption?: string): Displayable {
  const rows: TableCell[][] = Object.entries(entries).map(([k, v]) => [
    k,
    { html: `<code>${escapeHtml(typeof v === "string" ? (v === "" ? '""' : v) : JSON.stringify(v))}</code>` },
  ]);
  const plain = Object.entries(entries).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n");
  return html(htmlTable(["parameter", "value"], rows, { caption, align: ["left", "left"] }), plain);
}
