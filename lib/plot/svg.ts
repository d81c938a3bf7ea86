/**
 * A small, dependency-free SVG renderer for the plotly-style {@link Figure} subset of `figure.ts`: scatter
 * (lines, markers), histogram and bar traces, a second y axis, shapes, annotations, legend and title, with
 * 1-2-5 ticks, light grid lines and clipping to the plot area. Output is deterministic (same figure, same
 * bytes) and uses only SVG features librsvg (sharp) renders, so {@link svgToPng} gives the same picture.
 *
 * Each trace is drawn as one `<g class="trace …">` holding one `<path>` per drawn part (a line path and/or a
 * marker path; the bars of a bar or histogram trace form one path).
 * @module
 */
import {
  type Axis,
  type BarTrace,
  type Bins,
  type Figure,
  type HistogramTrace,
  type Layout,
  type LineStyle,
  niceStep,
  PALETTE,
  type ScatterTrace,
  sharedBins,
  titleText,
  type Trace,
} from "./figure.ts";

/** The font stack: DejaVu Sans (what fontconfig gives librsvg on Linux), Verdana (same metrics), generic. */
export const FONT_FAMILY = "DejaVu Sans, Verdana, sans-serif";

const TEXT_COLOR = "#222222";
const AXIS_COLOR = "#444444";
const GRID_COLOR = "#e6e6e6";
const TICK_FONT = 11;
const AXIS_TITLE_FONT = 13;
const TITLE_FONT = 16;
const LEGEND_FONT = 12;

/** A resolved axis: its range, tick positions and labels (and categories for a category axis). */
export interface AxisInfo {
  /** Data range mapped onto the axis, `[start, end]`. */
  range: [number, number];
  /** Tick positions in data units. */
  ticks: number[];
  /** Tick labels, parallel to `ticks`. */
  tickLabels: string[];
  /** Tick spacing (1 for a category axis). */
  step: number;
  /** Category names in order when the axis is categorical (bar traces with string x). */
  categories?: string[];
  /** Tick label angle in degrees (0 or negative). */
  tickAngle: number;
}

/** The histogram of one trace as the renderer bins it. */
export interface HistogramInfo {
  /** Index of the trace in `figure.data`. */
  trace: number;
  /** Bin edges (`counts.length + 1` of them). */
  edges: number[];
  /** Raw counts per bin (before `histnorm`). */
  counts: number[];
  /** Bar heights after `histnorm`. */
  heights: number[];
}

/** The pixel box of the plot area. */
export interface PlotBox {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  w: number;
  /** Height. */
  h: number;
}

/** Everything the renderer decides before drawing: sizes, plot box, axes, histogram bins. */
export interface ResolvedFigure {
  /** Figure width in px. */
  width: number;
  /** Figure height in px. */
  height: number;
  /** Plot area. */
  plot: PlotBox;
  /** X axis. */
  xaxis: AxisInfo;
  /** Left y axis. */
  yaxis: AxisInfo;
  /** Right y axis, when a trace uses it. */
  yaxis2?: AxisInfo;
  /** Histograms, one per histogram trace. */
  histograms: HistogramInfo[];
}

// ---------------------------------------------------------------------------------------------------------
// Text helpers

/** Escape text for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

// Advance widths of DejaVu Sans in em (Verdana's are within a few per cent).
const WIDTH_GROUPS: [string, number][] = [
  ["ijl'", 0.278],
  ["IJ", 0.295],
  [" .,\u00b7", 0.318],
  ["/:;|", 0.337],
  ["f", 0.352],
  ["-", 0.361],
  ["()[]t", 0.39],
  ["!", 0.401],
  ["r", 0.411],
  ['"', 0.46],
  ["*_\u2013", 0.5],
  ["s", 0.521],
  ["z", 0.525],
  ["?", 0.531],
  ["c", 0.55],
  ["L", 0.557],
  ["F", 0.575],
  ["k", 0.579],
  ["vxy", 0.592],
  ["P", 0.603],
  ["TY", 0.611],
  ["aeo", 0.613],
  ["E", 0.632],
  ["bdghnpquS0123456789$", 0.635],
  ["K", 0.656],
  ["ABVXZ", 0.685],
  ["CR", 0.697],
  ["U", 0.732],
  ["HN", 0.75],
  ["DG", 0.773],
  ["&", 0.78],
  ["OQ", 0.787],
  ["w", 0.818],
  ["#+<=>\u2212", 0.838],
  ["M", 0.863],
  ["%", 0.95],
  ["m", 0.974],
  ["W", 0.989],
  ["@\u2014", 1.0],
];
const CHAR_WIDTHS: Record<string, number> = Object.fromEntries(
  WIDTH_GROUPS.flatMap(([chars, w]) => [...chars].map((c) => [c, w])),
);

/** Estimated rendered width of `text` in px at `fontSize` (DejaVu Sans metrics). */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) em += CHAR_WIDTHS[ch] ?? 0.62;
  return em * fontSize;
}

/** Split a plotly text on `<br>` into lines. */
function lines(text: string): string[] {
  return text.split(/<br\s*\/?>/i);
}

