/**
 * Figures as plotly-style specs: plain JSON objects `{ data, layout }` written in a subset of plotly.js's
 * schema, so one object can be rendered by {@link renderSvg} (our own SVG/PNG renderer, no browser) or handed
 * unchanged to plotly / `nodeplotlib`. Also the builders of the pipeline's figures: ROC curves, t-SNE
 * scatter, score histograms, training curves and per-category AUROC bars.
 *
 * Conventions that keep the specs valid for plotly.js 1.x–3.x: titles are `{ text }` objects (plotly 3
 * dropped plain-string titles; our renderer accepts both), annotations set `showarrow: false`, overlaid
 * histograms use `barmode: "overlay"` and share explicit `xbins`, and data arrays are plain `number[]`
 * (typed arrays do not survive `JSON.stringify`).
 * @module
 */

/** plotly's dash names, or an explicit dash list such as `"5px,10px"`. */
export type Dash = "solid" | "dot" | "dash" | "longdash" | "dashdot" | "longdashdot" | string;

/** A title: plotly accepts a string (before plotly.js 3) or `{ text }`. */
export type Title = string | { text: string; font?: Font };

/** Font settings (plotly `font`). */
export interface Font {
  /** CSS font family. */
  family?: string;
  /** Size in px. */
  size?: number;
  /** CSS colour. */
  color?: string;
}

/** Line style of a scatter trace or a shape. */
export interface LineStyle {
  /** CSS colour; defaults to the trace's palette colour. */
  color?: string;
  /** Dash pattern (default `"solid"`). */
  dash?: Dash;
  /** Stroke width in px (default 2). */
  width?: number;
}

/** Marker style of a scatter, histogram or bar trace. */
export interface MarkerStyle {
  /** CSS colour; defaults to the trace's palette colour. */
  color?: string;
  /** Marker diameter in px (scatter only; default 6). */
  size?: number;
  /** Marker opacity 0–1. */
  opacity?: number;
  /** Outline of the marker (or bar). */
  line?: { color?: string; width?: number };
}

/** Fields shared by all traces. */
export interface TraceBase {
  /** Legend entry; traces without a name get `trace N`. */
  name?: string;
  /** Whole-trace opacity 0–1. */
  opacity?: number;
  /** Whether the trace has a legend entry (default true). */
  showlegend?: boolean;
  /** The y axis to plot against: `"y"` (left, default) or `"y2"` (right, see {@link Layout.yaxis2}). */
  yaxis?: "y" | "y2";
}

/** A line and/or marker trace (plotly `scatter`). Non-finite points are skipped; lines break there. */
export interface ScatterTrace extends TraceBase {
  /** Trace type. */
  type: "scatter";
  /** What to draw (default `"lines"` … plotly's default depends on the point count; set it explicitly). */
  mode?: "lines" | "markers" | "lines+markers";
  /** X coordinates. */
  x: number[];
  /** Y coordinates. */
  y: number[];
  /** Marker style. */
  marker?: MarkerStyle;
  /** Line style. */
  line?: LineStyle;
}

/** Explicit histogram bins (plotly `xbins`): bins `[start + i·size, start + (i+1)·size)`. */
export interface Bins {
  /** Left edge of the first bin. */
  start: number;
  /** Right limit: values above it are not counted. */
  end: number;
  /** Bin width (> 0). */
  size: number;
}

/** A histogram of `x` (plotly `histogram`). Non-finite values are ignored. */
export interface HistogramTrace extends TraceBase {
  /** Trace type. */
  type: "histogram";
  /** The values to bin. */
  x: number[];
  /** Maximum number of bins when `xbins` is not given (plotly semantics: a nice bin width is chosen). */
  nbinsx?: number;
  /** Explicit bins. */
  xbins?: Bins;
  /** `""` (counts, default), `"probability"` or `"probability density"`. */
  histnorm?: "" | "probability" | "probability density";
  /** Fill colour. */
  marker?: MarkerStyle;
}

/** A bar trace (plotly `bar`): categories (strings) or numbers on x. */
export interface BarTrace extends TraceBase {
  /** Trace type. */
  type: "bar";
  /** Bar positions: category names or numbers. */
  x: (string | number)[];
  /** Bar heights; `null`/NaN leaves a gap. */
  y: (number | null)[];
  /** Fill colour. */
  marker?: MarkerStyle;
}

/** Any trace of the supported subset. */
export type Trace = ScatterTrace | HistogramTrace | BarTrace;

