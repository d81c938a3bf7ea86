// Tests of lib/notebook (the notebooks' helpers), without a Jupyter kernel: environment parameters and
// project paths, displayable MIME bundles and tables, mask overlays and outlines, denormalisation, image grids,
// stderr capture for live progress, the data-source rules (synthetic set generated and reused), sample grids,
// the CutPaste views and the parameter table.
import sharp from "sharp";
import { join } from "node:path";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import {
  displayPath,
  envNumber,
  envString,
  PROJECT_ROOT,
  projectPath,
  reportFact,
} from "../lib/notebook/params.ts";
import {
  bundleOf,
  countsTable,
  countsTableRows,
  encodeBase64,
  escapeHtml,
  htmlTable,
  keyValueTable,
  png,
} from "../lib/notebook/display.ts";
import {
  composeGrid,
  denormalizeImage,
  fitText,
  maskOutline,
  outlineMask,
  overlayMask,
} from "../lib/plot/images.ts";
import { inJupyter, lastLine, withLiveProgress } from "../lib/notebook/progress.ts";
import { ensureSyntheticDataset, pickCategory, prepareData } from "../lib/notebook/data.ts";
import { categorySampleGrid, datasetOverviewGrid, pickEvenly } from "../lib/notebook/samples.ts";
import {
  batchGrid,
  batchSummary,
  cutPasteGallery,
  describeBox,
  geometryFigures,
  sampleCutPasteGeometry,
} from "../lib/notebook/cutpaste_view.ts";
import { parameterTable, shapeSize } from "../lib/notebook/model_view.ts";
import { toNormalizedFloat32 } from "../lib/data/normalize.ts";
import { createMask, createRgbImage, type RgbImage } from "../lib/data/rgb_image.ts";
import { datasetSummary } from "../lib/data/mvtec.ts";
import { buildBatch } from "../lib/train/batch_plan.ts";
import { DEFAULT_SSPCAB, sspcabSpecs } from "../lib/model/sspcab.ts";
import { renderSvg } from "../lib/plot/svg.ts";
import { UserError } from "../lib/util/errors.ts";

async function pngSize(bytes: Uint8Array): Promise<[number, number]> {
  const m = await sharp(bytes).metadata();
  return [m.width!, m.height!];
}

function gradient(w: number, h: number): RgbImage {
  const img = createRgbImage(w, h);
  for (let i = 0; i < w * h; i++) {
    img.data[i * 3] = (i * 7) % 256;
    img.data[i * 3 + 1] = (i * 13) % 256;
    img.data[i * 3 + 2] = (i * 29) % 256;
  }
  return img;
}

Deno.test("params: envString / envNumber read the environment, fall back, and name a bad variable", () => {
  const name = "SSPCAB_TEST_PARAM_" + crypto.randomUUID().slice(0, 8).toUpperCase();
  try {
    assertEquals(envString(name, "dflt"), "dflt");
    assertEquals(envNumber(name, 7), 7);
    Deno.env.set(name, "  bottle ");
    assertEquals(envString(name, "dflt"), "bottle");
    Deno.env.set(name, "");
    assertEquals(envString(name, "dflt"), "dflt");
    Deno.env.set(name, "128");
    assertEquals(envNumber(name, 256, { min: 32 }), 128);
    Deno.env.set(name, "12");
    assertThrows(() => envNumber(name, 256, { min: 32 }), UserError, name);
    Deno.env.set(name, "1.5");
    assertThrows(() => envNumber(name, 2), UserError, "integer");
    assertEquals(envNumber(name, 2, { integer: false }), 1.5);
    Deno.env.set(name, "abc");
    assertThrows(() => envNumber(name, 2), UserError, `invalid ${name}="abc"`);
  } finally {
    Deno.env.delete(name);
  }
});

Deno.test("params: project paths resolve against the project root and display relative to it", async () => {
  assert((await Deno.stat(join(PROJECT_ROOT, "deno.json"))).isFile, "PROJECT_ROOT holds deno.json");
  assertEquals(projectPath("outputs/x"), join(PROJECT_ROOT, "outputs/x"));
  assertEquals(projectPath("/abs/path"), "/abs/path");
  assertEquals(displayPath("outputs/synthetic"), "outputs/synthetic");
  assertEquals(displayPath(join(PROJECT_ROOT, "data", "mvtec")), "data/mvtec");
  assertEquals(displayPath("../shared/data/mvtec-lite"), "../shared/data/mvtec-lite");
  assertEquals(displayPath("/elsewhere/data"), "/elsewhere/data");
});