/** Format a pixel coordinate: at most 2 decimals, no `-0`. */
function n(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

/** Text element(s) for possibly multi-line text; `y` is the baseline of the first line. */
function textEl(
  x: number,
  y: number,
  text: string,
  opts: {
    size: number;
    anchor?: "start" | "middle" | "end";
    color?: string;
    weight?: string;
    cls?: string;
    transform?: string;
  },
): string {
  const ls = lines(text);
  const attrs = [
    opts.cls ? `class="${opts.cls}"` : "",
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    `font-size="${n(opts.size)}"`,
    opts.anchor && opts.anchor !== "start" ? `text-anchor="${opts.anchor}"` : "",
    `fill="${escapeXml(opts.color ?? TEXT_COLOR)}"`,
    opts.weight ? `font-weight="${opts.weight}"` : "",
    opts.transform ? `transform="${opts.transform}"` : "",
  ].filter((a) => a !== "").join(" ");
  if (ls.length === 1) return `<text ${attrs}>${escapeXml(ls[0])}</text>`;
  const spans = ls.map((l, i) =>
    `<tspan x="${n(x)}" dy="${i === 0 ? 0 : n(opts.size * 1.2)}">${escapeXml(l)}</tspan>`
  ).join("");
  return `<text ${attrs}>${spans}</text>`;
}

// ---------------------------------------------------------------------------------------------------------
// Numbers, ticks, ranges

/** Whether `v` is a finite number. */
function fin(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Decimals needed to print multiples of `step` exactly. */
function stepDecimals(step: number): number {
  const d = -Math.floor(Math.log10(step) + 1e-9);
  // 1-2-5 steps need no more digits than their exponent; other steps (user dtick) may need more.
  let decimals = Math.max(0, d);
  while (decimals < 12 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6) {
    decimals++;
  }
  return decimals;
}

/** Format a tick value (uses the minus sign U+2212, like matplotlib). */
export function formatTick(v: number, step: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s: string;
  if (step < 1e-4 || a >= 1e7) {
    const digits = Math.max(0, Math.min(6, Math.floor(Math.log10(a) + 1e-9) - Math.floor(Math.log10(step))));
    s = v.toExponential(digits).replace(/\.?0+e/, "e");
  } else {
    s = v.toFixed(stepDecimals(step));
  }
  return s.replace(/^-/, "\u2212");
}

/** The 1-2-5 step below `step` (which is itself 1, 2 or 5 × 10^k). */
function previousNiceStep(step: number): number {
  const exp = Math.floor(Math.log10(step) + 1e-9);
  const mant = Math.round(step / Math.pow(10, exp));
  return mant === 1 ? 0.5 * Math.pow(10, exp) : mant === 2 ? Math.pow(10, exp) : 2 * Math.pow(10, exp);
}

/** Nice ticks over `[lo, hi]`: multiples of a 1-2-5 step giving about `target` intervals (or of `dtick`). */
export function niceTicks(
  lo: number,
  hi: number,
  target: number,
  dtick?: number,
): { step: number; ticks: number[] } {
  const a = Math.min(lo, hi);
  const b = Math.max(lo, hi);
  const span = b - a;
  if (!(span > 0) || !Number.isFinite(span)) return { step: 1, ticks: fin(a) ? [a] : [] };
  let step: number;
  if (fin(dtick) && dtick > 0 && span / dtick <= 200) step = dtick;
  else {
    // Of the 1-2-5 steps just above and just below span/target, take the one whose interval count is nearer.
    const t = Math.max(1, target);
    const above = niceStep(span / t);
    const below = previousNiceStep(above);
    step = Math.abs(span / below - t) < Math.abs(span / above - t) ? below : above;
  }
  if (!(step > 0)) step = niceStep(span);
  const decimals = Math.min(15, stepDecimals(step) + 2);
  const first = Math.ceil(a / step - 1e-9);
  const last = Math.floor(b / step + 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)) + 0);
  return { step, ticks };
}

/** Extent accumulator: "soft" extremes get padding, "hard" ones (bar bases, bin edges) do not. */
interface Extent {
  softLo: number;
  softHi: number;
  hardLo: number;
  hardHi: number;
}

function emptyExtent(): Extent {
  return { softLo: Infinity, softHi: -Infinity, hardLo: Infinity, hardHi: -Infinity };
}

function addSoft(e: Extent, v: number): void {
  if (!fin(v)) return;
  if (v < e.softLo) e.softLo = v;
  if (v > e.softHi) e.softHi = v;
}

function addHard(e: Extent, v: number): void {
  if (!fin(v)) return;
  if (v < e.hardLo) e.hardLo = v;
  if (v > e.hardHi) e.hardHi = v;
}

/** The range of an extent: the data's range with 5 % padding on soft sides; `[0, 1]` when empty. */
function extentRange(e: Extent, pad = 0.05): [number, number] {
  const lo = Math.min(e.softLo, e.hardLo);
  const hi = Math.max(e.softHi, e.hardHi);
  if (!fin(lo) || !fin(hi)) return [0, 1];
  if (hi === lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const span = hi - lo;
  // Pad a side only when its extreme is soft (a data point or a bar top, not a bar base or a bin edge).
  const a = e.softLo < e.hardLo ? e.softLo - pad * span : lo;
  const b = e.softHi > e.hardHi ? e.softHi + pad * span : hi;
  return [a, b];
}

/** Whether a fixed range is usable. */
function validRange(r: [number, number] | undefined): r is [number, number] {
  return Array.isArray(r) && r.length === 2 && fin(r[0]) && fin(r[1]) && r[0] !== r[1];
}

// ---------------------------------------------------------------------------------------------------------
// Histogram binning

/**
 * Bin `values` (non-finite ones ignored) into `[start + i·size, start + (i+1)·size)`; the last bin also takes
 * values equal to its right edge (so a value at `end` is counted, as numpy does).
 */
export function histogramBins(values: ArrayLike<number>, bins: Bins): { edges: number[]; counts: number[] } {
  const size = bins.size > 0 && fin(bins.size) ? bins.size : 1;
  const nb = Math.max(1, Math.min(10000, Math.ceil((bins.end - bins.start) / size - 1e-9)));
  const edges = Array.from({ length: nb + 1 }, (_, i) => bins.start + i * size);
  const counts = new Array<number>(nb).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!fin(v) || v < bins.start || v > edges[nb] * (1 + 1e-12) + 1e-12) continue;
    let k = Math.floor((v - bins.start) / size);
    if (k >= nb) k = nb - 1;
    if (k < 0) k = 0;
    counts[k]++;
  }
  return { edges, counts };
}

// ---------------------------------------------------------------------------------------------------------
// Layout resolution

interface BarItem {
  /** Left and right edges in x data units. */
  x0: number;
  x1: number;
  /** Bottom and top in y data units. */
  y0: number;
  y1: number;
}

interface Prepared {
  resolved: ResolvedFigure;
  colors: string[];
  bars: Map<number, BarItem[]>;
  legend: LegendEntry[];
  legendBox?: { x: number; y: number; w: number; h: number; rows: LegendRow[]; horizontal: boolean };
  titleLines: string[];
  margin: { l: number; r: number; t: number; b: number };
  y2Area: number;
}

interface LegendEntry {
  trace: number;
  label: string;
  width: number;
}

interface LegendRow {
  entries: { entry: LegendEntry; dx: number }[];
}

const LEGEND_SYMBOL = 28;
const LEGEND_ROW = 20;
const LEGEND_PAD = 8;

function traceColor(trace: Trace, index: number, colorway: readonly string[]): string {
  if (trace.type === "scatter") {
    return trace.line?.color ?? trace.marker?.color ?? colorway[index % colorway.length];
  }
  return trace.marker?.color ?? colorway[index % colorway.length];
}

function isCategoryTrace(t: Trace): boolean {
  return t.type === "bar" && Array.isArray(t.x) && t.x.some((v) => typeof v === "string");
}

function legendWanted(figure: Figure): boolean {
  const named = figure.data.filter((t) => t.showlegend !== false).length;
  return figure.layout.showlegend ?? named > 1;
}

