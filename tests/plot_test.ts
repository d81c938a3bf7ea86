// Tests of lib/plot: the figure builders (plotly-style specs), the SVG renderer (well-formed output, titles,
// legends, one group per trace, 1-2-5 ticks, ranges that cover the data, histogram bins, odd data) and the
// PNG route through sharp (size, atomic write, text and lines actually drawn).
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  barFigure,
  dashArray,
  displayable,
  escapeXml,
  type Figure,
  figureToPng,
  formatTick,
  groupColors,
  histogramBins,
  lossCurveFigure,
  niceStep,
  niceTicks,
  orderGroups,
  PALETTE,
  proCurveFigure,
  renderSvg,
  resolveFigure,
  rocFigure,
  savePng,
  scatterFigure,
  scoreHistogramFigure,
  sharedBins,
  showFigure,
  svgSize,
  svgToPng,
  thinCurve,
} from "../lib/plot/mod.ts";

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A small deterministic generator (LCG) and a normal sampler. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Check that tags nest and close, and that text and attributes hold no raw `<` or stray `&`. */
function assertWellFormed(svg: string): void {
  assert(svg.startsWith("<svg "), "starts with <svg");
  assertStringIncludes(svg, 'xmlns="http://www.w3.org/2000/svg"');
  const stack: string[] = [];
  const tag = /<([^>]*)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(svg)) !== null) {
    const between = svg.slice(last, m.index);
    assert(!between.includes("<") && !between.includes(">"), `stray angle bracket near ${m.index}`);
    assert(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(between), `unescaped & in text near ${m.index}`);
    last = tag.lastIndex;
    const body = m[1];
    assert(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(body), `unescaped & in tag ${body.slice(0, 40)}`);
    const quotes = (body.match(/"/g) ?? []).length;
    assertEquals(quotes % 2, 0, `unbalanced quotes in <${body.slice(0, 60)}>`);
    if (body.startsWith("/")) {
      const name = body.slice(1).trim();
      assertEquals(stack.pop(), name, `closing </${name}> matches its opening tag`);
    } else if (!body.endsWith("/") && !body.startsWith("?") && !body.startsWith("!")) {
      stack.push(body.split(/\s/)[0]);
    }
  }
  assertEquals(stack, [], "every tag is closed");
  assertEquals(svg.slice(last).trim(), "", "nothing after </svg>");
  assert(!/NaN|Infinity|undefined/.test(svg), "no NaN/Infinity/undefined in the SVG");
}

/** Unescape the few entities escapeXml produces. */
function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Texts of the `<text class="cls">` elements (tspans joined by a newline). */
function texts(svg: string, cls: string): string[] {
  const re = new RegExp(`<text class="${cls}"[^>]*>(.*?)</text>`, "g");
  return [...svg.matchAll(re)].map((m) =>
    unescape(m[1].replace(/<tspan[^>]*>(.*?)<\/tspan>/g, "$1\n").replace(/\n$/, ""))
  );
}

/** Number of `<g class="trace …">` groups. */
function traceGroups(svg: string): string[] {
  return [...svg.matchAll(/<g class="trace [a-z]+" data-name="[^"]*">(.*?)<\/g>/g)].map((m) => m[1]);
}

function parseTick(label: string): number {
  return Number(label.replace("\u2212", "-"));
}

/** Whether `step` is 1, 2 or 5 × 10^k. */
function isNiceStep(step: number): boolean {
  const exp = Math.floor(Math.log10(step) + 1e-9);
  const mant = step / Math.pow(10, exp);
  return [1, 2, 5, 10].some((m) => Math.abs(mant - m) < 1e-6);
}

function assertNiceTickLabels(labels: string[]): void {
  assert(labels.length >= 2, `at least two ticks (${labels})`);
  const values = labels.map(parseTick);
  assert(values.every(Number.isFinite), `tick labels are numbers: ${labels}`);
  const step = values[1] - values[0];
  assert(step > 0, "ticks increase");
  for (let i = 1; i < values.length; i++) {
    assertAlmostEquals(values[i] - values[i - 1], step, Math.abs(step) * 1e-6, "equal tick spacing");
  }
  assert(isNiceStep(step), `1-2-5 step: ${step}`);
  for (const v of values) {
    assertAlmostEquals(Math.round(v / step) * step, v, step * 1e-6, "ticks are multiples");
  }
}

function rocCurves() {
  const curve = (p: number) => {
    const fpr = new Float64Array(41);
    const tpr = new Float64Array(41);
    for (let i = 0; i <= 40; i++) {
      fpr[i] = i / 40;
      tpr[i] = Math.pow(i / 40, p);
    }
    return { fpr, tpr };
  };
  return [
    { name: "bottle", ...curve(0.1), auc: 0.987 },
    { name: "screw <&>", ...curve(0.4), auc: 0.8123 },
  ];
}

function tsnePoints(n = 60) {
  const r = rng(7);
  const groups = ["good", "crack", "scratch", "color"];
  return Array.from({ length: n }, (_, i) => {
    const g = groups[i % groups.length];
    const k = groups.indexOf(g);
    return { x: 20 * k + 3 * normal(r), y: -50 + 10 * (k % 2) + 3 * normal(r), group: g };
  });
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "plot_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function decode(png: Uint8Array | string) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const i = (Math.round(y) * info.width + Math.round(x)) * info.channels;
    return [data[i], data[i + 1], data[i + 2]];
  };
  /** Number of dark pixels (all channels < 110) in a rectangle. */
  const dark = (x0: number, y0: number, x1: number, y1: number) => {
    let count = 0;
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(info.height, Math.ceil(y1)); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(info.width, Math.ceil(x1)); x++) {
        const i = (y * info.width + x) * info.channels;
        if (data[i] < 110 && data[i + 1] < 110 && data[i + 2] < 110) count++;
      }
    }
    return count;
  };
  return { data, info, at, dark };
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

