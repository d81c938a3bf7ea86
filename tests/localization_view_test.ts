/**
 * Notebook 06's views (lib/notebook/localization_view.ts over lib/pipeline/localize_test_set.ts) on the
 * synthetic set, which has exact masks: models as training saves them (whole images, and one on patches),
 * their densities fitted by the evaluation pipeline, every applicable method's maps of the test set; the pooled
 * pixel AUROC against an independent sort-based ROC over the same pixels, the ground truth (and its inverse)
 * as maps ranking best (and worst) with metrics 1 (and 0), the panels and tables; and the same category
 * without masks, where the views fall back to the most and least anomalous images by image score.
 * @module
 */
import { join, resolve } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { modelConfigFor, runPaths, TRAIN_DEFAULTS, type TrainConfig } from "../lib/train/config.ts";
import { createProjectionNet } from "../lib/model/projection_net.ts";
import { disposeParams } from "../lib/model/params.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { evaluateCategories } from "../lib/pipeline/run_eval.ts";
import { type TestSetMaps, testSetMaps } from "../lib/pipeline/localize_test_set.ts";
import {
  bestWorstPanels,
  localizationFact,
  localizationScores,
  localizationScoresTable,
  mapMethodsTable,
  maskIou,
  modelSetup,
  mostLeastAnomalous,
  noMasksNote,
  paperLocalizationRows,
  paperLocalizationTable,
  proCurvesFigure,
} from "../lib/notebook/localization_view.ts";
import { loadScores } from "../lib/notebook/eval_view.ts";
import { bundleOf, type Displayable } from "../lib/notebook/display.ts";
import { rocAuc } from "../lib/eval/roc.ts";
import { PUBLISHED_PIXEL_AUROC } from "../lib/eval/published_results.ts";
import { UserError } from "../lib/util/errors.ts";

const SIZE = 48;
const CAT = "synthetic_object";
const PNG_BASE64 = "iVBORw0KGgo"; // the PNG signature, base64

const htmlOf = (d: Displayable) => bundleOf(d)["text/html"];

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/**
 * A model for `category` in `models` as training saves it (a seeded random initialisation: the views need
 * real maps of a real network, not a trained one), then the density fitted by the evaluation pipeline.
 */
async function modelAndDensity(
  data: string,
  models: string,
  category: string,
  extra: Partial<TrainConfig> = {},
): Promise<void> {
  const cfg: TrainConfig = {
    ...TRAIN_DEFAULTS,
    category,
    dataDir: data,
    modelDir: models,
    logDir: join(models, "logs"),
    epochs: 2,
    testEpochs: 0,
    batchSize: 2,
    size: SIZE,
    pretrained: null,
    backend: "wasm",
    ...extra,
  };
  const net = createProjectionNet(modelConfigFor(cfg), 7);
  await saveStateDict(net.specs, net.params, runPaths(cfg).best, {
    format: "sspcab-model",
    config: JSON.stringify(cfg),
    step: "2",
    auroc: "0.5",
  });
  disposeParams(net.params);
  await evaluateCategories({
    categories: [category],
    dataDir: data,
    modelDir: models,
    density: "gaussian",
    savePlots: false,
    batchSize: 8,
    quiet: true,
  });
}

/** `run` with one method whose maps are `make(mask, index)` (a float copy of the mask, or its inverse). */
function withMaps(run: TestSetMaps, make: (mask: Uint8Array, i: number) => Float32Array): TestSetMaps {
  return {
    ...run,
    methods: [{ method: "sspcab", options: {}, seconds: 1, maps: run.masks!.map(make) }],
  };
}