/** Lay legend entries out: vertical stack, or rows wrapping at `maxWidth`. */
function layoutLegend(entries: LegendEntry[], horizontal: boolean, maxWidth: number) {
  const rows: LegendRow[] = [];
  if (!horizontal) {
    for (const e of entries) rows.push({ entries: [{ entry: e, dx: 0 }] });
    const w = Math.max(0, ...entries.map((e) => e.width));
    return { rows, w: w + 2 * LEGEND_PAD, h: rows.length * LEGEND_ROW + 2 * LEGEND_PAD - 4 };
  }
  let row: LegendRow = { entries: [] };
  let x = 0;
  let w = 0;
  for (const e of entries) {
    if (row.entries.length > 0 && x + e.width > maxWidth - 2 * LEGEND_PAD) {
      rows.push(row);
      row = { entries: [] };
      x = 0;
    }
    row.entries.push({ entry: e, dx: x });
    x += e.width + 18;
    w = Math.max(w, x - 18);
  }
  if (row.entries.length > 0) rows.push(row);
  return { rows, w: w + 2 * LEGEND_PAD, h: rows.length * LEGEND_ROW + 2 * LEGEND_PAD - 4 };
}

function prepare(figure: Figure): Prepared {
  const layout: Layout = figure.layout ?? {};
  const data: Trace[] = Array.isArray(figure.data) ? figure.data : [];
  const width = fin(layout.width) && layout.width > 50 ? layout.width : 700;
  const height = fin(layout.height) && layout.height > 50 ? layout.height : 450;
  const colorway = layout.colorway && layout.colorway.length > 0 ? layout.colorway : PALETTE;
  const colors = data.map((t, i) => traceColor(t, i, colorway));
  const barmode = layout.barmode ?? "group";
  const bargap = fin(layout.bargap) ? Math.min(0.95, Math.max(0, layout.bargap)) : 0.2;

  // Category axis.
  const categoryTraces = data.filter(isCategoryTrace);
  let categories: string[] | undefined;
  if (categoryTraces.length > 0) {
    const seen = new Set<string>();
    for (const t of categoryTraces) for (const v of (t as BarTrace).x) seen.add(String(v));
    categories = [...seen];
  }
  const catIndex = new Map((categories ?? []).map((c, i) => [c, i]));

  // Histograms: explicit xbins, else bins shared by all auto-binned histograms (as plotly coordinates them).
  const autoValues: number[] = [];
  let autoMax = 0;
  for (const t of data) {
    if (t.type === "histogram" && !t.xbins) {
      for (const v of t.x ?? []) if (fin(v)) autoValues.push(v);
      autoMax = Math.max(autoMax, fin(t.nbinsx) && t.nbinsx > 0 ? t.nbinsx : 0);
    }
  }
  const autoBins = autoValues.length > 0
    ? sharedBins(
      autoValues,
      autoMax > 0 ? autoMax : Math.min(50, Math.max(5, Math.ceil(Math.sqrt(autoValues.length)))),
    )
    : null;
  const histograms: HistogramInfo[] = [];
  data.forEach((t, i) => {
    if (t.type !== "histogram") return;
    const bins = t.xbins && fin(t.xbins.start) && fin(t.xbins.end) && t.xbins.size > 0 ? t.xbins : autoBins;
    if (!bins) {
      histograms.push({ trace: i, edges: [], counts: [], heights: [] });
      return;
    }
    const { edges, counts } = histogramBins(t.x ?? [], bins);
    const total = counts.reduce((a, b) => a + b, 0);
    const heights = counts.map((c, k) =>
      t.histnorm === "probability"
        ? (total > 0 ? c / total : 0)
        : t.histnorm === "probability density"
        ? (total > 0 ? c / total / (edges[k + 1] - edges[k]) : 0)
        : c
    );
    histograms.push({ trace: i, edges, counts, heights });
  });

  // Bar items (bars and histogram bins) in data units, honouring barmode.
  const bars = new Map<number, BarItem[]>();
  const stackBase = new Map<string, { pos: number; neg: number }>();
  const barTraces = data.map((t, i) => ({ t, i })).filter(({ t }) => t.type === "bar");
  const histTraces = data.map((t, i) => ({ t, i })).filter(({ t }) => t.type === "histogram");
  // Slot width for numeric bar positions: the smallest gap between distinct positions.
  const numericPositions = [
    ...new Set(
      barTraces.flatMap(({ t }) =>
        (t as BarTrace).x.filter((v) => typeof v === "number" && fin(v)) as number[]
      ),
    ),
  ].sort((a, b) => a - b);
  let numericSlot = Infinity;
  for (let k = 1; k < numericPositions.length; k++) {
    numericSlot = Math.min(numericSlot, numericPositions[k] - numericPositions[k - 1]);
  }
  if (!fin(numericSlot) || numericSlot <= 0) numericSlot = 1;
  const place = (
    group: { i: number }[],
    gi: number,
    center: number,
    slot: number,
    gap: number,
    y: number,
  ): BarItem => {
    const full = slot * (1 - gap);
    let x0 = center - full / 2;
    let w = full;
    if (barmode === "group" && group.length > 1) {
      w = full / group.length;
      x0 += gi * w;
    }
    let y0 = 0;
    let y1 = y;
    if (barmode === "stack") {
      const key = `${n(center)}`;
      const base = stackBase.get(key) ?? { pos: 0, neg: 0 };
      if (y >= 0) {
        y0 = base.pos;
        base.pos += y;
      } else {
        y0 = base.neg;
        base.neg += y;
      }
      y1 = y0 + y;
      stackBase.set(key, base);
    }
    return { x0, x1: x0 + w, y0, y1 };
  };
  barTraces.forEach(({ t, i }, gi) => {
    const bt = t as BarTrace;
    const items: BarItem[] = [];
    const len = Math.min(bt.x?.length ?? 0, bt.y?.length ?? 0);
    for (let k = 0; k < len; k++) {
      const y = bt.y[k];
      if (!fin(y)) continue;
      const xv = bt.x[k];
      const center = categories ? catIndex.get(String(xv)) : (typeof xv === "number" ? xv : undefined);
      if (!fin(center)) continue;
      items.push(place(barTraces, gi, center, categories ? 1 : numericSlot, bargap, y));
    }
    bars.set(i, items);
  });
  stackBase.clear();
  histTraces.forEach(({ i }, gi) => {
    const h = histograms.find((hh) => hh.trace === i)!;
    const items: BarItem[] = [];
    const histGap = fin(layout.bargap) ? bargap : 0;
    for (let k = 0; k < h.counts.length; k++) {
      const size = h.edges[k + 1] - h.edges[k];
      const item = place(histTraces, gi, (h.edges[k] + h.edges[k + 1]) / 2, size, histGap, h.heights[k]);
      if (h.counts[k] > 0) items.push(item);
    }
    bars.set(i, items);
  });

  // Extents.
  const ex = emptyExtent();
  const ey = emptyExtent();
  const ey2 = emptyExtent();
  let usesY2 = false;
  data.forEach((t, i) => {
    const onY2 = t.yaxis === "y2" && !!layout.yaxis2;
    if (onY2) usesY2 = true;
    const yExt = onY2 ? ey2 : ey;
    if (t.type === "scatter") {
      const len = Math.min(t.x?.length ?? 0, t.y?.length ?? 0);
      for (let k = 0; k < len; k++) {
        if (fin(t.x[k]) && fin(t.y[k])) {
          addSoft(ex, t.x[k]);
          addSoft(yExt, t.y[k]);
        }
      }
    } else {
      // Bar bases and histogram edges are hard limits; bar tops get padding.
      for (const b of bars.get(i) ?? []) {
        if (t.type === "histogram") {
          addHard(ex, b.x0);
          addHard(ex, b.x1);
        } else if (!categories) {
          addSoft(ex, b.x0);
          addSoft(ex, b.x1);
        }
        addHard(yExt, b.y0);
        addSoft(yExt, b.y1);
      }
    }
  });
  if (categories) {
    addHard(ex, -0.5);
    addHard(ex, categories.length - 0.5);
  }
  for (const s of layout.shapes ?? []) {
    if ((s.xref ?? "x") === "x") {
      addSoft(ex, s.x0);
      addSoft(ex, s.x1);
    }
    if ((s.yref ?? "y") === "y") {
      addSoft(ey, s.y0);
      addSoft(ey, s.y1);
    }
  }

  const xRange: [number, number] = validRange(layout.xaxis?.range)
    ? [...layout.xaxis!.range!]
    : extentRange(ex);
  const yRange: [number, number] = validRange(layout.yaxis?.range)
    ? [...layout.yaxis!.range!]
    : extentRange(ey);
  const y2Range: [number, number] = validRange(layout.yaxis2?.range)
    ? [...layout.yaxis2!.range!]
    : extentRange(ey2);

  // Legend entries.
  const showLegend = legendWanted(figure);
  const legend: LegendEntry[] = [];
  if (showLegend) {
    data.forEach((t, i) => {
      if (t.showlegend === false) return;
      const label = t.name ?? `trace ${i}`;
      legend.push({ trace: i, label, width: LEGEND_SYMBOL + 6 + textWidth(label, LEGEND_FONT) });
    });
  }
  const lg = layout.legend ?? {};
  const horizontal = lg.orientation === "h";
  const lx = fin(lg.x) ? lg.x : (horizontal ? 0 : 1.02);
  const ly = fin(lg.y) ? lg.y : (horizontal ? -0.15 : 1);
  const lxa = lg.xanchor && lg.xanchor !== "auto" ? lg.xanchor : "left";
  const lya = lg.yanchor && lg.yanchor !== "auto" ? lg.yanchor : (horizontal && ly >= 1 ? "bottom" : "top");
  const legendOutsideRight = legend.length > 0 && lx >= 1 && lxa === "left";
  const legendAbove = legend.length > 0 && ly >= 1 && lya === "bottom";

  // Margins.
  const titleLines = titleText(layout.title) ? lines(titleText(layout.title)) : [];
  const title = titleLines.length > 0;
  const m = layout.margin ?? {};
  const xTitle = titleText(layout.xaxis?.title);
  const yTitle = titleText(layout.yaxis?.title);
  const y2Title = titleText(layout.yaxis2?.title);

  let top = fin(m.t) ? m.t : (title ? 24 + TITLE_FONT * 1.2 * titleLines.length : 20);
  // Rows of a horizontal legend wrap at a width known before the margins (the margins depend on it).
  const legendLayoutH = legend.length > 0
    ? layoutLegend(legend, horizontal, horizontal ? (legendOutsideRight ? 1e9 : width - 100) : 1e9)
    : undefined;
  if (!fin(m.t) && legendAbove && legendLayoutH) top += legendLayoutH.h + 4;
  let bottomGuess = fin(m.b) ? m.b : 30 + TICK_FONT + (xTitle ? AXIS_TITLE_FONT + 10 : 0);
  const plotHGuess = Math.max(40, height - top - bottomGuess);
  const yTickTarget = Math.max(2, Math.round(plotHGuess / 55));
  const yT = niceTicks(yRange[0], yRange[1], yTickTarget, layout.yaxis?.dtick);
  const yLabels = yT.ticks.map((v) => formatTick(v, yT.step));
  const y2T = usesY2 ? niceTicks(y2Range[0], y2Range[1], yTickTarget, layout.yaxis2?.dtick) : undefined;
  const y2Labels = y2T ? y2T.ticks.map((v) => formatTick(v, y2T.step)) : [];
  const yLabelW = Math.max(0, ...yLabels.map((s) => textWidth(s, TICK_FONT)));
  const y2LabelW = Math.max(0, ...y2Labels.map((s) => textWidth(s, TICK_FONT)));
  const left = fin(m.l)
    ? m.l
    : 14 + (yTitle ? AXIS_TITLE_FONT * 1.2 * lines(yTitle).length + 6 : 0) + yLabelW + 10;
  const y2Area = usesY2 ? 10 + y2LabelW + (y2Title ? AXIS_TITLE_FONT * 1.2 + 10 : 0) : 0;
  const legendV = legend.length > 0 && !horizontal ? layoutLegend(legend, false, 1e9) : undefined;
  let right = fin(m.r) ? m.r : Math.max(24, y2Area + 14);
  if (!fin(m.r) && legendOutsideRight && legendV) right = y2Area + 14 + legendV.w + 10;
  if (!fin(m.r) && legendOutsideRight && horizontal && legendLayoutH) {
    right = y2Area + 14 + legendLayoutH.w + 10;
  }
  const plotW = Math.max(40, width - left - right);

  // X ticks (category axis: one tick per category, rotated when labels collide).
  let xaxis: AxisInfo;
  if (categories) {
    const slotPx = plotW / Math.max(1, xRange[1] - xRange[0]);
    const maxW = Math.max(0, ...categories.map((c) => textWidth(c, TICK_FONT)));
    const angle = fin(layout.xaxis?.tickangle) ? layout.xaxis!.tickangle! : (maxW > slotPx * 0.92 ? -45 : 0);
    xaxis = {
      range: xRange,
      ticks: categories.map((_, i) => i),
      tickLabels: categories,
      step: 1,
      categories,
      tickAngle: angle,
    };
  } else {
    const xLabelGuess = Math.max(
      textWidth(formatTick(xRange[0], 1), TICK_FONT),
      textWidth(formatTick(xRange[1], 1), TICK_FONT),
      30,
    );
    const target = Math.max(2, Math.min(10, Math.round(plotW / Math.max(70, xLabelGuess * 2))));
    const xt = niceTicks(xRange[0], xRange[1], target, layout.xaxis?.dtick);
    xaxis = {
      range: xRange,
      ticks: xt.ticks,
      tickLabels: xt.ticks.map((v) => formatTick(v, xt.step)),
      step: xt.step,
      tickAngle: fin(layout.xaxis?.tickangle) ? layout.xaxis!.tickangle! : 0,
    };
  }
  if (!fin(m.b)) {
    const angle = Math.abs(xaxis.tickAngle) * Math.PI / 180;
    const maxW = Math.max(0, ...xaxis.tickLabels.map((s) => textWidth(s, TICK_FONT)));
    const labelH = angle === 0 ? TICK_FONT : maxW * Math.sin(angle) + TICK_FONT * Math.cos(angle);
    bottomGuess = 12 + labelH + 6 + (xTitle ? AXIS_TITLE_FONT * 1.2 * lines(xTitle).length + 8 : 0) + 8;
  }
  const bottom = bottomGuess;
  // Keep the last x tick label inside the figure when the right margin is narrow.
  let plotWFinal = plotW;
  if (!fin(m.r) && xaxis.tickAngle === 0 && xaxis.ticks.length > 0) {
    const lastTick = xaxis.ticks[xaxis.ticks.length - 1];
    const lastPx = left + ((lastTick - xRange[0]) / (xRange[1] - xRange[0])) * plotW;
    const overflow = lastPx + textWidth(xaxis.tickLabels[xaxis.tickLabels.length - 1], TICK_FONT) / 2 + 4 -
      width;
    if (overflow > 0) plotWFinal = Math.max(40, plotW - overflow);
  }
  // Whole-pixel plot box, so 1px axis and grid lines are crisp.
  const px0 = Math.round(left);
  const py0 = Math.round(top);
  const plot: PlotBox = {
    x: px0,
    y: py0,
    w: Math.max(40, Math.round(left + plotWFinal) - px0),
    h: Math.max(40, Math.round(height - bottom) - py0),
  };

  const resolved: ResolvedFigure = {
    width,
    height,
    plot,
    xaxis,
    yaxis: { range: yRange, ticks: yT.ticks, tickLabels: yLabels, step: yT.step, tickAngle: 0 },
    histograms,
  };
  if (usesY2 && y2T) {
    resolved.yaxis2 = {
      range: y2Range,
      ticks: y2T.ticks,
      tickLabels: y2Labels,
      step: y2T.step,
      tickAngle: 0,
    };
  }

  // Legend box position.
  let legendBox: Prepared["legendBox"];
  if (legend.length > 0) {
    const ll = horizontal ? legendLayoutH! : legendV!;
    let bx = plot.x + lx * plot.w;
    if (legendOutsideRight) bx = plot.x + plot.w + y2Area + (lx - 1) * plot.w;
    if (lxa === "center") bx -= ll.w / 2;
    else if (lxa === "right") bx -= ll.w;
    let by = plot.y + (1 - ly) * plot.h;
    if (lya === "middle") by -= ll.h / 2;
    else if (lya === "bottom") by -= ll.h;
    if (legendAbove) by = Math.min(by, plot.y - 4 - ll.h);
    legendBox = { x: bx, y: by, w: ll.w, h: ll.h, rows: ll.rows, horizontal };
  }

  return {
    resolved,
    colors,
    bars,
    legend,
    legendBox,
    titleLines,
    margin: { l: left, r: right, t: top, b: bottom },
    y2Area,
  };
}