/** An axis (plotly `layout.xaxis` / `layout.yaxis`). */
export interface Axis {
  /** Axis title. */
  title?: Title;
  /** Fixed range `[min, max]`; otherwise the data's range (with a little padding for scatter traces). */
  range?: [number, number];
  /** Grid lines at the ticks (default true). */
  showgrid?: boolean;
  /** A stronger line at 0 when 0 lies inside the range (default false). */
  zeroline?: boolean;
  /** Fixed tick spacing; otherwise a 1-2-5 step is chosen. */
  dtick?: number;
  /** Tick label angle in degrees (category labels are rotated automatically when they would collide). */
  tickangle?: number;
}

/** The secondary y axis (plotly `layout.yaxis2`). */
export interface SecondaryAxis extends Axis {
  /** Must be `"y"`: drawn over the main plot area. */
  overlaying: "y";
  /** Where its ticks go (default `"right"`). */
  side?: "right";
}

/** A line or rectangle (plotly `layout.shapes`). `xref`/`yref` `"paper"` means 0–1 across the plot area. */
export interface Shape {
  /** Shape type. */
  type: "line" | "rect";
  /** First x. */
  x0: number;
  /** Second x. */
  x1: number;
  /** First y. */
  y0: number;
  /** Second y. */
  y1: number;
  /** Coordinates of x0/x1: data (`"x"`, default) or `"paper"`. */
  xref?: "x" | "paper";
  /** Coordinates of y0/y1: data (`"y"`, default) or `"paper"`. */
  yref?: "y" | "paper";
  /** Stroke. */
  line?: LineStyle;
  /** Fill colour (rect only). */
  fillcolor?: string;
  /** Opacity 0–1. */
  opacity?: number;
}

/** A text annotation (plotly `layout.annotations`). */
export interface Annotation {
  /** Position x. */
  x: number;
  /** Position y. */
  y: number;
  /** The text (`<br>` breaks lines). */
  text: string;
  /** Coordinates of x: data (`"x"`, default) or `"paper"`. */
  xref?: "x" | "paper";
  /** Coordinates of y: data (`"y"`, default) or `"paper"`. */
  yref?: "y" | "paper";
  /** Draw an arrow from the point to the text (plotly's default is true; builders set false). */
  showarrow?: boolean;
  /** Arrow tail offset in px (default -10). */
  ax?: number;
  /** Arrow tail offset in px (default -30). */
  ay?: number;
  /** Horizontal anchor of the text (default `"center"`). */
  xanchor?: "left" | "center" | "right" | "auto";
  /** Vertical anchor of the text (default `"middle"`). */
  yanchor?: "top" | "middle" | "bottom" | "auto";
  /** Font. */
  font?: Font;
  /** Background colour behind the text. */
  bgcolor?: string;
}

/** Legend placement (plotly `layout.legend`): x/y in paper coordinates of the plot area. */
export interface Legend {
  /** Anchor x (default 1.02: outside on the right). */
  x?: number;
  /** Anchor y (default 1). */
  y?: number;
  /** Which side of the box sits at x (default `"left"`). */
  xanchor?: "left" | "center" | "right" | "auto";
  /** Which side of the box sits at y (default `"top"`). */
  yanchor?: "top" | "middle" | "bottom" | "auto";
  /** `"v"` (default) stacks entries, `"h"` lays them out in a row (wrapping). */
  orientation?: "v" | "h";
  /** Background colour. */
  bgcolor?: string;
  /** Border colour. */
  bordercolor?: string;
  /** Border width in px. */
  borderwidth?: number;
}

/** Figure layout (plotly `layout`). */
export interface Layout {
  /** Figure title (`<br>` breaks lines). */
  title?: Title;
  /** X axis. */
  xaxis?: Axis;
  /** Left y axis. */
  yaxis?: Axis;
  /** Right y axis for traces with `yaxis: "y2"`. */
  yaxis2?: SecondaryAxis;
  /** Width in px (default 700). */
  width?: number;
  /** Height in px (default 450). */
  height?: number;
  /** Margins in px; computed from the labels when absent. */
  margin?: { l?: number; r?: number; t?: number; b?: number };
  /** Lines and rectangles. */
  shapes?: Shape[];
  /** Text annotations. */
  annotations?: Annotation[];
  /** Whether to draw a legend (default: when there is more than one named trace). */
  showlegend?: boolean;
  /** Legend placement. */
  legend?: Legend;
  /** How bars/histograms at the same x share space (default `"group"`). */
  barmode?: "group" | "overlay" | "stack";
  /** Gap between bar groups as a fraction of the slot (default 0.2). */
  bargap?: number;
  /** Global font. */
  font?: Font;
  /** Colour cycle for traces without an explicit colour (default {@link PALETTE}). */
  colorway?: string[];
  /** Background of the whole figure (default white). */
  paper_bgcolor?: string;
  /** Background of the plot area (default white). */
  plot_bgcolor?: string;
}