Deno.test("niceStep and niceTicks give 1-2-5 steps covering the range", () => {
  assertEquals(niceStep(0.17), 0.2);
  assertEquals(niceStep(3), 5);
  assertEquals(niceStep(7), 10);
  assertEquals(niceStep(1), 1);
  assertEquals(niceStep(0.0004), 0.0005);
  const r = rng(1);
  for (let i = 0; i < 500; i++) {
    const lo = (r() - 0.5) * Math.pow(10, Math.floor(r() * 12) - 6);
    const hi = lo + r() * Math.pow(10, Math.floor(r() * 12) - 6) + 1e-9;
    const { step, ticks } = niceTicks(lo, hi, 5);
    assert(isNiceStep(step), `step ${step}`);
    assert(ticks.length >= 2 && ticks.length <= 12, `${ticks.length} ticks for [${lo}, ${hi}]`);
    for (const t of ticks) assert(t >= lo - step * 1e-6 && t <= hi + step * 1e-6, "tick inside the range");
  }
  assertEquals(niceTicks(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(-0.3, 0.3, 6).ticks, [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
  assertEquals(niceTicks(5, 5, 5).ticks, [5], "degenerate range");
  assertEquals(niceTicks(NaN, 1, 5).ticks, [], "NaN range");
});

Deno.test("formatTick prints exact, short labels with a proper minus sign", () => {
  assertEquals(formatTick(0.30000000000000004, 0.1), "0.3");
  assertEquals(formatTick(-2, 1), "\u22122");
  assertEquals(formatTick(0, 0.05), "0");
  assertEquals(formatTick(0.15, 0.05), "0.15");
  assertEquals(formatTick(2500, 500), "2500");
  assertEquals(formatTick(3e-6, 1e-6), "3e-6");
  assertEquals(formatTick(2e8, 1e8), "2e+8");
});

Deno.test("histogramBins counts every finite value once, edges included", () => {
  const values = [0, 0.1, 0.5, 0.99, 1, 1, 2.5, 3, NaN, Infinity, -Infinity];
  const { edges, counts } = histogramBins(values, { start: 0, end: 3, size: 0.5 });
  assertEquals(edges, [0, 0.5, 1, 1.5, 2, 2.5, 3]);
  assertEquals(counts.reduce((a, b) => a + b, 0), 8);
  assertEquals(counts, [2, 2, 2, 0, 0, 2]);
  const r = rng(3);
  const many = Array.from({ length: 1000 }, () => 5 + 2 * normal(r));
  const bins = sharedBins(many, 25)!;
  assert(isNiceStep(bins.size), "nice bin width");
  assert((bins.end - bins.start) / bins.size <= 26, "at most ~maxBins bins");
  assertEquals(histogramBins(many, bins).counts.reduce((a, b) => a + b, 0), 1000);
  assertEquals(sharedBins([NaN]), null);
  const one = sharedBins([4, 4, 4])!;
  assertEquals(histogramBins([4, 4, 4], one).counts.reduce((a, b) => a + b, 0), 3, "constant values");
});

// ---------------------------------------------------------------------------------------------------------
// Builders

Deno.test("rocFigure: plain JSON arrays, AUC in the legend, dashed chance diagonal", () => {
  const fig = rocFigure(rocCurves(), "ROC");
  assertEquals(fig.data.length, 3);
  assertEquals(fig.data[0].name, "bottle (AUC = 0.987)");
  assertEquals(fig.data[1].name, "screw <&> (AUC = 0.812)");
  const diag = fig.data[2];
  assert(diag.type === "scatter" && diag.line?.dash === "dash");
  assertEquals([diag.x, diag.y], [[0, 1], [0, 1]]);
  assert(Array.isArray(fig.data[0].x), "typed arrays become plain arrays");
  assertEquals(JSON.parse(JSON.stringify(fig)), fig, "survives JSON");
  assertEquals(fig.layout.title, { text: "ROC" });
});

Deno.test("group order and colours are consistent: good first, then alphabetical", () => {
  assertEquals(orderGroups(["scratch", "good", "crack", "good", "test good"]), [
    "good",
    "test good",
    "crack",
    "scratch",
  ]);
  const a = groupColors(["crack", "good", "scratch"]);
  const b = groupColors(["scratch", "good", "crack"]);
  assertEquals(a, b);
  assertEquals(a.good, PALETTE[0]);
  assertEquals(new Set(PALETTE).size, 10);
  const fig = scatterFigure(tsnePoints(), "t-SNE");
  assertEquals(fig.data.map((t) => t.name), ["good (15)", "color (15)", "crack (15)", "scratch (15)"]);
  const hist = scoreHistogramFigure({ scratch: [1, 2], good: [0, 1], crack: [3] }, 1.5);
  assertEquals(
    hist.data.map((t) => t.marker?.color),
    [groupColors(["good"]).good, a.crack, a.scratch],
  );
});

Deno.test("scoreHistogramFigure shares bins and draws the threshold line", () => {
  const r = rng(11);
  const good = Array.from({ length: 120 }, () => 10 + normal(r));
  const bad = Array.from({ length: 40 }, () => 14 + 2 * normal(r));
  const fig = scoreHistogramFigure({ good, defect: bad }, 12.3, "Scores");
  assertEquals(fig.layout.barmode, "overlay");
  const [h0, h1] = fig.data;
  assert(h0.type === "histogram" && h1.type === "histogram");
  assertEquals(h0.xbins, h1.xbins, "shared bins");
  assertEquals(fig.layout.shapes?.[0].x0, 12.3);
  assertEquals(fig.layout.annotations?.[0].showarrow, false);
  const res = resolveFigure(fig);
  assertEquals(res.histograms.length, 2);
  assertEquals(res.histograms[0].counts.reduce((a, b) => a + b, 0), 120);
  assertEquals(res.histograms[1].counts.reduce((a, b) => a + b, 0), 40);
  assert(res.xaxis.range[0] <= Math.min(...good, ...bad) && res.xaxis.range[1] >= Math.max(...good, ...bad));
  const maxCount = Math.max(...res.histograms.flatMap((h) => h.counts));
  assert(res.yaxis.range[0] === 0 && res.yaxis.range[1] >= maxCount, "y covers the tallest bin from 0");
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  // One rectangle per non-empty bin in each trace's path.
  const groups = traceGroups(svg);
  res.histograms.forEach((h, i) => {
    const rects = (groups[i].match(/Z/g) ?? []).length;
    assertEquals(rects, h.counts.filter((c) => c > 0).length);
  });
  assertStringIncludes(svg, "threshold = 12.3");
  assertStringIncludes(svg, 'stroke-dasharray="');
  const density = resolveFigure(scoreHistogramFigure({ good }, NaN, "d", { density: true }));
  const h = density.histograms[0];
  const area = h.heights.reduce((a, v, k) => a + v * (h.edges[k + 1] - h.edges[k]), 0);
  assertAlmostEquals(area, 1, 1e-9, "density integrates to 1");
});

Deno.test("lossCurveFigure puts accuracy and AUROC on a 0-1 right axis", () => {
  const history = Array.from({ length: 50 }, (_, i) => ({
    step: i + 1,
    loss: 1 / (i + 1),
    acc: i / 50,
    auroc: (i + 1) % 10 === 0 ? 0.9 : undefined,
  }));
  const fig = lossCurveFigure(history, "Training");
  assertEquals(fig.data.map((t) => t.name), ["loss", "accuracy", "test AUROC"]);
  assertEquals(fig.data[2].type === "scatter" && fig.data[2].x, [10, 20, 30, 40, 50]);
  const res = resolveFigure(fig);
  assert(res.yaxis2, "second axis");
  assertEquals(res.yaxis2.range, [0, 1.02]);
  assert(res.yaxis.range[1] >= 1 && res.yaxis.range[0] <= 1 / 50);
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  assertEquals(texts(svg, "y2title"), ["Accuracy / AUROC"]);
  assertNiceTickLabels(texts(svg, "y2tick"));
  const lossOnly = lossCurveFigure([{ step: 1, loss: 2 }, { step: 2, loss: 1 }]);
  assertEquals(lossOnly.layout.yaxis2, undefined);
  assertEquals(resolveFigure(lossOnly).yaxis2, undefined);
});

Deno.test("barFigure: grouped bars on a category axis, zoomed for AUROC-like values", () => {
  const cats = ["bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill"];
  const fig = barFigure(cats, [
    { name: "ours", values: cats.map((_, i) => 0.9 + i / 100) },
    { name: "SSPCAB (paper)", values: cats.map((_, i) => (i === 3 ? null : 0.95)) },
  ], "AUROC");
  assertEquals(fig.data.length, 2);
  assertEquals(fig.data[1].type === "bar" && fig.data[1].y[3], null);
  const range = fig.layout.yaxis?.range;
  assert(range && range[0] > 0 && range[0] < 0.9 && range[1] >= 0.98, `zoomed range ${range}`);
  const res = resolveFigure(fig);
  assertEquals(res.xaxis.categories, cats);
  assertEquals(res.xaxis.range, [-0.5, cats.length - 0.5]);
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  assertEquals(texts(svg, "xtick"), cats);
  const groups = traceGroups(svg);
  assertEquals((groups[0].match(/Z/g) ?? []).length, cats.length);
  assertEquals((groups[1].match(/Z/g) ?? []).length, cats.length - 1, "missing value leaves a gap");
  // Many long names: labels are rotated.
  const many = Array.from({ length: 16 }, (_, i) => `category_${i}`);
  const crowded = resolveFigure(
    barFigure(many, [{ name: "a", values: many.map(() => 0.5) }], "t", { width: 500 }),
  );
  assert(crowded.xaxis.tickAngle < 0, "rotated labels");
  const fromZero = barFigure(["a", "b"], [{ name: "x", values: [1, 10] }]);
  assertEquals(fromZero.layout.yaxis?.range, undefined);
  assertEquals(resolveFigure(fromZero).yaxis.range[0], 0);
});

// ---------------------------------------------------------------------------------------------------------
// SVG

Deno.test("renderSvg(ROC): well-formed, titles, legend, one group per trace, nice ticks, escaping", () => {
  const fig = rocFigure(rocCurves(), 'ROC <b>"bottle"</b> & co');
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  assertEquals(texts(svg, "title"), ['ROC <b>"bottle"</b> & co']);
  assertStringIncludes(svg, escapeXml('ROC <b>"bottle"</b> & co'));
  assertEquals(texts(svg, "xtitle"), ["False positive rate"]);
  assertEquals(texts(svg, "ytitle"), ["True positive rate"]);
  assertEquals(texts(svg, "legend-text"), ["bottle (AUC = 0.987)", "screw <&> (AUC = 0.812)", "chance"]);
  const groups = traceGroups(svg);
  assertEquals(groups.length, fig.data.length);
  for (const g of groups) assertEquals((g.match(/<path /g) ?? []).length, 1, "one line path per trace");
  assertEquals(texts(svg, "xtick"), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
  assertNiceTickLabels(texts(svg, "ytick"));
  assertStringIncludes(svg, PALETTE[0]);
  assertStringIncludes(svg, `stroke-dasharray="${dashArray("dash", 1.5)}"`);
  assertEquals(svgSize(svg), { width: 560, height: 520 });
  assertEquals(renderSvg(fig), svg, "deterministic");
  assert(/<clipPath id="clip-[0-9a-f]{8}">/.test(svg) && svg.includes('clip-path="url(#clip-'));
});

Deno.test("renderSvg(scatter): marker paths, legend outside, ranges cover the data", () => {
  const points = tsnePoints(80);
  const fig = scatterFigure(points, "t-SNE");
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  const groups = traceGroups(svg);
  assertEquals(groups.length, 4);
  groups.forEach((g, i) => {
    assertStringIncludes(g, 'class="markers"');
    assertEquals(
      (g.match(/a[\d.]+ [\d.]+ 0 1 0/g) ?? []).length,
      2 * fig.data[i].x.length,
      "two arcs per point",
    );
  });
  assertNiceTickLabels(texts(svg, "xtick"));
  assertNiceTickLabels(texts(svg, "ytick"));
  const res = resolveFigure(fig);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  assert(res.xaxis.range[0] < Math.min(...xs) && res.xaxis.range[1] > Math.max(...xs), "x covers the data");
  assert(res.yaxis.range[0] < Math.min(...ys) && res.yaxis.range[1] > Math.max(...ys), "y covers the data");
  for (const t of res.xaxis.ticks) assert(t >= res.xaxis.range[0] && t <= res.xaxis.range[1]);
  // The legend sits to the right of the plot area and inside the figure.
  const legendX = [...svg.matchAll(/<text class="legend-text" x="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert(legendX.every((x) => x > res.plot.x + res.plot.w && x < res.width), "legend right of the plot");
  assert(res.plot.x > 0 && res.plot.y > 0 && res.plot.x + res.plot.w < res.width);
});

Deno.test("renderSvg handles NaN, empty and degenerate data without throwing", () => {
  const cases: Figure[] = [
    { data: [], layout: {} },
    { data: [], layout: { title: "only a title", xaxis: { title: "x" }, yaxis: { title: "y" } } },
    rocFigure([], "no curves"),
    rocFigure([{ name: "nan", fpr: [0, NaN, 1], tpr: [0, 0.5, NaN], auc: NaN }], "nan"),
    scatterFigure([], "empty"),
    scatterFigure([{ x: NaN, y: 1, group: "good" }, { x: 2, y: Infinity, group: "bad" }], "nan points"),
    scatterFigure([{ x: 3, y: 3, group: "good" }], "one point"),
    scoreHistogramFigure({ good: [], bad: [NaN, NaN] }, NaN, "empty histogram"),
    scoreHistogramFigure({ good: [5, 5, 5] }, 5, "constant"),
    lossCurveFigure([], "no history"),
    lossCurveFigure([{ step: 1, loss: NaN, acc: NaN, auroc: NaN }], "nan history"),
    barFigure([], [], "no bars"),
    barFigure(["a", "b"], [{ name: "s", values: [null, NaN] }], "missing bars"),
    {
      data: [{ type: "scatter", mode: "lines+markers", x: [1, 2, 3, 4, 5], y: [1, NaN, 3, 1e300, -1e300] }],
      layout: { xaxis: { range: [NaN, 3] as [number, number], dtick: -1 }, width: -5, height: NaN },
    },
    // Not even a figure.
    {} as unknown as Figure,
  ];
  for (const fig of cases) {
    const svg = renderSvg(fig);
    assertWellFormed(svg);
  }
  // Lines break at NaN: two sub-paths.
  const broken = renderSvg({ data: [{ type: "scatter", x: [0, 1, 2, 3], y: [0, 1, NaN, 2] }], layout: {} });
  const d = /class="line" d="([^"]*)"/.exec(broken)![1];
  assertEquals((d.match(/M/g) ?? []).length, 2);
  const hist = resolveFigure(scoreHistogramFigure({ good: [1, NaN, 2, Infinity] }, NaN));
  assertEquals(hist.histograms[0].counts.reduce((a, b) => a + b, 0), 2);
});

Deno.test("renderSvg: second axis, shapes, annotations with arrows, <br> titles, stacked bars", () => {
  const fig: Figure = {
    data: [
      { type: "bar", name: "a", x: [1, 2, 3], y: [1, 2, 3] },
      { type: "bar", name: "b", x: [1, 2, 3], y: [2, 2, 2] },
      { type: "scatter", mode: "lines+markers", name: "rate", x: [1, 2, 3], y: [0.1, 0.5, 0.9], yaxis: "y2" },
    ],
    layout: {
      title: { text: "two<br>lines" },
      barmode: "stack",
      yaxis2: { overlaying: "y", title: "rate", range: [0, 1] },
      shapes: [{ type: "rect", x0: 1.5, x1: 2.5, y0: 0, y1: 1, yref: "paper", fillcolor: "#eeeeee" }],
      annotations: [{ x: 3, y: 5, text: "peak & end" }],
    },
  };
  const svg = renderSvg(fig);
  assertWellFormed(svg);
  assertEquals(texts(svg, "title"), ["two\nlines"]);
  assertEquals(texts(svg, "annotation"), ["peak & end"]);
  const res = resolveFigure(fig);
  assert(res.yaxis.range[1] >= 5, "stacked heights are covered");
  assertEquals(res.yaxis2?.range, [0, 1]);
  const groups = traceGroups(svg);
  assertEquals(groups.length, 3);
  assertEquals((groups[2].match(/<path /g) ?? []).length, 2, "line and marker paths");
  assertEquals(dashArray("dot", 2), "3,3");
  assertEquals(dashArray("5px,10px"), "5,10");
  assertEquals(dashArray("solid"), "");
});

// ---------------------------------------------------------------------------------------------------------
// PNG

Deno.test("savePng writes a PNG of the figure's size atomically, with text and lines drawn", async () => {
  await withTmp(async (dir) => {
    const fig = rocFigure(rocCurves(), "ROC curve");
    const path = join(dir, "nested", "plots", "roc.png");
    assertEquals(await savePng(fig, path), path);
    const names = [...Deno.readDirSync(join(dir, "nested", "plots"))].map((e) => e.name);
    assertEquals(names, ["roc.png"], "no temporary file left");
    const { info, at, dark } = await decode(path);
    assertEquals([info.width, info.height], [560, 520]);
    const res = resolveFigure(fig);
    const { x, y, w, h } = res.plot;
    assertEquals(at(2, 2), [255, 255, 255], "white paper");
    // The title: dark pixels in the band above the plot, centred over it.
    assert(dark(x + w / 2 - 60, 0, x + w / 2 + 60, y) > 100, "title text is drawn");
    // The left axis line: a dark vertical line at the plot's left edge.
    assert(dark(x - 1, y, x + 1, y + h) > h * 0.8, "axis line is drawn");
    // Tick labels below the axis and the x title further down.
    assert(dark(x, y + h + 6, x + w, y + h + 22) > 40, "x tick labels are drawn");
    assert(dark(x + w / 2 - 60, y + h + 24, x + w / 2 + 60, res.height) > 60, "x axis title is drawn");
    // The y axis title, rotated, left of the tick labels.
    assert(dark(0, y + h / 2 - 50, 24, y + h / 2 + 50) > 60, "y axis title is drawn");
    // The legend (bottom right, inside the plot) has text.
    assert(dark(x + w / 2, y + h - 80, x + w, y + h - 4) > 150, "legend text is drawn");
    // The first curve (blue) passes near (fpr 0.5, tpr 0.5^0.1 ≈ 0.93).
    const px = x + ((0.5 - res.xaxis.range[0]) / (res.xaxis.range[1] - res.xaxis.range[0])) * w;
    const py = y + h -
      ((Math.pow(0.5, 0.1) - res.yaxis.range[0]) / (res.yaxis.range[1] - res.yaxis.range[0])) * h;
    let blue = false;
    for (let dy = -4; dy <= 4; dy++) {
      const [r, _g, b] = at(px, py + dy);
      if (b > 150 && r < 100) blue = true;
    }
    assert(blue, "the blue ROC curve is drawn where expected");
  });
});

Deno.test("svgToPng scales, figureToPng renders a scatter with coloured markers", async () => {
  const fig = scatterFigure(tsnePoints(40), "t-SNE", { width: 400, height: 300 });
  const png1 = await figureToPng(fig);
  const png2 = await svgToPng(renderSvg(fig), { scale: 2 });
  const a = await decode(png1);
  const b = await decode(png2);
  assertEquals([a.info.width, a.info.height], [400, 300]);
  assertEquals([b.info.width, b.info.height], [800, 600]);
  const distinct = new Set<string>();
  for (let i = 0; i < a.data.length; i += a.info.channels * 7) {
    distinct.add(`${a.data[i]},${a.data[i + 1]},${a.data[i + 2]}`);
  }
  assert(distinct.size > 20, "non-uniform pixels");
  // Orange markers (the second group) appear somewhere.
  let orange = 0;
  for (let i = 0; i < a.data.length; i += a.info.channels) {
    if (a.data[i] > 220 && a.data[i + 1] > 110 && a.data[i + 1] < 170 && a.data[i + 2] < 80) orange++;
  }
  assert(orange > 20, `orange marker pixels: ${orange}`);
  // An empty figure still rasterises.
  const empty = await decode(await figureToPng({ data: [], layout: { width: 200, height: 120 } }));
  assertEquals([empty.info.width, empty.info.height], [200, 120]);
});

// ---------------------------------------------------------------------------------------------------------
// Interactive display (nodeplotlib is never loaded here)

Deno.test("showFigure rejects bad input before loading nodeplotlib; displayable gives inline SVG", async () => {
  await assertRejects(() => showFigure({} as Figure), TypeError, "expected a figure");
  const fig = rocFigure(rocCurves(), "ROC");
  const display = displayable(fig);
  const bundle = display[Symbol.for("Jupyter.display")]();
  assertEquals(bundle["image/svg+xml"], renderSvg(fig));
  const src = await Deno.readTextFile(new URL("../lib/plot/show.ts", import.meta.url));
  assert(!/^import[^;]*nodeplotlib/m.test(src), "no static import of nodeplotlib");
});

Deno.test("thinCurve: at most maxPoints + 2 points up to the limit, the first past it, order and ends kept", () => {
  const n = 200_000;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i / (n - 1);
    y[i] = Math.sqrt(x[i]);
  }
  const t = thinCurve(x, y, 0.3, 500);
  assert(t.x.length <= 502, `${t.x.length} points`);
  assert(t.x.length >= 400, `${t.x.length} points`);
  assertEquals(t.x[0], 0);
  assert(t.x.at(-1)! > 0.3 && t.x.at(-2)! <= 0.3, "the line reaches the limit");
  for (let i = 1; i < t.x.length; i++) assert(t.x[i] > t.x[i - 1], "x increases");
  t.x.forEach((v, i) => assertEquals(t.y[i], Math.sqrt(v)));
  // A short curve is kept whole.
  assertEquals(thinCurve([0, 0.1, 0.2], [0, 0.5, 1], 0.3).x, [0, 0.1, 0.2]);
});

Deno.test("proCurveFigure: one line per curve, thinned, AU-PRO in the legend, x axis to the limit", () => {
  const fig = proCurveFigure([{ name: "sspcab", fpr: [0, 0.1, 0.5, 1], pro: [0, 0.4, 0.9, 1], auPro: 0.31 }]);
  assertEquals(fig.data.length, 1);
  assertEquals(fig.data[0].name, "sspcab (AU-PRO = 0.310)");
  assertEquals(fig.layout.xaxis?.range, [0, 0.3]);
  const svg = renderSvg(fig);
  assert(svg.includes("Per-region overlap"));
});