/**
 * Resolve a figure without drawing it: plot box, axis ranges, ticks and labels, histogram bins. What
 * {@link renderSvg} draws; exposed for tests and for callers that need the geometry.
 */
export function resolveFigure(figure: Figure): ResolvedFigure {
  return prepare(figure).resolved;
}

// ---------------------------------------------------------------------------------------------------------
// Drawing

/** SVG `stroke-dasharray` for a plotly dash name (scaled by line width, as plotly does), or "" for solid. */
export function dashArray(dash: string | undefined, width = 2): string {
  if (!dash || dash === "solid") return "";
  const d = Math.max(width, 3);
  const table: Record<string, number[]> = {
    dot: [d, d],
    dash: [3 * d, 3 * d],
    longdash: [5 * d, 5 * d],
    dashdot: [3 * d, d, d, d],
    longdashdot: [5 * d, 2 * d, d, 2 * d],
  };
  if (table[dash]) return table[dash].map(n).join(",");
  const parts = dash.split(/[\s,]+/).map((s) => parseFloat(s.replace(/px$|%$/, ""))).filter(fin);
  return parts.length > 0 && parts.every((p) => p >= 0) ? parts.map(n).join(",") : "";
}

function strokeAttrs(line: LineStyle | undefined, color: string, defWidth: number): string {
  const w = fin(line?.width) ? line!.width! : defWidth;
  const dash = dashArray(line?.dash, w);
  return `stroke="${escapeXml(line?.color ?? color)}" stroke-width="${n(w)}"${
    dash ? ` stroke-dasharray="${dash}"` : ""
  }`;
}