/** A figure: traces plus layout, as plotly takes them. */
export interface Figure {
  /** The traces, drawn in order. */
  data: Trace[];
  /** The layout. */
  layout: Layout;
}

/** Ten distinct colours (the D3/matplotlib "category10" / "tab10" cycle, plotly's classic default). */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/** The text of a {@link Title}. */
export function titleText(title: Title | undefined): string {
  if (title === undefined || title === null) return "";
  return typeof title === "string" ? title : title.text ?? "";
}

/** Plain finite-or-NaN number array from any array-like (typed arrays do not survive JSON). */
function toArray(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => (typeof v === "number" ? v : Number(v)));
}

/**
 * Group names in display order: names containing "good" (the normal class) first, then the rest, each
 * alphabetically. Colours follow this order, so a category's groups keep their colours across figures.
 */
export function orderGroups(groups: Iterable<string>): string[] {
  const unique = [...new Set(groups)];
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const good = unique.filter((g) => /good/i.test(g)).sort(byName);
  const rest = unique.filter((g) => !/good/i.test(g)).sort(byName);
  return [...good, ...rest];
}

/** A colour for each group, in {@link orderGroups} order, cycling through `palette`. */
export function groupColors(
  groups: Iterable<string>,
  palette: readonly string[] = PALETTE,
): Record<string, string> {
  const out: Record<string, string> = {};
  orderGroups(groups).forEach((g, i) => (out[g] = palette[i % palette.length]));
  return out;
}

/** A legend inside the plot at the bottom right, on a translucent box (curves rise away from it). */
const LEGEND_BOTTOM_RIGHT: Legend = {
  x: 0.98,
  y: 0.02,
  xanchor: "right",
  yanchor: "bottom",
  bgcolor: "rgba(255,255,255,0.85)",
  bordercolor: "#cccccc",
  borderwidth: 1,
};

/** One ROC curve for {@link rocFigure}. */
export interface RocCurveInput {
  /** Legend name (e.g. the category or the model). */
  name: string;
  /** False-positive rates. */
  fpr: ArrayLike<number>;
  /** True-positive rates. */
  tpr: ArrayLike<number>;
  /** Area under the curve, shown in the legend. */
  auc: number;
}

/** Options shared by the builders. */
export interface FigureOptions {
  /** Width in px. */
  width?: number;
  /** Height in px. */
  height?: number;
}

/** Format an AUC for a legend: three decimals, `n/a` when not finite. */
function formatAuc(auc: number): string {
  return Number.isFinite(auc) ? auc.toFixed(3) : "n/a";
}

/**
 * ROC curves with a dashed chance diagonal; each legend entry carries its AUC (`bottle (AUC = 0.987)`).
 * Square plot area, both axes 0–1, legend inside at the bottom right.
 */
export function rocFigure(
  curves: RocCurveInput[],
  title = "ROC curve",
  options: FigureOptions = {},
): Figure {
  const data: Trace[] = curves.map((c, i) => ({
    type: "scatter",
    mode: "lines",
    name: `${c.name} (AUC = ${formatAuc(c.auc)})`,
    x: toArray(c.fpr),
    y: toArray(c.tpr),
    line: { color: PALETTE[i % PALETTE.length], width: 2 },
  }));
  data.push({
    type: "scatter",
    mode: "lines",
    name: "chance",
    x: [0, 1],
    y: [0, 1],
    line: { color: "#888888", dash: "dash", width: 1.5 },
  });
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: "False positive rate" }, range: [-0.02, 1.02], dtick: 0.2 },
      yaxis: { title: { text: "True positive rate" }, range: [-0.02, 1.02], dtick: 0.2 },
      width: options.width ?? 560,
      height: options.height ?? 520,
      showlegend: true,
      legend: { ...LEGEND_BOTTOM_RIGHT },
    },
  };
}

