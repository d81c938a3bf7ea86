/**
 * The single self-contained HTML report: a title page (parameters, backend, time taken, results tables,
 * contents) followed by each executed notebook as converted by nbconvert. The notebooks' pages are spliced
 * into one document: their styles are kept once, their bodies become sections whose element ids are
 * prefixed (so headings of different notebooks do not collide), and every reference to a resource outside
 * the file (`<script src>`, `<link href>` — require.js and MathJax in nbconvert's template, which Debian
 * points at local paths and upstream at a CDN) is removed, so the report opens offline and identically on any
 * machine.
 * @module
 */
import { escapeHtml } from "../notebook/display.ts";

/** The `<style>` blocks of an HTML document, in order. */
export function extractStyles(html: string): string[] {
  return [...html.matchAll(/<style\b[^>]*>[\s\S]*?<\/style>/gi)].map((m) => m[0]);
}

/** The content of `<body>` (the whole input when there is no body element). */
export function extractBody(html: string): string {
  const open = /<body\b[^>]*>/i.exec(html);
  if (!open) return html;
  const start = open.index + open[0].length;
  const end = html.toLowerCase().lastIndexOf("</body>");
  return html.slice(start, end >= start ? end : undefined);
}

/** The attributes of the `<body>` tag (e.g. nbconvert's theme attributes), as a string; "" when none. */
export function bodyAttributes(html: string): string {
  const m = /<body\b([^>]*)>/i.exec(html);
  return m ? m[1].trim() : "";
}

const isInline = (url: string) => /^\s*data:/i.test(url);

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag);
  return m ? (m[1] ?? m[2] ?? m[3] ?? "") : null;
}

/**
 * References to resources outside the document: `<script src>`, `<link href>` (not `data:`), `<img src>`
 * and `<iframe src>` that are not `data:` URLs, and CSS `@import`. Returns the URLs (empty when the document
 * is self-contained).
 */
