/**
 * Localisation metrics against MVTec AD's official definitions: the fixture of maps, masks and expected values
 * produced with numpy/scipy/scikit-learn (`SSPCAB_LOCALIZATION_FIXTURE`, a folder with `localization.json`),
 * the committed reference cases in `tests/reference/localization/localization.json` when present, brute-force
 * re-computations on small random inputs, and properties.
 */

import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { join } from "node:path";
import { labelComponents } from "../lib/eval/connected_components.ts";
import {
  auProFromCurve,
  type LocalizationInput,
  localizationMetrics,
  radixArgsort,
} from "../lib/eval/localization_metrics.ts";
import { rocAuc } from "../lib/eval/roc.ts";
import { UserError } from "../lib/util/errors.ts";
import { createRng } from "../lib/util/rng.ts";

const fixtureDir = Deno.env.get("SSPCAB_LOCALIZATION_FIXTURE") ??
  join(import.meta.dirname!, "..", "..", "shared", "fixtures", "localization");
const referencePath = join(import.meta.dirname!, "reference", "localization", "localization.json");

interface LocalizationFixture {
  shape: [number, number, number];
  maps: number[][][];
  masks: number[][][];
  pixel_auroc: number;
  au_pro_30: number;
  au_pro_05: number;
  pro_curve: { fpr: number[]; pro: number[] };
  image_auroc_max: number;
  pixel_f1_max: number;
  tolerance: { abs: number; rel: number };
}

function close(actual: number, expected: number, tol: { abs: number; rel: number }, what: string): void {
  const err = Math.abs(actual - expected);
  assert(
    err <= tol.abs + tol.rel * Math.abs(expected),
    `${what}: got ${actual}, expected ${expected} (|diff| ${err})`,
  );
}

Deno.test("localization metrics match the fixture (pixel AUROC, AU-PRO@0.3/0.05, PRO curve, F1, image AUROC)", async () => {
  const fx = JSON.parse(
    await Deno.readTextFile(join(fixtureDir, "localization.json")),
  ) as LocalizationFixture;
  const [n, h, w] = fx.shape;
  assertEquals(fx.maps.length, n);
  const input: LocalizationInput = {
    maps: fx.maps.map((m) => Float64Array.from(m.flat())),
    masks: fx.masks.map((m) => Uint8Array.from(m.flat())),
    height: h,
    width: w,
  };
  const m = localizationMetrics(input, { proLimits: [0.3, 0.05], curve: true });
  const tol = fx.tolerance;
  close(m.pixelAuroc, fx.pixel_auroc, tol, "pixel AUROC");
  close(m.auPro, fx.au_pro_30, tol, "AU-PRO@0.3");
  close(m.auProAt[1].auPro, fx.au_pro_05, tol, "AU-PRO@0.05");
  close(m.pixelF1Max, fx.pixel_f1_max, tol, "pixel F1-max");
  close(m.imageAuroc, fx.image_auroc_max, tol, "image AUROC of the map maxima");
  const curve = m.proCurve!;
  assertEquals(curve.fpr.length, fx.pro_curve.fpr.length, "PRO curve points");
  for (let i = 0; i < curve.fpr.length; i++) {
    close(curve.fpr[i], fx.pro_curve.fpr[i], tol, `PRO curve fpr[${i}]`);
    close(curve.pro[i], fx.pro_curve.pro[i], tol, `PRO curve pro[${i}]`);
  }
  // The official trapezoid on the fixture's own curve gives the fixture's AU-PRO.
  close(auProFromCurve(fx.pro_curve.fpr, fx.pro_curve.pro, 0.3), fx.au_pro_30, tol, "auProFromCurve@0.3");
  close(auProFromCurve(fx.pro_curve.fpr, fx.pro_curve.pro, 0.05), fx.au_pro_05, tol, "auProFromCurve@0.05");
  // Float32 maps: the same numbers up to float32 rounding of the scores.
  const m32 = localizationMetrics({ ...input, maps: fx.maps.map((mm) => Float32Array.from(mm.flat())) });
  assertAlmostEquals(m32.pixelAuroc, fx.pixel_auroc, 1e-5);
  assertAlmostEquals(m32.auPro, fx.au_pro_30, 1e-5);
});

interface ReferenceCase {
  name: string;
  height: number;
  width: number;
  maps: number[][];
  masks: number[][];
  expected: { pixel_auroc: number; au_pro_0_3: number };
}