Deno.test({
  name:
    "localisation view: maps, metrics, panels and tables with masks, the fallback without them, patch maps",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_localization_view_" });
    try {
      const data = join(dir, "data");
      await generateSyntheticDataset(data, {
        categories: [CAT],
        size: SIZE,
        trainCount: 4,
        testGoodCount: 2,
        testBadCount: 2,
      });
      await copyTree(join(data, CAT), join(data, "nomask"));
      await Deno.remove(join(data, "nomask", "ground_truth"), { recursive: true });
      await initBackend("wasm");
      const models = join(dir, "models");
      await modelAndDensity(data, models, CAT);
      await modelAndDensity(data, models, "nomask");

      await t.step("with masks: the applicable maps of every test image, scored", async () => {
        const run = await testSetMaps({ category: CAT, dataDir: data, modelDir: models, quiet: true });
        assertEquals(run.methods.map((m) => m.method), ["sspcab", "gradcam"]);
        const patch = run.availability.find((a) => a.method === "patch")!;
        assert(!patch.available);
        // 12 px (a quarter of 48) is too small for SSPCAB's context; the advice names a size that works.
        assertStringIncludes(patch.reason!, "deno task train --patch_size 33");
        assertEquals(run.records.length, 6);
        assertEquals(run.records.filter((r) => r.label === 1).length, 4);
        assert(run.masks && run.masks.length === 6);
        run.records.forEach((r, i) => {
          const defect = run.masks![i].some((v) => v !== 0);
          assertEquals(defect, r.label === 1, `${r.path}: mask and label agree`);
        });
        for (const m of run.methods) {
          assertEquals(m.maps.length, 6);
          for (const map of m.maps) {
            assertEquals(map.length, SIZE * SIZE);
            assert(map.every((v) => Number.isFinite(v) && v >= 0), `${m.method}: finite, non-negative`);
          }
          assert(m.seconds > 0);
        }
        assertEquals(run.model.steps, 2);
        assertEquals(modelSetup(run.model), "2 steps of batch 2, from scratch, 48 px");

        // The image scores are the evaluation's own scores of the same images.
        const scores = await loadScores(models, CAT);
        run.records.forEach((r, i) => {
          const s = scores.images.find((x) => resolve(x.path) === resolve(r.path));
          assert(s, `${r.path} in the scores file`);
          assertAlmostEquals(run.imageScores[i], s.score, 1e-6 * Math.abs(s.score));
        });
        assertEquals(run.threshold, scores.threshold);

        const metrics = localizationScores(run)!;
        assertEquals(metrics.map((m) => m.method), ["sspcab", "gradcam"]);
        for (const [k, m] of metrics.entries()) {
          // Pooled pixel AUROC against the sort-based ROC of lib/eval/roc.ts over all pixels.
          const pooledMaps = new Float64Array(6 * SIZE * SIZE);
          const pooledMasks = new Uint8Array(6 * SIZE * SIZE);
          run.methods[k].maps.forEach((map, i) => pooledMaps.set(map, i * SIZE * SIZE));
          run.masks.forEach((mask, i) => pooledMasks.set(mask, i * SIZE * SIZE));
          assertAlmostEquals(m.pixelAuroc, rocAuc(pooledMasks, pooledMaps), 1e-9);
          for (const v of [m.auPro, m.pixelF1Max, m.imageAurocOfMax]) assert(v >= 0 && v <= 1, `${v}`);
          assertEquals(m.curve.fpr[0], 0);
          for (let i = 1; i < m.curve.fpr.length; i++) assert(m.curve.fpr[i] >= m.curve.fpr[i - 1]);
          assert(m.curve.fpr.filter((x) => x > 0.3).length <= 1, "the curve stops just past the limit");
          assertEquals(m.perImage.length, 4);
          for (let i = 1; i < 4; i++) assert(m.perImage[i - 1].pixelAuroc >= m.perImage[i].pixelAuroc);
          for (const q of m.perImage) {
            assertEquals(run.records[q.index].label, 1);
            assertAlmostEquals(q.pixelAuroc, rocAuc(run.masks[q.index], run.methods[k].maps[q.index]), 1e-12);
            assert(q.iou >= 0 && q.iou <= 1);
          }
          assert(m.secondsPerImage > 0);
        }

        const table = htmlOf(localizationScoresTable(metrics, CAT));
        assertStringIncludes(table, metrics[0].pixelAuroc.toFixed(4));
        assertStringIncludes(table, "AU-PRO@0.3");
        const methodsHtml = htmlOf(mapMethodsTable(run));
        assertStringIncludes(methodsHtml, "not available");
        assertStringIncludes(methodsHtml, "<code>deno task train --patch_size 33</code>");
        assertStringIncludes(methodsHtml, "layer = layer4, sigma = 4");
        const fig = proCurvesFigure(metrics, CAT);
        assertEquals(fig.data.length, 2);
        assertStringIncludes(String(fig.data[1].name), "GradCAM (AU-PRO = ");

        const panels = htmlOf(await bestWorstPanels(run, metrics, { n: 2 }));
        assertEquals(panels.split("<h4>").length - 1, 2, "one panel per method");
        assertEquals(panels.split(PNG_BASE64).length - 1, 2);
        for (const label of ["best 1", "best 2", "worst 1", "worst 2"]) assertStringIncludes(panels, label);

        const paper = htmlOf(paperLocalizationTable(run, metrics, "synthetic data"));
        for (const p of PUBLISHED_PIXEL_AUROC) assertStringIncludes(paper, p.pixelAuroc.toFixed(1));
        assertStringIncludes(paper, (metrics[1].pixelAuroc * 100).toFixed(1));
        assertStringIncludes(paper, "2 steps of batch 2, from scratch, 48 px");
        const rows = paperLocalizationRows(run.availability, metrics);
        assertEquals(rows.map((r) => [r.method, r.paperPixelAuroc]), [
          ["sspcab", null],
          ["gradcam", 88.3],
          ["patch", 96.0],
        ]);
        assertEquals(rows[2].oursPixelAuroc, null, "no patch model: no figure of ours");
        assertStringIncludes(localizationFact(run, metrics), "gradcam pixel AUROC ");

        // The ground truth as the map is a perfect localiser; its inverse the worst one.
        const perfect = localizationScores(withMaps(run, (m) => Float32Array.from(m)))![0];
        for (const v of [perfect.pixelAuroc, perfect.auPro, perfect.pixelF1Max]) {
          assertAlmostEquals(v, 1, 1e-12);
        }
        for (const q of perfect.perImage) assertEquals([q.pixelAuroc, q.iou], [1, 1]);
        const inverted = localizationScores(withMaps(run, (m) => Float32Array.from(m, (v) => 1 - v)))![0];
        assertEquals(inverted.pixelAuroc, 0);
        // Two defective images localised perfectly and two inverted: the perfect ones rank first.
        const defective = run.records.flatMap((r, i) => (r.label === 1 ? [i] : []));
        const good = new Set(defective.slice(0, 2));
        const mixed = localizationScores(
          withMaps(
            run,
            (m, i) => Float32Array.from(m, (v) => (good.has(i) || !defective.includes(i) ? v : 1 - v)),
          ),
        )![0];
        assertEquals(mixed.perImage.slice(0, 2).map((q) => q.index).sort(), [...good].sort());
        assertEquals(mixed.perImage.slice(2).map((q) => q.pixelAuroc), [0, 0]);
        assertEquals(metrics.map((m) => m.unmasked), [0, 0]);
        // A defect smaller than a map pixel vanishes from its resized mask: that image is left out of the
        // ranking (and counted) instead of stopping the notebook.
        const vanished = {
          ...run,
          masks: run.masks.map((m, i) => (i === defective[0] ? new Uint8Array(m.length) : m)),
        };
        for (const m of localizationScores(vanished)!) {
          assertEquals([m.unmasked, m.perImage.length], [1, 3]);
          assert(m.perImage.every((q) => q.index !== defective[0]));
        }
        assertStringIncludes(
          htmlOf(await bestWorstPanels(vanished, localizationScores(vanished)!, { n: 1 })),
          "1 left out",
        );
      });

      await t.step(
        "without masks: most and least anomalous images, and a note on pixel metrics",
        async () => {
          const run = await testSetMaps({ category: "nomask", dataDir: data, modelDir: models, quiet: true });
          assertEquals(run.masks, null);
          assertEquals(localizationScores(run), null);
          const view = htmlOf(await mostLeastAnomalous(run, { n: 2 }));
          for (const label of ["most 1", "most 2", "least 1", "least 2"]) assertStringIncludes(view, label);
          assertStringIncludes(view, "deno task data");
          assertEquals(view.split(PNG_BASE64).length - 1, 1);
          // Listed: most 1, most 2 (highest scores first), then least 1 (the lowest score), least 2.
          const paths = [...view.matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]).filter((p) =>
            p.endsWith(".png")
          );
          const order = [...run.imageScores.keys()].sort((a, b) => run.imageScores[b] - run.imageScores[a]);
          assert(paths[0].endsWith(run.records[order[0]].path.split("/").slice(-2).join("/")));
          assert(paths[2].endsWith(run.records[order.at(-1)!].path.split("/").slice(-2).join("/")));
          const short = htmlOf(noMasksNote(run, "PRO curve", false));
          assertStringIncludes(short, "no PRO curve");
          assert(!short.includes("deno task data"), "the short note leaves out where to get masks");
          assertStringIncludes(htmlOf(noMasksNote(run, "pixel AUROC")), "<code>deno task data</code>");
          const paper = htmlOf(paperLocalizationTable(run, null, "synthetic data"));
          assertStringIncludes(paper, "no ground-truth masks");
          assertStringIncludes(paper, "88.3");
          assertStringIncludes(localizationFact(run, null), "no masks");
        },
      );

      await t.step("a model trained on patches also gets the patch-level map", async () => {
        await assertRejects(
          () => testSetMaps({ category: CAT, dataDir: data, modelDir: models, methods: ["patch"] }),
          UserError,
          "--patch_size",
        );
        const patchModels = join(dir, "patch_models");
        await modelAndDensity(data, patchModels, CAT, { patchSize: 36 });
        const run = await testSetMaps({
          category: CAT,
          dataDir: data,
          modelDir: patchModels,
          patchStride: 12,
          quiet: true,
        });
        assertEquals(run.methods.map((m) => m.method), ["sspcab", "gradcam", "patch"]);
        const patch = run.methods[2];
        // The same options as eval stores (σ = patch / 4).
        assertEquals(patch.options, { patch_size: 36, stride: 12, sigma: 9 });
        assert(patch.maps.every((m) => m.length === SIZE * SIZE && m.every(Number.isFinite)));
        assertEquals(run.model.patchSize, 36);
        assertStringIncludes(modelSetup(run.model), "36² patches");
        const metrics = localizationScores(run)!;
        const rows = paperLocalizationRows(run.availability, metrics);
        assertAlmostEquals(rows[2].oursPixelAuroc!, metrics[2].pixelAuroc * 100, 1e-12);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("maskIou: intersection over union of map ≥ threshold with the mask; empty with empty is 1", () => {
  const map = [0.9, 0.8, 0.1, 0.7, 0.2, 0];
  const mask = [1, 0, 1, 1, 0, 0];
  // predicted {0, 1, 3}, truth {0, 2, 3}: intersection 2, union 4.
  assertEquals(maskIou(map, mask, 0.5), 0.5);
  assertEquals(maskIou(map, mask, 0.95), 0, "nothing predicted: IoU 0 against a non-empty mask");
  assertEquals(maskIou([0, 0], [0, 0], 1), 1);
  assertEquals(maskIou(map, mask, 0.8), 0.25, "the threshold itself counts as predicted (≥)");
});