/** One PRO curve for {@link proCurveFigure}. */
export interface ProCurveInput {
  /** Legend name (e.g. the map method). */
  name: string;
  /** False-positive rates over defect-free pixels, non-decreasing. */
  fpr: ArrayLike<number>;
  /** Per-region overlap at each point. */
  pro: ArrayLike<number>;
  /** AU-PRO up to the figure's limit, normalised (shown in the legend). */
  auPro: number;
}

/**
 * Up to `maxPoints` points of a curve whose x is non-decreasing, kept from `x ≤ limit` (plus the first point
 * past it, so the line reaches the limit): the last point of each of `maxPoints` equal x-bins. A PRO curve
 * has a point per distinct pixel score — millions — which no plot needs.
 */
export function thinCurve(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  limit: number,
  maxPoints = 1000,
): { x: number[]; y: number[] } {
  const outX: number[] = [];
  const outY: number[] = [];
  const binOf = (v: number) => Math.min(maxPoints - 1, Math.floor((v / limit) * maxPoints));
  for (let i = 0; i < x.length; i++) {
    if (x[i] > limit) {
      outX.push(x[i]);
      outY.push(y[i]);
      break;
    }
    const nextBin = i + 1 < x.length && x[i + 1] <= limit ? binOf(x[i + 1]) : -1;
    if (i === 0 || nextBin !== binOf(x[i])) {
      outX.push(x[i]);
      outY.push(y[i]);
    }
  }
  return { x: outX, y: outY };
}

/**
 * PRO curves (per-region overlap against the false-positive rate of defect-free pixels), drawn up to the
 * FPR `limit` of the AU-PRO (0.3, MVTec AD's); each legend entry carries its AU-PRO.
 */
export function proCurveFigure(
  curves: ProCurveInput[],
  title = "PRO curve",
  limit = 0.3,
  options: FigureOptions = {},
): Figure {
  const data: Trace[] = curves.map((c, i) => {
    const thin = thinCurve(c.fpr, c.pro, limit);
    return {
      type: "scatter",
      mode: "lines",
      name: `${c.name} (AU-PRO = ${formatAuc(c.auPro)})`,
      x: thin.x,
      y: thin.y,
      line: { color: PALETTE[i % PALETTE.length], width: 2 },
    };
  });
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: "False positive rate (defect-free pixels)" }, range: [0, limit] },
      yaxis: { title: { text: "Per-region overlap" }, range: [-0.02, 1.02], dtick: 0.2 },
      width: options.width ?? 560,
      height: options.height ?? 520,
      showlegend: true,
      legend: { ...LEGEND_BOTTOM_RIGHT },
    },
  };
}

/** A 2-D point with its group, for {@link scatterFigure}. */
export interface GroupedPoint {
  /** X. */
  x: number;
  /** Y. */
  y: number;
  /** Group (e.g. `good`, or a defect type). */
  group: string;
}

/** Options of {@link scatterFigure}. */
export interface ScatterOptions extends FigureOptions {
  /** X axis title (default `t-SNE 1`). */
  xTitle?: string;
  /** Y axis title (default `t-SNE 2`). */
  yTitle?: string;
  /** Marker diameter in px (default 7). */
  markerSize?: number;
}

/**
 * A scatter plot (e.g. a t-SNE embedding) with one marker trace per group, "good" first and coloured
 * consistently by {@link groupColors}; the legend sits outside on the right.
 */
export function scatterFigure(
  points: GroupedPoint[],
  title = "t-SNE of embeddings",
  options: ScatterOptions = {},
): Figure {
  const colors = groupColors(points.map((p) => p.group));
  const data: Trace[] = orderGroups(points.map((p) => p.group)).map((group) => {
    const members = points.filter((p) => p.group === group);
    return {
      type: "scatter",
      mode: "markers",
      name: `${group} (${members.length})`,
      x: members.map((p) => p.x),
      y: members.map((p) => p.y),
      marker: {
        color: colors[group],
        size: options.markerSize ?? 7,
        opacity: 0.8,
        line: { color: "#ffffff", width: 0.5 },
      },
    };
  });
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: options.xTitle ?? "t-SNE 1" }, zeroline: false },
      yaxis: { title: { text: options.yTitle ?? "t-SNE 2" }, zeroline: false },
      width: options.width ?? 720,
      height: options.height ?? 540,
      showlegend: true,
      legend: { x: 1.02, y: 1, xanchor: "left", yanchor: "top" },
    },
  };
}