export function externalResources(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/<(script|link|img|iframe|source|video|audio)\b[^>]*>/gi)) {
    const tag = m[0];
    const name = m[1].toLowerCase();
    const url = name === "link" ? attr(tag, "href") : attr(tag, "src");
    if (url !== null && !isInline(url)) found.push(url);
  }
  for (const m of html.matchAll(/@import\s+(?:url\()?\s*["']?([^"')\s;]+)/gi)) found.push(m[1]);
  return found;
}

/**
 * Remove everything that would load a resource from outside the document: `<script src=…></script>` and
 * `<link href=…>` whose URL is not `data:`, and MathJax's configuration scripts (without MathJax they only
 * log errors). Inline scripts and styles stay.
 */
export function stripExternalResources(html: string): string {
  return html
    .replace(/<script\b[^>]*\bsrc\s*=[^>]*>[\s\S]*?<\/script>/gi, (tag) => {
      const src = attr(tag.slice(0, tag.indexOf(">") + 1), "src");
      return src !== null && isInline(src) ? tag : "";
    })
    .replace(/<link\b[^>]*>/gi, (tag) => {
      const href = attr(tag, "href");
      return href !== null && !isInline(href) ? "" : tag;
    })
    .replace(/<script\b[^>]*type\s*=\s*["']text\/x-mathjax-config["'][^>]*>[\s\S]*?<\/script>/gi, "")
    .replace(/<!--\s*(Load mathjax|MathJax configuration|End of mathjax configuration)\s*-->/gi, "");
}

/**
 * Prefix every element id in an HTML fragment with `prefix-`, and the references to them (`href="#id"`,
 * `xlink:href="#id"`, `url(#id)`) likewise, so several notebooks (and their inline SVGs) can share a page.
 */
export function prefixIds(fragment: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of fragment.matchAll(/\sid\s*=\s*"([^"]+)"/g)) ids.add(m[1]);
  if (!ids.size) return fragment;
  const fix = (id: string) => (ids.has(id) ? `${prefix}-${id}` : id);
  return fragment
    .replace(/(\sid\s*=\s*")([^"]+)"/g, (_m, a: string, id: string) => `${a}${fix(id)}"`)
    .replace(/((?:xlink:)?href\s*=\s*")#([^"]+)"/g, (_m, a: string, id: string) => `${a}#${fix(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${fix(id)})`);
}

/** A table of the title page. */
export interface ReportTable {
  /** Caption (e.g. the results file it came from). */
  caption: string;
  /** Column headers. */
  headers: string[];
  /** Rows of cell texts. */
  rows: string[][];
  /** A note under the table (e.g. "first 50 of 200 rows"). */
  note?: string;
}

/** An image of the title page, embedded in the document. */
export interface ReportFigure {
  /** Caption (what it shows and the file it came from). */
  caption: string;
  /** The image as a `data:image/…` URL (anything else is not embedded, so the report stays offline). */
  src: string;
}

/** The title page's localisation part (see `localization.ts`). */
export interface ReportLocalization {
  /** One table per model folder with localisation results files. */
  tables: ReportTable[];
  /** Heatmap grids. */
  figures: ReportFigure[];
  /** Notes, e.g. a results file that was skipped because it does not validate. */
  notes: string[];
}

/** One executed notebook in the report. */
export interface ReportSection {
  /** Notebook file name without extension, e.g. `01_data_extraction`. */
  name: string;
  /** The notebook's title (its first Markdown heading) or the name. */
  title: string;
  /** nbconvert's HTML of the executed notebook (a whole document). */
  html: string;
  /** Code cells. */
  codeCells: number;
  /** Seconds it took to run. */
  seconds: number;
}

/** Everything the report shows. */
export interface ReportInput {
  /** Title of the report. */
  title: string;
  /** When the run started. */
  startedAt: Date;
  /** Total wall time in seconds. */
  totalSeconds: number;
  /** The run's parameters (name → value as passed; "" for defaults). */
  params: Record<string, string>;
  /** Requested backend and what the notebooks reported using (facts). */
  backend: { requested: string; used?: string };
  /** Other facts the notebooks recorded (key → value). */
  facts: Record<string, unknown>;
  /** Versions of the tools (e.g. Deno, sspcab-deno, nbclient). */
  versions: Record<string, string>;
  /** Results tables read from the output folder. */
  results: ReportTable[];
  /** Localisation results and heatmap grids; absent or null: the title page has no localisation part. */
  localization?: ReportLocalization | null;
  /** Where results were looked for (for the "none yet" message). */
  resultsHint: string;
  /** The executed notebooks, in order. */
  sections: ReportSection[];
}

/** Format seconds as `12.3 s` or `4 min 05 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return m < 60 ? `${m} min ${String(s).padStart(2, "0")} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function table(headers: string[], rows: string[][], cls = "report-table"): string {
  return `<table class="${cls}"><thead><tr>${
    headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("")
  }</tr></thead>` +
    `<tbody>${
      rows.map((r) =>
        `<tr>${
          r.map((c) =>
            `<td${/^[-+]?\d[\d.,]*(e[-+]?\d+)?%?$/i.test(c.trim()) ? ' class="num"' : ""}>${
              escapeHtml(c)
            }</td>`
          )
            .join("")
        }</tr>`
      ).join("")
    }</tbody></table>`;
}

const REPORT_CSS = `
.report-title, .report-section-head { font-family: var(--jp-content-font-family, system-ui, sans-serif); color: #1f2328; }
.report-title { max-width: 1100px; margin: 0 auto 32px; padding: 28px 32px; border-bottom: 3px solid #1f77b4; }
.report-title h1 { font-size: 28px; margin: 0 0 4px; }
.report-title .subtitle { color: #57606a; margin: 0 0 18px; font-size: 14px; }
.report-title h2 { font-size: 18px; margin: 22px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.report-table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
.report-table th, .report-table td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }
.report-table th { background: #f6f8fa; }
.report-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.report-table code { font-size: 12px; }
.report-note { color: #57606a; font-size: 13px; margin: 4px 0; }
.report-warning { color: #9a6700; }
.report-figure { margin: 8px 0 14px; }
.report-figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
.report-figure figcaption { color: #57606a; font-size: 13px; margin-top: 2px; }
.report-toc a { color: #0969da; text-decoration: none; }
.report-section { margin: 0 auto 40px; page-break-before: always; }
.report-section-head { background: #f6f8fa; border-top: 3px solid #1f77b4; padding: 10px 24px; margin: 0 0 12px; }
.report-section-head h1 { font-size: 20px; margin: 0; }
.report-section-head .meta { color: #57606a; font-size: 13px; }
`;

function localizationHtml(loc: ReportLocalization, captioned: (t: ReportTable) => string): string {
  const parts = loc.tables.map(captioned);
  for (const note of loc.notes) parts.push(`<p class="report-note report-warning">${escapeHtml(note)}</p>`);
  for (const f of loc.figures) {
    if (!/^data:image\/[a-z.+-]+;base64,[A-Za-z0-9+/=]*$/i.test(f.src)) {
      parts.push(
        `<p class="report-note report-warning">${escapeHtml(f.caption)}: not embedded (not a data: URL)</p>`,
      );
      continue;
    }
    parts.push(
      `<figure class="report-figure"><img src="${f.src}" alt="${escapeHtml(f.caption)}"><figcaption>${
        escapeHtml(f.caption)
      }</figcaption></figure>`,
    );
  }
  return parts.join("\n");
}

/**
 * The report as one HTML document: title page, then one section per notebook (styles of the notebooks
 * kept once, ids prefixed, external resources removed).
 */
export function buildReportHtml(input: ReportInput): string {
  const styles: string[] = [];
  const seen = new Set<string>();
  for (const s of input.sections) {
    for (const style of extractStyles(s.html)) {
      if (!seen.has(style)) {
        seen.add(style);
        styles.push(style);
      }
    }
  }
  const bodyAttrs = input.sections.length ? bodyAttributes(input.sections[0].html) : "";
  const paramRows = Object.entries(input.params).map(([k, v]) => [k, v === "" ? "(default)" : v]);
  const backendRows = [["requested", input.backend.requested || "auto"]];
  if (input.backend.used) backendRows.push(["used", input.backend.used]);
  else backendRows.push(["used", "not reported (no notebook of this run initialised a compute backend)"]);
  const factRows = Object.entries(input.facts).filter(([k]) => k !== "backend").map((
    [k, v],
  ) => [k, String(v)]);
  const runRows = input.sections.map((s) => [s.name, String(s.codeCells), formatDuration(s.seconds)]);
  runRows.push(["total (with kernel start-up)", "", formatDuration(input.totalSeconds)]);
  const captioned = (t: ReportTable) =>
    `<p class="report-note"><strong>${escapeHtml(t.caption)}</strong></p>${table(t.headers, t.rows)}${
      t.note ? `<p class="report-note">${escapeHtml(t.note)}</p>` : ""
    }`;
  const results = input.results.length
    ? input.results.map(captioned).join("\n")
    : `<p class="report-note">None: ${escapeHtml(input.resultsHint)}</p>`;
  const localization = input.localization
    ? `\n<h2>Localisation</h2>${localizationHtml(input.localization, captioned)}`
    : "";
  const toc = input.sections.map((s) =>
    `<li><a href="#nb-${escapeHtml(s.name)}">${escapeHtml(s.name)}</a> — ${escapeHtml(s.title)}</li>`
  ).join("");
  const title = `<header class="report-title" id="report-title">
<h1>${escapeHtml(input.title)}</h1>
<p class="subtitle">Generated ${
    escapeHtml(input.startedAt.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"))
  } · ${escapeHtml(Object.entries(input.versions).map(([k, v]) => `${k} ${v}`).join(" · "))}</p>
<h2>Parameters</h2>${table(["parameter", "value"], paramRows)}
<h2>Backend</h2>${table(["", "backend"], backendRows)}${
    factRows.length ? table(["fact", "value"], factRows) : ""
  }
<h2>Time taken</h2>${table(["notebook", "code cells", "time"], runRows)}
<h2>Results</h2>${results}${localization}
<h2>Contents</h2><ol class="report-toc">${toc}</ol>
</header>`;
  const sections = input.sections.map((s) => {
    const body = prefixIds(stripExternalResources(extractBody(s.html)), `nb-${s.name}`);
    return `<section class="report-section" id="nb-${escapeHtml(s.name)}" data-notebook="${
      escapeHtml(s.name)
    }">
<div class="report-section-head"><h1>${escapeHtml(s.name)} — ${escapeHtml(s.title)}</h1>
<div class="meta">${s.codeCells} code cells · ran in ${formatDuration(s.seconds)}</div></div>
${body}
</section>`;
  }).join("\n");
  const doc = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
${styles.join("\n")}
<style type="text/css">${REPORT_CSS}</style>
</head>
<body${bodyAttrs ? ` ${bodyAttrs}` : ""}>
${title}
${sections}
</body>
</html>
`;
  return stripExternalResources(doc);
}

/** The first Markdown heading of a notebook (`# Title` → `Title`), or null. */
export function notebookTitle(
  notebook: { cells?: { cell_type: string; source: string | string[] }[] },
): string | null {
  for (const cell of notebook.cells ?? []) {
    if (cell.cell_type !== "markdown") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    const m = /^\s*#{1,2}\s+(.+)$/m.exec(src);
    if (m) return m[1].trim();
  }
  return null;
}