Deno.test("params: reportFact merges facts into the file named by SSPCAB_REPORT_FACTS, else does nothing", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "facts.json");
  const before = Deno.env.get("SSPCAB_REPORT_FACTS");
  try {
    Deno.env.delete("SSPCAB_REPORT_FACTS");
    await reportFact("backend", "cpu");
    Deno.env.set("SSPCAB_REPORT_FACTS", file);
    await reportFact("backend", "wasm");
    await reportFact("steps", 10);
    assertEquals(JSON.parse(await Deno.readTextFile(file)), { backend: "wasm", steps: 10 });
  } finally {
    if (before === undefined) Deno.env.delete("SSPCAB_REPORT_FACTS");
    else Deno.env.set("SSPCAB_REPORT_FACTS", before);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("display: MIME bundles for HTML, PNG; escaping; base64 of large buffers", () => {
  const h = bundleOf(keyValueTable({ SIZE: 128, CATEGORY: "" }, "Parameters"));
  assertStringIncludes(h["text/html"], "<table");
  assertStringIncludes(h["text/html"], "<code>128</code>");
  assertStringIncludes(h["text/html"], "<code>&quot;&quot;</code>");
  assertStringIncludes(h["text/plain"], "SIZE: 128");
  assertEquals(escapeHtml(`<a href="x">&'</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
  assertEquals(
    encodeBase64(bytes),
    btoa(String.fromCharCode(...bytes.subarray(0, 3))) + encodeBase64(bytes).slice(4),
  );
  const p = png(new Uint8Array([1, 2, 3]), "alt");
  assertEquals(bundleOf(p), { "image/png": "AQID", "text/plain": "alt" });
  assertEquals(Array.from(p.bytes), [1, 2, 3]);
  const t = htmlTable(["a", "b"], [["x", 1], [{ html: "<b>y</b>" }, 2]], { boldRows: [1], caption: "c&d" });
  assertStringIncludes(t, "text-align:right");
  assertStringIncludes(t, "<b>y</b>");
  assertStringIncludes(t, "font-weight:600");
  assertStringIncludes(t, "c&amp;d");
});

Deno.test("display: the counts table has one row per category, the official check and a total row", () => {
  const rows = countsTableRows([
    {
      category: "bottle",
      train: 209,
      testGood: 20,
      testDefective: 63,
      byDefectType: { broken_large: 20, broken_small: 22, contamination: 21 },
      masks: 63,
      official: {
        train: 209,
        testGood: 20,
        testDefective: 63,
        defectTypes: 3,
        imageSide: 900,
        kind: "object",
        grayscale: false,
      },
      complete: true,
    },
    {
      category: "synthetic_object",
      train: 16,
      testGood: 6,
      testDefective: 12,
      byDefectType: { scratch: 6, spot: 6 },
      masks: 12,
    },
  ]);
  assertEquals(rows.rows.length, 3);
  assertEquals(rows.rows[0].slice(0, 4), ["bottle", 209, 20, 63]);
  assertEquals(rows.rows[0][4], "broken_large 20, broken_small 22, contamination 21");
  assertEquals(rows.rows[0][6], "✓ matches");
  assertMatch(String(rows.rows[1][6]), /not an MVTec AD category/);
  assertEquals(rows.rows[2].slice(1, 4), [225, 26, 75]);
  const html = bundleOf(countsTable([], "none"))["text/html"];
  assertStringIncludes(html, "total (0 categories)");
});

Deno.test("images: outline is the inner boundary; overlay tints and outlines; input unchanged", () => {
  const mask = createMask(8, 8);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) mask.data[y * 8 + x] = 255;
  const edge = maskOutline(mask);
  assertEquals(edge.data.filter(Boolean).length, 12, "a 4×4 square has 12 boundary pixels");
  assertEquals(edge.data[3 * 8 + 3], 0, "interior stays empty");
  const img = createRgbImage(8, 8);
  img.data.fill(100);
  const over = overlayMask(img, mask, { color: [200, 0, 0], alpha: 0.5, thickness: 1 });
  assertEquals(Array.from(over.data.subarray((2 * 8 + 2) * 3, (2 * 8 + 2) * 3 + 3)), [200, 0, 0], "outline");
  assertEquals(
    Array.from(over.data.subarray((3 * 8 + 3) * 3, (3 * 8 + 3) * 3 + 3)),
    [150, 50, 50],
    "50 % tint",
  );
  assertEquals(Array.from(over.data.subarray(0, 3)), [100, 100, 100], "outside untouched");
  assertEquals(img.data[0], 100);
  const outlined = outlineMask(img, mask, [1, 2, 3]);
  assertEquals(Array.from(outlined.data.subarray((3 * 8 + 3) * 3, (3 * 8 + 3) * 3 + 3)), [100, 100, 100]);
  assertThrows(() => overlayMask(img, createMask(4, 4)), RangeError, "mask is 4×4");
});

Deno.test("images: denormalizeImage inverts the ImageNet normalisation of a batch", () => {
  const a = gradient(6, 5);
  const b = gradient(6, 5);
  b.data.reverse();
  const pixels = toNormalizedFloat32([a, b]);
  assertEquals(denormalizeImage(pixels, 0, { width: 6, height: 5 }).data, a.data);
  assertEquals(denormalizeImage(pixels, 1, { width: 6, height: 5 }).data, b.data);
  assertThrows(() => denormalizeImage(pixels, 2, { width: 6, height: 5 }), RangeError);
});

Deno.test("images: composeGrid lays out rows with labels, captions and a title; fitText shortens", async () => {
  const rows = [[{ image: gradient(20, 20), caption: "a" }, { image: gradient(40, 40), caption: "b" }], [
    { image: null, caption: "empty" },
  ]];
  const bytes = await composeGrid(rows, { cellSize: 32, gap: 4, rowLabels: ["r1", "r2"], title: "T" });
  const [w, h] = await pngSize(bytes);
  const labelW = Math.ceil(2 * 13 * 0.6) + 8;
  assertEquals(w, labelW + 4 + 2 * (32 + 4));
  assertEquals(h, Math.ceil(16 * 2) + 4 + 2 * (32 + Math.ceil(12 * 1.6) + 4));
  assertEquals(fitText("short", 100, 12), "short");
  assert(fitText("a very long caption that will not fit", 60, 12).endsWith("…"));
});

Deno.test("progress: lastLine follows carriage returns and drops ANSI; outside Jupyter the work just runs", async () => {
  assertEquals(lastLine("a\nprogress 10%\rprogress 50%\r\x1b[2Kprogress 90%\n\n"), "progress 90%");
  assertEquals(lastLine(""), "");
  assertEquals(inJupyter(), false);
  assertEquals(await withLiveProgress("x", () => Promise.resolve("plain")), "plain");
});

Deno.test("data: synthetic set generated under <output>/synthetic, reused, and an explicit folder is checked", async () => {
  const out = await Deno.makeTempDir({ prefix: "sspcab-nbdata-" });
  try {
    const missing = join(out, "no-mvtec-here");
    const first = await prepareData({ dataDir: "", outputDir: out, size: 48, defaultDir: missing });
    assertEquals(first.source, "synthetic");
    assertEquals(first.path, join(out, "synthetic"));
    assertEquals(first.categories, ["synthetic_object", "synthetic_texture"]);
    assertMatch(first.note, /Generated at 48×48/);
    const md = bundleOf(first)["text/markdown"];
    assertStringIncludes(md, "synthetic MVTec-like set");
    const again = await prepareData({ dataDir: "", outputDir: out, size: 48, defaultDir: missing });
    assertMatch(again.note, /Reused/);
    assertEquals(await ensureSyntheticDataset(join(out, "synthetic"), 48), false);
    assertEquals(await ensureSyntheticDataset(join(out, "synthetic"), 40), true, "another size regenerates");

    const given = await prepareData({ dataDir: join(out, "synthetic"), outputDir: out, size: 48 });
    assertEquals(given.source, "given");
    const found = await prepareData({
      dataDir: "",
      outputDir: join(out, "other"),
      size: 48,
      defaultDir: join(out, "synthetic"),
    });
    assertEquals(found.source, "mvtec");
    await assertRejects(
      () => prepareData({ dataDir: join(out, "nope"), outputDir: out, size: 48 }),
      UserError,
      "SSPCAB_DATA_DIR",
    );
    assertEquals(pickCategory("", first), "synthetic_object");
    assertEquals(pickCategory("synthetic_texture", first), "synthetic_texture");
    assertThrows(
      () => pickCategory("bottle", first),
      UserError,
      "categories present: synthetic_object, synthetic_texture",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("samples: pickEvenly spreads picks; sample and overview grids are PNGs of the expected size", async () => {
  assertEquals(pickEvenly([1, 2, 3, 4, 5, 6, 7], 3), [1, 4, 7]);
  assertEquals(pickEvenly([1, 2], 5), [1, 2]);
  assertEquals(pickEvenly([1, 2, 3], 1), [1]);
  assertEquals(pickEvenly([1, 2, 3], 0), []);
  const out = await Deno.makeTempDir({ prefix: "sspcab-nbsamples-" });
  try {
    const dir = join(out, "synthetic");
    await ensureSyntheticDataset(dir, 48);
    const grid = await categorySampleGrid(dir, "synthetic_object", { size: 48, perRow: 3, cellSize: 48 });
    const [, h] = await pngSize(grid.bytes);
    // Rows: train good, test good, scratch, spot.
    assertEquals(h, Math.ceil(16 * 2) + 6 + 4 * (48 + Math.ceil(12 * 1.6) + 6));
    assertEquals(Object.keys(bundleOf(grid)).sort(), ["image/png", "text/plain"]);
    const overview = await datasetOverviewGrid(dir, (await datasetSummary(dir)).map((r) => r.category), {
      size: 48,
    });
    const [ow, oh] = await pngSize(overview.bytes);
    assert(ow > 5 * 48 && oh > 2 * 48, `${ow}×${oh}`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cutpaste views: gallery, batch grid and summary, geometry within the reference ranges", async () => {
  const imgs = [gradient(64, 64), gradient(64, 64)];
  const gallery = await cutPasteGallery(imgs, { seed: 1, cellSize: 64 });
  const [gw, gh] = await pngSize(gallery.bytes);
  assert(gw >= 6 + 5 * (64 + 6), `five columns (the title may widen the canvas): ${gw}`);
  assertEquals(gh, Math.ceil(16 * 2) + 6 + 2 * (64 + Math.ceil(12 * 1.6) + 6));

  const batch = buildBatch(
    { imageCount: 2, batchSize: 2, datasetLength: 10, seed: 3, variant: "3way" },
    imgs,
    0,
  );
  assertEquals(Array.from(batch.labels), [0, 0, 1, 1, 2, 2]);
  const grid = await batchGrid(batch, { cellSize: 32 });
  const [, bh] = await pngSize(grid.bytes);
  assertEquals(bh, Math.ceil(16 * 2) + 6 + 3 * (32 + Math.ceil(12 * 1.6) + 6), "one row per label");
  assertMatch(bundleOf(batchSummary(batch))["text/markdown"], /6×64×64×3 .*labels` = \[0, 0, 1, 1, 2, 2\]/);

  const g = sampleCutPasteGeometry(300, 64, 5);
  assertEquals(g.normal.length, 300);
  for (const b of g.normal) {
    assert(b.areaRatio >= 0.02 && b.areaRatio < 0.15, `area ${b.areaRatio}`);
    assert(b.aspect >= 0.3 - 1e-9 && b.aspect <= 1 / 0.3 + 1e-9, `aspect ${b.aspect}`);
  }
  for (const b of g.scar) {
    assert(b.cutWidth >= 2 && b.cutWidth < 16 && b.cutHeight >= 10 && b.cutHeight < 25);
    assert(b.rotationDeg >= -45 && b.rotationDeg < 45);
  }
  assertMatch(describeBox(g.normal[0]), /^normal \d+×\d+ \(\d+\.\d%\)$/);
  assertMatch(describeBox(g.scar[0]), /^scar \d+×\d+, [+-]?\d+°$/);
  const figs = geometryFigures(g);
  for (const [name, fig] of Object.entries(figs)) {
    const svg = renderSvg(fig);
    assertStringIncludes(svg, "<path", name);
  }
  assertEquals(figs.scarSize.data.length, 2);
});

Deno.test("model view: the SSPCAB parameter table lists every parameter and the total", () => {
  const specs = sspcabSpecs(DEFAULT_SSPCAB);
  const total = specs.reduce((n, s) => n + shapeSize(s.shape), 0);
  assertEquals(total, 4 * (256 * 256 + 256) + (256 * 32 + 32) + (32 * 256 + 256));
  const html = bundleOf(parameterTable(specs))["text/html"];
  assertStringIncludes(html, "SSPCAB.conv1.weight");
  assertStringIncludes(html, "SSPCAB.se.fc2.bias");
  assertStringIncludes(html, `>${total}<`);
});