/** Options of {@link scoreHistogramFigure}. */
export interface HistogramOptions extends FigureOptions {
  /** Maximum number of bins over the common range (default 30). */
  nbins?: number;
  /** X axis title (default `Anomaly score`). */
  xTitle?: string;
  /** Normalise each group to a probability density (default false: counts). */
  density?: boolean;
}

/** The smallest 1-2-5 × 10^k step ≥ `raw` (raw > 0). */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const exp = Math.floor(Math.log10(raw));
  const base = Math.pow(10, exp);
  for (const m of [1, 2, 5]) {
    if (m * base >= raw * (1 - 1e-9)) return m * base;
  }
  return 10 * base;
}

/**
 * Bins shared by several histograms: a 1-2-5 width giving at most `maxBins` bins over the finite values,
 * aligned to a multiple of the width. `null` when there are no finite values.
 */
export function sharedBins(values: Iterable<number>, maxBins = 30): Bins | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return null;
  if (hi === lo) {
    const size = niceStep(lo === 0 ? 0.1 : Math.abs(lo) / 10);
    const start = Math.floor(lo / size) * size;
    return { start, end: start + size, size };
  }
  const size = niceStep((hi - lo) / Math.max(1, Math.floor(maxBins)));
  const start = Math.floor(lo / size + 1e-9) * size;
  let n = Math.floor((hi - start) / size + 1e-9) + 1;
  if (n < 1) n = 1;
  return { start, end: start + n * size, size };
}

/**
 * Overlaid, semi-transparent histograms of anomaly scores per group (e.g. `good` and each defect type, or
 * `train good` / `test good` / `test defect`) on shared bins, with a dashed vertical line at `threshold`
 * (skipped when it is not finite) labelled at the top of the plot. The legend runs in a row above the plot.
 */
export function scoreHistogramFigure(
  scoresByGroup: Record<string, ArrayLike<number>>,
  threshold: number,
  title = "Anomaly score distribution",
  options: HistogramOptions = {},
): Figure {
  const groups = orderGroups(Object.keys(scoresByGroup));
  const colors = groupColors(groups);
  const all: number[] = [];
  for (const g of groups) all.push(...toArray(scoresByGroup[g]));
  if (Number.isFinite(threshold)) all.push(threshold);
  const bins = sharedBins(all, options.nbins ?? 30);
  const data: Trace[] = groups.map((g) => {
    const x = toArray(scoresByGroup[g]);
    const trace: HistogramTrace = {
      type: "histogram",
      name: `${g} (${x.filter(Number.isFinite).length})`,
      x,
      opacity: 0.6,
      marker: { color: colors[g], line: { color: colors[g], width: 0.5 } },
    };
    if (bins) trace.xbins = bins;
    if (options.density) trace.histnorm = "probability density";
    return trace;
  });
  const layout: Layout = {
    title: { text: title },
    xaxis: { title: { text: options.xTitle ?? "Anomaly score" } },
    yaxis: { title: { text: options.density ? "Density" : "Count" } },
    barmode: "overlay",
    bargap: 0,
    width: options.width ?? 720,
    height: options.height ?? 450,
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
  };
  if (Number.isFinite(threshold)) {
    layout.shapes = [{
      type: "line",
      x0: threshold,
      x1: threshold,
      y0: 0,
      y1: 1,
      xref: "x",
      yref: "paper",
      line: { color: "#222222", dash: "dash", width: 1.5 },
    }];
    layout.annotations = [{
      x: threshold,
      y: 1,
      xref: "x",
      yref: "paper",
      text: `threshold = ${formatNumber(threshold)}`,
      showarrow: false,
      xanchor: "left",
      yanchor: "top",
      bgcolor: "rgba(255,255,255,0.8)",
      font: { size: 11, color: "#222222" },
    }];
  }
  return { data, layout };
}

/** Four significant digits, no exponent for ordinary magnitudes. */
function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** One record of a training history, for {@link lossCurveFigure}. */
export interface HistoryPoint {
  /** Update step ("epoch" in the reference code). */
  step: number;
  /** Training loss. */
  loss: number;
  /** Training accuracy of the 3-way classifier (0–1), when logged. */
  acc?: number;
  /** Test AUROC (0–1), logged every `test_epochs` steps. */
  auroc?: number;
}

/**
 * Training curves: loss on the left axis; accuracy (line) and test AUROC (markers joined by a line) on a
 * second axis on the right, fixed to 0–1. Series that were never logged are left out (and with them the
 * right axis). The legend runs in a row above the plot.
 */