Deno.test("localization metrics match the committed reference cases (when present)", async (t) => {
  let text: string;
  try {
    text = await Deno.readTextFile(referencePath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      console.log(`  (skipped: ${referencePath} is not there)`);
      return;
    }
    throw err;
  }
  const doc = JSON.parse(text) as { cases: ReferenceCase[]; tolerance?: { abs: number; rel: number } };
  assert(doc.cases.length > 0, "the reference file holds no cases");
  const tol = doc.tolerance ?? { abs: 1e-7, rel: 1e-6 };
  for (const c of doc.cases) {
    await t.step(c.name, () => {
      const m = localizationMetrics({
        maps: c.maps.map((x) => Float64Array.from(x)),
        masks: c.masks.map((x) => Uint8Array.from(x)),
        height: c.height,
        width: c.width,
      });
      close(m.pixelAuroc, c.expected.pixel_auroc, tol, `${c.name}: pixel AUROC`);
      close(m.auPro, c.expected.au_pro_0_3, tol, `${c.name}: AU-PRO@0.3`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Independent re-computations.

/** 8-connected components by breadth-first flood fill (raster order of first pixels). */
function floodLabels(mask: Uint8Array, h: number, w: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(h * w);
  let count = 0;
  for (let start = 0; start < h * w; start++) {
    if (!mask[start] || labels[start]) continue;
    labels[start] = ++count;
    const queue = [start];
    while (queue.length) {
      const p = queue.pop()!;
      const y = Math.floor(p / w);
      const x = p % w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const q = yy * w + xx;
          if (mask[q] && !labels[q]) {
            labels[q] = count;
            queue.push(q);
          }
        }
      }
    }
  }
  return { labels, count };
}

/** The official compute_pro + trapezoid, written out directly: per distinct threshold, FPR and mean overlap. */
function bruteForce(input: LocalizationInput, limit: number) {
  const { maps, masks, height: h, width: w } = input;
  const regions: { img: number; pixels: number[] }[] = [];
  const negatives: [number, number][] = [];
  const all: number[] = [];
  let pos = 0;
  maps.forEach((map, i) => {
    const { labels, count } = floodLabels(Uint8Array.from(masks[i] as ArrayLike<number>), h, w);
    for (let k = 1; k <= count; k++) regions.push({ img: i, pixels: [] });
    const base = regions.length - count;
    for (let p = 0; p < h * w; p++) {
      all.push(map[p]);
      if (labels[p]) {
        regions[base + labels[p] - 1].pixels.push(p);
        pos++;
      } else negatives.push([i, p]);
    }
  });
  const thresholds = [...new Set(all)].sort((a, b) => b - a);
  const xs = [0];
  const ys = [0];
  let bestF1 = 0;
  for (const t of thresholds) {
    const fp = negatives.filter(([i, p]) => maps[i][p] >= t).length;
    let pro = 0;
    let tp = 0;
    for (const r of regions) {
      const hit = r.pixels.filter((p) => maps[r.img][p] >= t).length;
      pro += hit / r.pixels.length;
      tp += hit;
    }
    xs.push(fp / negatives.length);
    ys.push(Math.min(1, pro / regions.length));
    const precision = tp / (tp + fp);
    const recall = tp / pos;
    const f1 = tp ? (2 * precision * recall) / (precision + recall) : 0;
    bestF1 = Math.max(bestF1, f1);
  }
  xs.push(1);
  ys.push(1);
  // numpy trapezoid with the official correction term (bisect_right).
  let ins = 0;
  while (ins < xs.length && xs[ins] <= limit) ins++;
  let area = 0;
  for (let i = 1; i < ins; i++) area += 0.5 * (ys[i] + ys[i - 1]) * (xs[i] - xs[i - 1]);
  if (!xs.includes(limit)) {
    const yi = ys[ins - 1] + (ys[ins] - ys[ins - 1]) * (limit - xs[ins - 1]) / (xs[ins] - xs[ins - 1]);
    area += 0.5 * (yi + ys[ins - 1]) * (limit - xs[ins - 1]);
  }
  return { auPro: area / limit, f1: bestF1 };
}

function randomCase(seed: number, n: number, h: number, w: number, levels: number): LocalizationInput {
  const rng = createRng(seed);
  const maps: Float64Array[] = [];
  const masks: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const mask = new Uint8Array(h * w);
    if (i % 3 !== 0) {
      // A few random blobs (rectangles), some touching diagonally.
      const blobs = 1 + Math.floor(rng.next() * 3);
      for (let b = 0; b < blobs; b++) {
        const y0 = Math.floor(rng.next() * h);
        const x0 = Math.floor(rng.next() * w);
        const bh = 1 + Math.floor(rng.next() * 4);
        const bw = 1 + Math.floor(rng.next() * 4);
        for (let y = y0; y < Math.min(h, y0 + bh); y++) {
          for (let x = x0; x < Math.min(w, x0 + bw); x++) mask[y * w + x] = 1;
        }
      }
    }
    const map = new Float64Array(h * w);
    for (let p = 0; p < h * w; p++) {
      const v = rng.normal() + (mask[p] ? 1 : 0);
      // Coarse quantisation makes many ties.
      map[p] = levels > 0 ? Math.round(v * levels) / levels : v;
    }
    maps.push(map);
    masks.push(mask);
  }
  return { maps, masks, height: h, width: w };
}

Deno.test("connected components: 8-connectivity, equal to a flood fill on random masks", () => {
  // Diagonal neighbours join; a U shape is one region found only after a merge.
  const diag = labelComponents([1, 0, 0, 0, 1, 0, 0, 0, 1], 3, 3);
  assertEquals(diag.count, 1);
  assertEquals(Array.from(diag.sizes), [3]);
  const u = labelComponents([1, 0, 1, 1, 0, 1, 1, 1, 1], 3, 3);
  assertEquals(u.count, 1);
  const two = labelComponents([1, 1, 0, 0, 0, 0, 0, 1], 2, 4);
  assertEquals(two.count, 2);
  assertEquals(Array.from(two.labels), [1, 1, 0, 0, 0, 0, 0, 2]);
  assertEquals(labelComponents(new Uint8Array(12), 3, 4).count, 0);
  const rng = createRng(7);
  for (let trial = 0; trial < 30; trial++) {
    const h = 1 + Math.floor(rng.next() * 20);
    const w = 1 + Math.floor(rng.next() * 20);
    const density = rng.next();
    const mask = new Uint8Array(h * w);
    for (let p = 0; p < h * w; p++) mask[p] = rng.next() < density ? 1 : 0;
    const ours = labelComponents(mask, h, w);
    const ref = floodLabels(mask, h, w);
    assertEquals(ours.count, ref.count, `${h}×${w} trial ${trial}`);
    assertEquals(Array.from(ours.labels), Array.from(ref.labels), `${h}×${w} trial ${trial}`);
    for (let k = 0; k < ours.count; k++) {
      assertEquals(ours.sizes[k], ref.labels.filter((l) => l === k + 1).length);
    }
  }
  assertThrows(() => labelComponents(new Uint8Array(5), 2, 3), RangeError);
});

Deno.test("radixArgsort orders float32 and float64 values like a comparison sort", () => {
  const rng = createRng(3);
  // Values that differ only in the low mantissa bits (float64's low word), both signs.
  const specials = [
    0,
    -0,
    1e-40,
    -1e-40,
    3.4e38,
    -3.4e38,
    1,
    -1,
    1,
    1,
    -1 - 2 ** -40,
    -1 - 2 ** -45,
    1 + 2 ** -40,
  ];
  for (const Kind of [Float32Array, Float64Array]) {
    for (const n of [0, 1, 7, 5000]) {
      const v = new Kind(n);
      for (let i = 0; i < n; i++) {
        v[i] = i < specials.length
          ? specials[i]
          : (rng.next() < 0.3 ? Math.round(rng.normal() * 4) : rng.normal() * 1e3);
      }
      const idx = radixArgsort(v);
      assertEquals(idx.length, n);
      assertEquals(new Set(idx).size, n, "a permutation");
      for (let i = 1; i < n; i++) assert(v[idx[i - 1]] <= v[idx[i]], `${Kind.name} n=${n} at ${i}`);
    }
  }
});

Deno.test("pixel AUROC equals roc.ts's rocAuc; AU-PRO and F1-max equal a direct computation (with ties)", () => {
  for (const [seed, levels] of [[1, 0], [2, 2], [3, 1], [4, 0.5]]) {
    const input = randomCase(seed, 5, 9, 11, levels);
    const m = localizationMetrics(input, { proLimits: [0.3, 0.05, 1] });
    const labels: number[] = [];
    const scores: number[] = [];
    input.maps.forEach((map, i) => {
      for (let p = 0; p < map.length; p++) {
        scores.push(map[p]);
        labels.push(input.masks[i][p] ? 1 : 0);
      }
    });
    assertAlmostEquals(m.pixelAuroc, rocAuc(labels, scores), 1e-12, `seed ${seed}`);
    for (const { limit, auPro } of m.auProAt) {
      assertAlmostEquals(auPro, bruteForce(input, limit).auPro, 1e-12, `seed ${seed} limit ${limit}`);
    }
    assertAlmostEquals(m.pixelF1Max, bruteForce(input, 0.3).f1, 1e-12, `seed ${seed} F1`);
    // The F1 threshold reproduces the F1 when applied.
    let tp = 0, fp = 0, fn = 0;
    input.maps.forEach((map, i) => {
      for (let p = 0; p < map.length; p++) {
        const pred = map[p] >= m.pixelF1Threshold;
        const gt = input.masks[i][p] ? 1 : 0;
        if (pred && gt) tp++;
        else if (pred) fp++;
        else if (gt) fn++;
      }
    });
    assertAlmostEquals(m.pixelF1Max, (2 * tp) / (2 * tp + fp + fn), 1e-12);
    // Image AUROC from the maxima.
    const imageLabels = input.masks.map((mk) => Array.from(mk as Uint8Array).some((v) => v) ? 1 : 0);
    assertAlmostEquals(
      m.imageAuroc,
      rocAuc(imageLabels, input.maps.map((mp) => Math.max(...Array.from(mp)))),
      1e-12,
    );
  }
});

Deno.test("properties: perfect, inverted and constant maps; a map equal to the mask has PRO 1", () => {
  const input = randomCase(11, 6, 16, 12, 0);
  const perfect = input.masks.map((mk) => Float32Array.from(mk as Uint8Array, (v) => v ? 2 : 1));
  const inverted = input.masks.map((mk) => Float32Array.from(mk as Uint8Array, (v) => v ? -2 : 1));
  const constant = input.masks.map((mk) => new Float32Array(mk.length).fill(0.25));
  const maskAsMap = input.masks.map((mk) => Float32Array.from(mk as Uint8Array));
  const p = localizationMetrics({ ...input, maps: perfect }, { proLimits: [0.3, 0.01] });
  assertEquals(p.pixelAuroc, 1);
  assertAlmostEquals(p.auPro, 1, 1e-12);
  assertAlmostEquals(p.auProAt[1].auPro, 1, 1e-12);
  assertEquals(p.pixelF1Max, 1);
  assertEquals(localizationMetrics({ ...input, maps: maskAsMap }).auPro, 1);
  const inv = localizationMetrics({ ...input, maps: inverted });
  assertEquals(inv.pixelAuroc, 0);
  assertAlmostEquals(inv.auPro, 0, 1e-12);
  const c = localizationMetrics({ ...input, maps: constant });
  assertEquals(c.pixelAuroc, 0.5);
  // One operating point (1, 1): PRO = FPR on [0, 1], so the area to 0.3 is 0.3²/2, divided by 0.3.
  assertAlmostEquals(c.auPro, 0.15, 1e-12);
  // Good images only add defect-free pixels: with perfect maps they change nothing.
  assertEquals(p.imageAuroc, 1);
});

Deno.test("bad inputs get clear errors", () => {
  const input = randomCase(5, 3, 4, 4, 0);
  const noDefect = { ...input, masks: input.masks.map((m) => new Uint8Array(m.length)) };
  assertThrows(() => localizationMetrics(noDefect), UserError, "no mask has a defect pixel");
  const nan = { ...input, maps: input.maps.map((m, i) => i === 1 ? Float64Array.from(m, () => NaN) : m) };
  assertThrows(() => localizationMetrics({ ...nan, names: ["a.png", "b.png", "c.png"] }), UserError, "b.png");
  assertThrows(
    () => localizationMetrics({ ...input, masks: [input.masks[0], new Uint8Array(3), input.masks[2]] }),
    UserError,
    "mask of image 1",
  );
  assertThrows(() => localizationMetrics({ ...input, masks: input.masks.slice(1) }), UserError, "pair up");
  assertThrows(() => localizationMetrics(input, { proLimits: [0] }), RangeError);
  const labels = input.masks.map((m) => Array.from(m as Uint8Array).some((v) => v) ? 1 : 0);
  assertEquals(localizationMetrics({ ...input, labels }).pixelAuroc, localizationMetrics(input).pixelAuroc);
  const emptyDefect = { ...input, labels: labels.map(() => 1), names: ["a.png", "b.png", "c.png"] };
  assertThrows(() => localizationMetrics(emptyDefect), UserError, "mask of defective image a.png is empty");
  assertThrows(() => localizationMetrics({ ...input, labels: labels.map(() => 0) }), UserError, "good image");
  const allDefect = { ...input, masks: input.masks.map((m) => new Uint8Array(m.length).fill(1)) };
  assertThrows(() => localizationMetrics(allDefect), UserError, "every pixel");
});