/** Deterministic short hash (FNV-1a) for ids that must not collide between figures on one page. */
function hashId(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Snap a coordinate to a pixel centre, so a 1px line covers exactly one pixel row/column. */
function snap(v: number): number {
  return Math.round(v - 0.5) + 0.5;
}

type Mapper = (v: number) => number;

function mapper(range: [number, number], p0: number, p1: number): Mapper {
  const [a, b] = range;
  const k = (p1 - p0) / (b - a);
  return (v: number) => p0 + (v - a) * k;
}

/** Clamp far-away coordinates so huge values do not produce absurd numbers in the SVG. */
function clampPx(v: number, lo: number, hi: number): number {
  const pad = (hi - lo) * 10 + 1000;
  return Math.min(hi + pad, Math.max(lo - pad, v));
}

function scatterPaths(t: ScatterTrace, color: string, X: Mapper, Y: Mapper, box: PlotBox): string {
  const out: string[] = [];
  const mode = t.mode ?? "lines";
  const len = Math.min(t.x?.length ?? 0, t.y?.length ?? 0);
  const cx = (v: number) => clampPx(X(v), box.x, box.x + box.w);
  const cy = (v: number) => clampPx(Y(v), box.y, box.y + box.h);
  const opacity = fin(t.opacity) ? t.opacity : 1;
  if (mode.includes("lines")) {
    let d = "";
    let pen = false;
    for (let k = 0; k < len; k++) {
      if (!fin(t.x[k]) || !fin(t.y[k])) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${n(cx(t.x[k]))} ${n(cy(t.y[k]))}`;
      pen = true;
    }
    out.push(
      `<path class="line" d="${d}" fill="none" ${strokeAttrs(t.line, color, 2)} stroke-linejoin="round" ` +
        `stroke-linecap="round"${opacity < 1 ? ` stroke-opacity="${n(opacity)}"` : ""}/>`,
    );
  }
  if (mode.includes("markers")) {
    const size = fin(t.marker?.size) ? Math.max(0, t.marker!.size!) : 6;
    const r = size / 2;
    let d = "";
    for (let k = 0; k < len; k++) {
      if (!fin(t.x[k]) || !fin(t.y[k])) continue;
      const px = X(t.x[k]);
      const py = Y(t.y[k]);
      if (px < box.x - size || px > box.x + box.w + size || py < box.y - size || py > box.y + box.h + size) {
        continue;
      }
      d += `M${n(px - r)} ${n(py)}a${n(r)} ${n(r)} 0 1 0 ${n(size)} 0a${n(r)} ${n(r)} 0 1 0 ${n(-size)} 0z`;
    }
    const fillOpacity = opacity * (fin(t.marker?.opacity) ? t.marker!.opacity! : 1);
    const ml = t.marker?.line;
    const stroke = ml && fin(ml.width) && ml.width > 0
      ? ` stroke="${escapeXml(ml.color ?? "#ffffff")}" stroke-width="${n(ml.width)}"`
      : "";
    out.push(
      `<path class="markers" d="${d}" fill="${escapeXml(t.marker?.color ?? color)}"` +
        `${fillOpacity < 1 ? ` fill-opacity="${n(fillOpacity)}"` : ""}${stroke}/>`,
    );
  }
  return out.join("");
}

function barPath(
  t: BarTrace | HistogramTrace,
  items: BarItem[],
  color: string,
  X: Mapper,
  Y: Mapper,
  box: PlotBox,
): string {
  let d = "";
  for (const b of items) {
    const x0 = clampPx(X(b.x0), box.x, box.x + box.w);
    const x1 = clampPx(X(b.x1), box.x, box.x + box.w);
    const y0 = clampPx(Y(b.y0), box.y, box.y + box.h);
    const y1 = clampPx(Y(b.y1), box.y, box.y + box.h);
    d += `M${n(Math.min(x0, x1))} ${n(Math.max(y0, y1))}H${n(Math.max(x0, x1))}V${n(Math.min(y0, y1))}H${
      n(Math.min(x0, x1))
    }Z`;
  }
  const opacity = (fin(t.opacity) ? t.opacity : 1) * (fin(t.marker?.opacity) ? t.marker!.opacity! : 1);
  const ml = t.marker?.line;
  const stroke = ml && fin(ml.width) && ml.width > 0
    ? ` stroke="${escapeXml(ml.color ?? color)}" stroke-width="${n(ml.width)}"`
    : "";
  return `<path class="bars" d="${d}" fill="${escapeXml(color)}"${
    opacity < 1 ? ` fill-opacity="${n(opacity)}"` : ""
  }${stroke}/>`;
}

function legendSymbol(t: Trace, color: string, x: number, y: number): string {
  if (t.type === "scatter") {
    const mode = t.mode ?? "lines";
    let s = "";
    if (mode.includes("lines")) {
      const w = Math.min(4, fin(t.line?.width) ? t.line!.width! : 2);
      s += `<path d="M${n(x + 2)} ${n(y)}H${n(x + LEGEND_SYMBOL - 4)}" fill="none" ${
        strokeAttrs({ ...t.line, width: w }, color, 2)
      }/>`;
    }
    if (mode.includes("markers")) {
      const r = Math.min(6, (fin(t.marker?.size) ? t.marker!.size! : 6) / 2 + 0.5);
      const op = (fin(t.opacity) ? t.opacity : 1) * (fin(t.marker?.opacity) ? t.marker!.opacity! : 1);
      s += `<circle cx="${n(x + LEGEND_SYMBOL / 2 - 1)}" cy="${n(y)}" r="${n(r)}" fill="${
        escapeXml(t.marker?.color ?? color)
      }"${op < 1 ? ` fill-opacity="${n(op)}"` : ""}/>`;
    }
    return s;
  }
  const op = (fin(t.opacity) ? t.opacity : 1) * (fin(t.marker?.opacity) ? t.marker!.opacity! : 1);
  return `<rect x="${n(x + 5)}" y="${n(y - 6)}" width="16" height="12" fill="${escapeXml(color)}"${
    op < 1 ? ` fill-opacity="${n(op)}"` : ""
  } stroke="${escapeXml(color)}" stroke-width="1"/>`;
}

function axisTitle(axis: Axis | undefined): string {
  return titleText(axis?.title);
}

/**
 * Render a figure to a standalone SVG document (a string starting with `<svg`). Never throws on odd data:
 * non-finite values are skipped, empty traces draw nothing, and an empty figure gets default axes.
 */
export function renderSvg(figure: Figure): string {
  const safe: Figure = {
    data: Array.isArray(figure?.data) ? figure.data : [],
    layout: figure?.layout ?? {},
  };
  const p = prepare(safe);
  const { resolved: r, colors } = p;
  const layout = safe.layout;
  const box = r.plot;
  const W = r.width;
  const H = r.height;
  const font = layout.font ?? {};
  const family = font.family ?? FONT_FAMILY;
  const textColor = font.color ?? TEXT_COLOR;
  const X = mapper(r.xaxis.range, box.x, box.x + box.w);
  const Y = mapper(r.yaxis.range, box.y + box.h, box.y);
  const Y2 = r.yaxis2 ? mapper(r.yaxis2.range, box.y + box.h, box.y) : Y;
  const clipId = `clip-${hashId(JSON.stringify(safe))}`;
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(W)}" height="${n(H)}" viewBox="0 0 ${n(W)} ${
      n(H)
    }" ` +
      `font-family="${escapeXml(family)}">`,
  );
  out.push(
    `<defs><clipPath id="${clipId}"><rect x="${n(box.x)}" y="${n(box.y)}" width="${n(box.w)}" height="${
      n(box.h)
    }"/></clipPath></defs>`,
  );
  out.push(
    `<rect class="paper" width="${n(W)}" height="${n(H)}" fill="${
      escapeXml(layout.paper_bgcolor ?? "#ffffff")
    }"/>`,
  );
  out.push(
    `<rect class="plot-bg" x="${n(box.x)}" y="${n(box.y)}" width="${n(box.w)}" height="${n(box.h)}" fill="${
      escapeXml(layout.plot_bgcolor ?? "#ffffff")
    }"/>`,
  );

  // Grid.
  const grid: string[] = [];
  const xa = layout.xaxis ?? {};
  const ya = layout.yaxis ?? {};
  const inX = (px: number) => px >= box.x - 0.5 && px <= box.x + box.w + 0.5;
  const inY = (py: number) => py >= box.y - 0.5 && py <= box.y + box.h + 0.5;
  if (ya.showgrid !== false) {
    for (const v of r.yaxis.ticks) {
      const py = Y(v);
      if (inY(py)) grid.push(`M${n(box.x)} ${n(snap(py))}H${n(box.x + box.w)}`);
    }
  }
  if (xa.showgrid !== false && !r.xaxis.categories) {
    for (const v of r.xaxis.ticks) {
      const px = X(v);
      if (inX(px)) grid.push(`M${n(snap(px))} ${n(box.y)}V${n(box.y + box.h)}`);
    }
  }
  if (r.yaxis2 && layout.yaxis2?.showgrid === true) {
    for (const v of r.yaxis2.ticks) {
      const py = Y2(v);
      if (inY(py)) grid.push(`M${n(box.x)} ${n(snap(py))}H${n(box.x + box.w)}`);
    }
  }
  if (grid.length > 0) {
    out.push(`<path class="grid" d="${grid.join("")}" fill="none" stroke="${GRID_COLOR}" stroke-width="1"/>`);
  }
  const zero: string[] = [];
  if (xa.zeroline && !r.xaxis.categories && inX(X(0))) {
    zero.push(`M${n(X(0))} ${n(box.y)}V${n(box.y + box.h)}`);
  }
  if (ya.zeroline && inY(Y(0))) zero.push(`M${n(box.x)} ${n(Y(0))}H${n(box.x + box.w)}`);
  if (zero.length > 0) {
    out.push(`<path class="zeroline" d="${zero.join("")}" fill="none" stroke="#b0b0b0" stroke-width="1.2"/>`);
  }

  // Traces.
  out.push(`<g class="traces" clip-path="url(#${clipId})">`);
  safe.data.forEach((t, i) => {
    const yMap = t.yaxis === "y2" && r.yaxis2 ? Y2 : Y;
    const name = escapeXml(t.name ?? `trace ${i}`);
    let body = "";
    if (t.type === "scatter") body = scatterPaths(t, colors[i], X, yMap, box);
    else if (t.type === "bar" || t.type === "histogram") {
      body = barPath(t, p.bars.get(i) ?? [], colors[i], X, yMap, box);
    }
    out.push(`<g class="trace ${escapeXml(String(t.type))}" data-name="${name}">${body}</g>`);
  });
  out.push(`</g>`);

  // Shapes.
  const shapes = layout.shapes ?? [];
  if (shapes.length > 0) {
    out.push(`<g class="shapes" clip-path="url(#${clipId})">`);
    for (const s of shapes) {
      if (![s.x0, s.x1, s.y0, s.y1].every(fin)) continue;
      const sx = (
        v: number,
      ) => (s.xref === "paper" ? box.x + v * box.w : clampPx(X(v), box.x, box.x + box.w));
      const sy = (
        v: number,
      ) => (s.yref === "paper" ? box.y + (1 - v) * box.h : clampPx(Y(v), box.y, box.y + box.h));
      const op = fin(s.opacity) && s.opacity < 1 ? ` opacity="${n(s.opacity)}"` : "";
      if (s.type === "rect") {
        const x0 = Math.min(sx(s.x0), sx(s.x1));
        const y0 = Math.min(sy(s.y0), sy(s.y1));
        out.push(
          `<rect x="${n(x0)}" y="${n(y0)}" width="${n(Math.abs(sx(s.x1) - sx(s.x0)))}" height="${
            n(Math.abs(sy(s.y1) - sy(s.y0)))
          }" fill="${escapeXml(s.fillcolor ?? "none")}" ${strokeAttrs(s.line, "#444444", 1)}${op}/>`,
        );
      } else {
        out.push(
          `<path d="M${n(sx(s.x0))} ${n(sy(s.y0))}L${n(sx(s.x1))} ${n(sy(s.y1))}" fill="none" ${
            strokeAttrs(s.line, "#444444", 2)
          }${op}/>`,
        );
      }
    }
    out.push(`</g>`);
  }

  // Axes: lines, ticks, labels, titles.
  const axisParts: string[] = [];
  const tickPath: string[] = [];
  const bottomY = box.y + box.h;
  // Axis lines just outside the plot area: left (column x-1), bottom (row y+h), right when there is a y2.
  axisParts.push(
    `<path class="axis-line" d="M${n(box.x - 0.5)} ${n(box.y)}V${n(bottomY + 0.5)}H${n(box.x + box.w + 0.5)}${
      r.yaxis2 ? `V${n(box.y)}` : ""
    }" fill="none" stroke="${AXIS_COLOR}" stroke-width="1"/>`,
  );
  const xLabels: string[] = [];
  r.xaxis.ticks.forEach((v, k) => {
    const px = X(v);
    if (!inX(px)) return;
    tickPath.push(`M${n(snap(px))} ${n(bottomY + 1)}v5`);
    const label = r.xaxis.tickLabels[k];
    if (r.xaxis.tickAngle !== 0) {
      xLabels.push(
        textEl(0, 0, label, {
          size: TICK_FONT,
          anchor: "end",
          color: textColor,
          cls: "xtick",
          transform: `translate(${n(px + 3)},${n(bottomY + 10)}) rotate(${n(r.xaxis.tickAngle)})`,
        }),
      );
    } else {
      xLabels.push(
        textEl(px, bottomY + 8 + TICK_FONT * 0.95, label, {
          size: TICK_FONT,
          anchor: "middle",
          color: textColor,
          cls: "xtick",
        }),
      );
    }
  });
  const yLabels: string[] = [];
  r.yaxis.ticks.forEach((v, k) => {
    const py = Y(v);
    if (!inY(py)) return;
    tickPath.push(`M${n(box.x - 1)} ${n(snap(py))}h-5`);
    yLabels.push(
      textEl(box.x - 8, py + TICK_FONT * 0.35, r.yaxis.tickLabels[k], {
        size: TICK_FONT,
        anchor: "end",
        color: textColor,
        cls: "ytick",
      }),
    );
  });
  if (r.yaxis2) {
    r.yaxis2.ticks.forEach((v, k) => {
      const py = Y2(v);
      if (!inY(py)) return;
      tickPath.push(`M${n(box.x + box.w + 1)} ${n(snap(py))}h5`);
      yLabels.push(
        textEl(box.x + box.w + 8, py + TICK_FONT * 0.35, r.yaxis2!.tickLabels[k], {
          size: TICK_FONT,
          anchor: "start",
          color: textColor,
          cls: "y2tick",
        }),
      );
    });
  }
  if (tickPath.length > 0) {
    axisParts.push(
      `<path class="ticks" d="${tickPath.join("")}" fill="none" stroke="${AXIS_COLOR}" stroke-width="1"/>`,
    );
  }
  out.push(`<g class="axes">${axisParts.join("")}${xLabels.join("")}${yLabels.join("")}</g>`);

  const titles: string[] = [];
  const xTitle = axisTitle(layout.xaxis);
  if (xTitle) {
    const angle = Math.abs(r.xaxis.tickAngle) * Math.PI / 180;
    const maxW = Math.max(0, ...r.xaxis.tickLabels.map((s) => textWidth(s, TICK_FONT)));
    const labelH = angle === 0 ? TICK_FONT : maxW * Math.sin(angle) + TICK_FONT * Math.cos(angle);
    titles.push(
      textEl(box.x + box.w / 2, bottomY + 12 + labelH + 6 + AXIS_TITLE_FONT, xTitle, {
        size: AXIS_TITLE_FONT,
        anchor: "middle",
        color: textColor,
        cls: "xtitle",
      }),
    );
  }
  const yTitle = axisTitle(layout.yaxis);
  if (yTitle) {
    const yLabelW = Math.max(0, ...r.yaxis.tickLabels.map((s) => textWidth(s, TICK_FONT)));
    const tx = Math.max(AXIS_TITLE_FONT, box.x - 10 - yLabelW - 10);
    const ty = box.y + box.h / 2;
    titles.push(
      textEl(tx, ty, yTitle, {
        size: AXIS_TITLE_FONT,
        anchor: "middle",
        color: textColor,
        cls: "ytitle",
        transform: `rotate(-90 ${n(tx)} ${n(ty)})`,
      }),
    );
  }
  const y2Title = axisTitle(layout.yaxis2);
  if (y2Title && r.yaxis2) {
    const w2 = Math.max(0, ...r.yaxis2.tickLabels.map((s) => textWidth(s, TICK_FONT)));
    const tx = box.x + box.w + 10 + w2 + 10 + AXIS_TITLE_FONT * 0.8;
    const ty = box.y + box.h / 2;
    titles.push(
      textEl(tx, ty, y2Title, {
        size: AXIS_TITLE_FONT,
        anchor: "middle",
        color: textColor,
        cls: "y2title",
        transform: `rotate(-90 ${n(tx)} ${n(ty)})`,
      }),
    );
  }
  if (p.titleLines.length > 0) {
    const size = (typeof layout.title === "object" && fin(layout.title.font?.size))
      ? layout.title.font!.size!
      : TITLE_FONT;
    titles.push(
      textEl(box.x + box.w / 2, 14 + size, p.titleLines.join("<br>"), {
        size,
        anchor: "middle",
        color: textColor,
        weight: "bold",
        cls: "title",
      }),
    );
  }
  out.push(`<g class="titles">${titles.join("")}</g>`);

  // Legend.
  if (p.legendBox) {
    const lb = p.legendBox;
    const lg = layout.legend ?? {};
    const parts: string[] = [];
    const bw = fin(lg.borderwidth) ? lg.borderwidth : 0;
    if (lg.bgcolor || bw > 0) {
      parts.push(
        `<rect x="${n(lb.x)}" y="${n(lb.y)}" width="${n(lb.w)}" height="${n(lb.h)}" rx="3" fill="${
          escapeXml(lg.bgcolor ?? "none")
        }"${bw > 0 ? ` stroke="${escapeXml(lg.bordercolor ?? "#444444")}" stroke-width="${n(bw)}"` : ""}/>`,
      );
    }
    lb.rows.forEach((row, ri) => {
      const cy = lb.y + LEGEND_PAD + ri * LEGEND_ROW + LEGEND_ROW / 2 - 2;
      for (const { entry, dx } of row.entries) {
        const x0 = lb.x + LEGEND_PAD + dx;
        const t = safe.data[entry.trace];
        parts.push(
          `<g class="legend-item">${legendSymbol(t, colors[entry.trace], x0, cy)}${
            textEl(x0 + LEGEND_SYMBOL + 4, cy + LEGEND_FONT * 0.35, entry.label, {
              size: LEGEND_FONT,
              color: textColor,
              cls: "legend-text",
            })
          }</g>`,
        );
      }
    });
    out.push(`<g class="legend">${parts.join("")}</g>`);
  }

  // Annotations.
  const notes = layout.annotations ?? [];
  if (notes.length > 0) {
    const parts: string[] = [];
    for (const a of notes) {
      if (!fin(a.x) || !fin(a.y) || typeof a.text !== "string") continue;
      const px = a.xref === "paper" ? box.x + a.x * box.w : X(a.x);
      const py = a.yref === "paper" ? box.y + (1 - a.y) * box.h : Y(a.y);
      if (!fin(px) || !fin(py)) continue;
      const size = fin(a.font?.size) ? a.font!.size! : 12;
      const color = a.font?.color ?? textColor;
      let tx = px;
      let ty = py;
      if (a.showarrow !== false) {
        tx = px + (fin(a.ax) ? a.ax : -10);
        ty = py + (fin(a.ay) ? a.ay : -30);
        parts.push(
          `<path d="M${n(tx)} ${n(ty)}L${n(px)} ${n(py)}" stroke="${escapeXml(color)}" stroke-width="1"/>`,
        );
      }
      const ls = lines(a.text);
      const blockH = size * 1.2 * ls.length;
      const xanchor = a.xanchor && a.xanchor !== "auto" ? a.xanchor : "center";
      const yanchor = a.yanchor && a.yanchor !== "auto" ? a.yanchor : "middle";
      const pad = 3;
      const anchor = xanchor === "left" ? "start" : xanchor === "right" ? "end" : "middle";
      const ax = xanchor === "left" ? tx + pad : xanchor === "right" ? tx - pad : tx;
      const top = yanchor === "top" ? ty + pad : yanchor === "bottom" ? ty - pad - blockH : ty - blockH / 2;
      if (a.bgcolor) {
        const w = Math.max(...ls.map((l) => textWidth(l, size))) + 2 * pad;
        const bx = anchor === "start" ? ax - pad : anchor === "end" ? ax - w + pad : ax - w / 2;
        parts.push(
          `<rect x="${n(bx)}" y="${n(top - 1)}" width="${n(w)}" height="${n(blockH + 2)}" fill="${
            escapeXml(a.bgcolor)
          }"/>`,
        );
      }
      parts.push(textEl(ax, top + size * 0.95, a.text, { size, anchor, color, cls: "annotation" }));
    }
    out.push(`<g class="annotations">${parts.join("")}</g>`);
  }

  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