export function lossCurveFigure(
  history: HistoryPoint[],
  title = "Training",
  options: FigureOptions = {},
): Figure {
  const sorted = [...history].sort((a, b) => a.step - b.step);
  const data: Trace[] = [{
    type: "scatter",
    mode: sorted.length === 1 ? "markers" : "lines",
    name: "loss",
    x: sorted.map((h) => h.step),
    y: sorted.map((h) => h.loss),
    line: { color: PALETTE[0], width: 2 },
    marker: { color: PALETTE[0], size: 6 },
  }];
  const withAcc = sorted.filter((h) => h.acc !== undefined && h.acc !== null);
  if (withAcc.length > 0) {
    data.push({
      type: "scatter",
      mode: withAcc.length === 1 ? "markers" : "lines",
      name: "accuracy",
      x: withAcc.map((h) => h.step),
      y: withAcc.map((h) => h.acc as number),
      yaxis: "y2",
      line: { color: PALETTE[1], width: 1.5 },
      marker: { color: PALETTE[1], size: 6 },
    });
  }
  const withAuroc = sorted.filter((h) => h.auroc !== undefined && h.auroc !== null);
  if (withAuroc.length > 0) {
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: "test AUROC",
      x: withAuroc.map((h) => h.step),
      y: withAuroc.map((h) => h.auroc as number),
      yaxis: "y2",
      line: { color: PALETTE[2], width: 1.5, dash: "dot" },
      marker: { color: PALETTE[2], size: 7 },
    });
  }
  const layout: Layout = {
    title: { text: title },
    xaxis: { title: { text: "Step" } },
    yaxis: { title: { text: "Loss" } },
    width: options.width ?? 760,
    height: options.height ?? 450,
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
  };
  if (data.length > 1) {
    layout.yaxis2 = {
      title: { text: "Accuracy / AUROC" },
      overlaying: "y",
      side: "right",
      range: [0, 1.02],
      showgrid: false,
    };
  }
  return { data, layout };
}

/** One series of a grouped bar chart, for {@link barFigure}. */
export interface BarSeries {
  /** Legend name (e.g. `ours`, `CutPaste (paper)`, `SSPCAB (paper)`). */
  name: string;
  /** One value per category; `null`/NaN for missing. */
  values: (number | null)[];
  /** Colour (default: the palette in series order). */
  color?: string;
}

/** Options of {@link barFigure}. */
export interface BarOptions extends FigureOptions {
  /** Y axis title (default `Image AUROC`). */
  yTitle?: string;
  /** X axis title (default none). */
  xTitle?: string;
  /** Fixed y range; default: from 0, or zoomed to the values when they all lie in the upper half. */
  yRange?: [number, number];
}

/**
 * Grouped bars: one group per category, one bar per series (e.g. our AUROC next to the published
 * numbers). Without `yRange`, when every value exceeds half the largest one (as AUROCs do) the y axis is
 * zoomed to the values so differences stay visible. The legend runs in a row above the plot.
 */
export function barFigure(
  categories: string[],
  series: BarSeries[],
  title = "Image AUROC per category",
  options: BarOptions = {},
): Figure {
  const data: Trace[] = series.map((s, i) => ({
    type: "bar",
    name: s.name,
    x: [...categories],
    y: categories.map((_, j) => {
      const v = s.values[j];
      return v === undefined || v === null || !Number.isFinite(v) ? null : v;
    }),
    marker: { color: s.color ?? PALETTE[i % PALETTE.length] },
  }));
  let range = options.yRange;
  if (!range) {
    const values = data.flatMap((t) => (t as BarTrace).y).filter((v): v is number => v !== null);
    if (values.length > 0) {
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      if (lo > 0 && lo > hi / 2 && hi > lo) {
        const step = niceStep((hi - lo) / 4);
        range = [Math.max(0, Math.floor(lo / step - 1e-9) * step - step), hi + (hi - lo) * 0.05];
      }
    }
  }
  const layout: Layout = {
    title: { text: title },
    xaxis: options.xTitle ? { title: { text: options.xTitle } } : {},
    yaxis: { title: { text: options.yTitle ?? "Image AUROC" } },
    barmode: "group",
    bargap: 0.2,
    width: options.width ?? Math.max(700, 60 + categories.length * (20 + 14 * series.length)),
    height: options.height ?? 460,
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
  };
  if (range && layout.yaxis) layout.yaxis.range = range;
  return { data, layout };
}
