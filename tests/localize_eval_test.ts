/**
 * `eval --localization`: on the synthetic set (exact masks) a briefly trained model's maps of every method it
 * supports go through the evaluation path into one results file (read back through its validating reader),
 * the density file (pixel thresholds, best AU-PRO first), the CSV columns and the plots; the pixel threshold
 * is the brute-force F1-max threshold of known maps; masks as maps score 1 and inverted masks 0; a category
 * without masks is skipped; bad inputs (mask size, empty mask, NaN maps, old files) are clear errors or
 * warnings; and the CLI prints the lines.
 * @module
 */
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import sharp from "sharp";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { runPaths, TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { trainCategory } from "../lib/train/trainer.ts";
import { evaluateCategories, plotDir } from "../lib/pipeline/run_eval.ts";
import {
  formatLocalization,
  localizationExamples,
  localizeCategory,
  panelPath,
  pickDefective,
  planLocalization,
  proCurvePath,
  testMasks,
} from "../lib/pipeline/localize_eval.ts";
import { localizationGallery } from "../lib/notebook/eval_view.ts";
import { bundleOf } from "../lib/notebook/display.ts";
import { type LocalizationFile, localizationPath, readLocalization } from "../lib/io/localization_file.ts";
import { formatPerfCsv, parsePerfCsv, perfCsvPath, readPerfCsv } from "../lib/io/perf_csv.ts";
import { fittedModelPath, loadFittedModel } from "../lib/eval/fitted_model.ts";
import { resizeMaskNearest } from "../lib/localize/resample.ts";
import { UserError } from "../lib/util/errors.ts";
import { heatmapNames, predictImages } from "../lib/pipeline/predict.ts";
import { loadMask, loadRgb } from "../lib/data/images.ts";
import { loadCategoryImages } from "../lib/data/category_images.ts";
import type { ImageRecord } from "../lib/data/mvtec.ts";
import { loadTrainedModel } from "../lib/train/model_file.ts";
import { disposeParams } from "../lib/model/params.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const root = join(import.meta.dirname!, "..");
const SIZE = 48;

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}
const CAT = "synthetic_object";

/** A data folder with the synthetic object category (masks) and `nomask` (the same images, no masks). */
async function setUp(): Promise<{ dir: string; data: string; models: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_localize_eval_" });
  const data = join(dir, "data");
  await generateSyntheticDataset(data, {
    categories: [CAT],
    size: SIZE,
    trainCount: 4,
    testGoodCount: 2,
    testBadCount: 1,
  });
  await copyTree(join(data, CAT), join(data, "nomask"));
  await Deno.remove(join(data, "nomask", "ground_truth"), { recursive: true });
  const models = join(dir, "models");
  await initBackend("wasm");
  for (const category of [CAT, "nomask"]) {
    await trainCategory({
      ...TRAIN_DEFAULTS,
      category,
      dataDir: data,
      modelDir: models,
      logDir: join(dir, "logs"),
      epochs: 2,
      testEpochs: 0,
      batchSize: 2,
      size: SIZE,
      pretrained: null,
      backend: "wasm",
    }, { hooks: { quiet: true, log: () => {} } });
  }
  return { dir, data, models };
}

const base = (data: string, models: string) => ({
  dataDir: data,
  modelDir: models,
  density: "gaussian" as const,
  savePlots: false,
  batchSize: 8,
  quiet: true,
});

/** Each test record's mask at SIZE² (0/1), all-zero for a good image. */
async function masksOf(records: readonly ImageRecord[]): Promise<Float32Array[]> {
  return await Promise.all(records.map(async (rec) => {
    if (!rec.maskPath) return new Float32Array(SIZE * SIZE);
    const m = await loadMask(rec.maskPath);
    return Float32Array.from(resizeMaskNearest(m.data, m.height, m.width, SIZE, SIZE));
  }));
}

/** Known maps with many ties: half the mask plus noise quantised to 1/20, from a fixed hash of the pixel. */
function noisyMaps(masks: readonly Float32Array[]): Float32Array[] {
  return masks.map((m, i) =>
    m.map((v, p) => 0.5 * v + Math.floor(((Math.imul(p + 7919 * i, 2654435761) >>> 0) / 2 ** 32) * 20) / 20)
  );
}

/** Brute force over every distinct value: the threshold of the best pooled F1 (first best from the top). */
function bruteF1Max(
  maps: readonly Float32Array[],
  masks: readonly Float32Array[],
): { f1: number; t: number } {
  const values = [...new Set(maps.flatMap((m) => [...m]))].sort((a, b) => b - a);
  let best = { f1: 0, t: Infinity };
  for (const t of values) {
    let tp = 0, fp = 0, fn = 0;
    maps.forEach((m, i) =>
      m.forEach((v, p) => {
        const defect = masks[i][p] > 0;
        if (v >= t && defect) tp++;
        else if (v >= t) fp++;
        else if (defect) fn++;
      })
    );
    const f1 = (2 * tp) / (2 * tp + fp + fn);
    if (f1 > best.f1) best = { f1, t };
  }
  return best;
}

async function isPng(path: string): Promise<boolean> {
  const bytes = await Deno.readFile(path);
  return String.fromCharCode(...bytes.subarray(1, 4)) === "PNG";
}

Deno.test({
  name:
    "eval --localization: every supported method in one results file, the density file, the CSV and plots",
  ...opts,
  fn: async () => {
    const { dir, data, models } = await setUp();
    try {
      const path = localizationPath(models, CAT);
      // `all` on a whole-image model with SSPCAB and the Gaussian: sspcab and gradcam; patch left out.
      const [r] = await evaluateCategories({
        ...base(data, models),
        categories: [CAT],
        localization: "all",
        savePlots: true,
      });
      assert(r.localization?.status === "done", JSON.stringify(r.localization));
      assertEquals(r.localizationLeftOut.map((l) => l.method), ["patch"]);
      assertStringIncludes(r.localizationLeftOut[0].reason, "--patch_size");
      const back = await readLocalization(path);
      assertEquals(back, r.localization.result);
      assertEquals(back.methods.map((m) => m.method), ["sspcab", "gradcam"]);
      assertEquals([back.category, back.n_images, back.map_size, back.mask_resize], [
        CAT,
        4,
        SIZE,
        "nearest",
      ]);
      for (const m of back.methods) {
        assertEquals(m.pro_limit, 0.3);
        for (const v of [m.pixel_auroc, m.au_pro, m.pixel_f1, m.image_auroc_of_max]) {
          assert(v >= 0 && v <= 1, `${m.method} metric ${v} outside [0, 1]`);
        }
        assert(m.seconds_per_image > 0 && Number.isFinite(m.pixel_threshold));
      }
      // The density file, written once after localisation: both maps, best AU-PRO first, same thresholds.
      const fitted = await loadFittedModel(fittedModelPath(models, CAT));
      const stored = fitted.maps!;
      assertEquals(stored.map((m) => m.method).sort(), ["gradcam", "sspcab"]);
      assert(stored[0].auPro >= stored[1].auPro);
      for (const s of stored) {
        const m = back.methods.find((x) => x.method === s.method)!;
        assertEquals([s.pixelThreshold, s.auPro, s.pixelAuroc, s.options], [
          m.pixel_threshold,
          m.au_pro,
          m.pixel_auroc,
          m.options,
        ]);
        assertEquals(s.patchDensity, undefined);
      }
      // The CSV: three columns per method after the image ones, the values of the results file.
      const csv = await Deno.readTextFile(perfCsvPath(models));
      assertEquals(
        csv.split("\n")[0],
        "category,roc_auc,threshold,density,n_train,n_test," +
          "pixel_auroc_sspcab,au_pro_sspcab,pixel_f1_max_sspcab,pixel_auroc_gradcam,au_pro_gradcam,pixel_f1_max_gradcam",
      );
      const [row] = await readPerfCsv(perfCsvPath(models));
      assertEquals(row.localization.map((l) => l.method), ["sspcab", "gradcam"]);
      row.localization.forEach((l, k) => {
        const m = back.methods[k];
        assertAlmostEquals(l.pixelAuroc, m.pixel_auroc, 5e-7);
        assertAlmostEquals(l.auPro, m.au_pro, 5e-7);
        assertAlmostEquals(l.pixelF1Max, m.pixel_f1, 5e-7);
      });
      // Plots: per method the overview grid and one panel per test image; one PRO curve for both.
      const plots = plotDir(models, CAT);
      const data0 = await loadCategoryImages(data, CAT, SIZE, { quiet: true });
      for (const method of ["sspcab", "gradcam"] as const) {
        const grid = join(plots, `localization_${method}.png`);
        assert(r.files.includes(grid) && (await isPng(grid)));
        for (const rec of data0.testRecords) {
          const panel = panelPath(plots, method, rec);
          assert(
            panel.endsWith(
              join(
                "localization",
                method,
                `${rec.defectType}_${rec.path.split(/[\\/]/).at(-1)!.replace(/\.png$/, "")}.png`,
              ),
            ),
          );
          assert(r.files.includes(panel) && (await isPng(panel)), panel);
        }
      }
      assert(r.files.includes(proCurvePath(plots)) && (await isPng(proCurvePath(plots))));
      const printed = formatLocalization(CAT, r.localization);
      assertStringIncludes(printed, `${CAT} gradcam localisation: pixel AUROC `);
      assertStringIncludes(printed, `masks resized to ${SIZE}×${SIZE} with nearest neighbour`);

      // Known maps: the pixel threshold is the brute-force F1-max threshold; a category without masks gets
      // empty CSV cells, no maps in its density file, and the mean row averages the categories with a value.
      const masks = await masksOf(data0.testRecords);
      const known = noisyMaps(masks);
      const expected = bruteF1Max(known, masks);
      const [k, nm] = await evaluateCategories({
        ...base(data, models),
        categories: [CAT, "nomask"],
        localization: "sspcab",
        mapFunction: async () => await Promise.resolve(known),
      });
      assert(k.localization?.status === "done" && nm.localization?.status === "skipped");
      const km = (await readLocalization(path)).methods;
      assertEquals(km.map((m) => m.method), ["sspcab"]);
      assertEquals(km[0].pixel_threshold, expected.t);
      assertAlmostEquals(km[0].pixel_f1, expected.f1, 1e-12);
      assertEquals((await loadFittedModel(fittedModelPath(models, CAT))).maps!.map((m) => m.pixelThreshold), [
        expected.t,
      ]);
      assertEquals((await loadFittedModel(fittedModelPath(models, "nomask"))).maps, undefined);
      const rows = await readPerfCsv(perfCsvPath(models));
      assertEquals(rows.map((x) => x.category), [CAT, "nomask", "mean"]);
      assertEquals(rows[1].localization, []);
      assertEquals((await Deno.readTextFile(perfCsvPath(models))).split("\n")[2].split(",").slice(6), [
        "",
        "",
        "",
      ]);
      assertEquals(rows[2].localization, rows[0].localization);
      assertAlmostEquals(rows[2].rocAuc, (rows[0].rocAuc + rows[1].rocAuc) / 2, 1e-6);

      // Masks as maps score 1, inverted masks 0 — two methods in one file, the density keeps best AU-PRO first.
      const model = await loadTrainedModel(runPaths({ category: CAT, modelDir: models, logDir: "" }).best);
      try {
        const loc = await localizeCategory({
          methods: ["gradcam", "sspcab"],
          model,
          data: data0,
          density: fitted.density,
          modelDir: models,
          mapFunction: async (_, __, method) =>
            await Promise.resolve(method === "sspcab" ? masks : masks.map((m) => m.map((v) => 1 - v))),
        });
        assert(loc.status === "done");
        const [g, s] = loc.result.methods;
        assertEquals([g.method, s.method], ["gradcam", "sspcab"]);
        assertEquals([s.pixel_auroc, s.au_pro, s.pixel_f1, s.image_auroc_of_max], [1, 1, 1, 1]);
        assertEquals(g.pixel_auroc, 0);
        assertEquals(loc.fittedMaps.map((m) => m.method), ["sspcab", "gradcam"]);

        // A map with NaN: a UserError naming the image, not a silent wrong metric.
        const nan = await assertRejects(
          () =>
            localizeCategory({
              methods: ["sspcab"],
              model,
              data: data0,
              density: fitted.density,
              modelDir: models,
              mapFunction: async () =>
                await Promise.resolve(
                  masks.map((m, i) => (i === 1 ? m.map((v, p) => (p === 3 ? NaN : v)) : m)),
                ),
            }),
          UserError,
        );
        assertStringIncludes(nan.message, data0.testRecords[1].path);
        assertStringIncludes(nan.message, "NaN");

        // `all` under a KDE density leaves gradcam out; an explicit gradcam is an error.
        const plan = planLocalization("all", model, "kde");
        assertEquals(plan.methods, ["sspcab"]);
        assertEquals(plan.leftOut.map((l) => l.method), ["gradcam", "patch"]);
        assertStringIncludes(plan.leftOut[0].reason, "kde");
        const kdeErr = (() => {
          try {
            planLocalization("gradcam", model, "kde");
          } catch (err) {
            return err;
          }
        })();
        assert(kdeErr instanceof UserError && kdeErr.message.includes("--localization gradcam"));
        assertEquals(planLocalization("none", model, "gaussian"), { methods: [], leftOut: [] });
      } finally {
        disposeParams(model.net.params);
      }

      // No masks: skipped with a message, no file.
      assertStringIncludes(formatLocalization("nomask", nm.localization!), "localisation skipped");
      assertStringIncludes(formatLocalization("nomask", nm.localization!), "no ground-truth masks");
      assert(!(await Deno.stat(localizationPath(models, "nomask")).then(() => true, () => false)));

      // A whole-image model cannot make patch maps: a clear error saying to train with --patch_size.
      const err = await assertRejects(
        () => evaluateCategories({ ...base(data, models), categories: [CAT], localization: "patch" }),
        UserError,
      );
      assertStringIncludes(err.message, "--patch_size");
      const kde = await assertRejects(
        () =>
          evaluateCategories({
            ...base(data, models),
            density: "kde",
            categories: [CAT],
            localization: "gradcam",
          }),
        UserError,
      );
      assertStringIncludes(kde.message, "--density gaussian");

      // The CLI with the `--localize` alias and `all`: the left-out line, a line per method, the mask
      // resizing, the skip message for the category without masks.
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(root, "lib", "cli", "eval.ts"),
          "--type",
          `${CAT},nomask`,
          "--data_dir",
          data,
          "--model_dir",
          models,
          "--localize",
          "all",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", SSPCAB_BACKEND: "wasm" },
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      for (const method of ["sspcab", "gradcam"]) {
        assert(
          new RegExp(
            `${CAT} ${method} localisation: pixel AUROC [01]\\.\\d{4}, AU-PRO@0\\.3 [01]\\.\\d{4}, F1 [01]\\.\\d{4} at pixel threshold `,
          ).test(stdout),
          stdout,
        );
      }
      assertStringIncludes(stdout, `${CAT}: --localization all leaves out patch: `);
      assertStringIncludes(stdout, `4 test images; masks resized to ${SIZE}×${SIZE} with nearest neighbour`);
      assertStringIncludes(stdout, "nomask: localisation skipped (its test set has no ground-truth masks)");
      assertEquals((await readLocalization(path)).methods.map((m) => m.method), ["sspcab", "gradcam"]);

      // The notebook's examples: with masks, the shown images' masks and ONE results file with both methods;
      // without masks, the maps alone. And the view says which.
      const ex = await localizationExamples({ category: CAT, dataDir: data, modelDir: models, n: 2 });
      assertEquals(ex.images.length, 2);
      assertEquals(ex.records.map((r) => r.label), [1, 1]);
      assertEquals(ex.maps.map((m) => m.method), ["sspcab", "gradcam"]);
      for (const m of ex.maps) assertEquals(m.maps.map((x) => x.length), [SIZE * SIZE, SIZE * SIZE]);
      assertEquals(ex.masks!.map((m) => m.some((v) => v === 1)), [true, true]);
      assertEquals(ex.metrics!.methods.map((m) => m.method), ["sspcab", "gradcam"]);
      assertEquals(await readLocalization(path), ex.metrics);
      const view = bundleOf(await localizationGallery(ex));
      assertStringIncludes(view["text/html"], "data:image/png;base64,");
      assertStringIncludes(view["text/html"], "AU-PRO@0.3");
      assertStringIncludes(view["text/plain"], "sspcab: pixel AUROC ");
      assertStringIncludes(view["text/plain"], "gradcam: pixel AUROC ");
      const exNo = await localizationExamples({ category: "nomask", dataDir: data, modelDir: models });
      assertEquals([exNo.masks, exNo.metrics, exNo.images.length], [null, null, 2]);
      const viewNo = bundleOf(await localizationGallery(exNo));
      assertStringIncludes(viewNo["text/plain"], "no ground-truth masks");
      assert(!viewNo["text/html"].includes("AU-PRO"));

      // predict --heatmap: one overlay PNG per image at the model's size, its path after the verdict line.
      const goodDir = join(data, CAT, "test", "good");
      const inputs = [...Deno.readDirSync(goodDir)].map((e) => join(goodDir, e.name)).sort();
      const heatDir = join(dir, "heat");
      const preds = await predictImages({
        category: CAT,
        modelDir: models,
        inputs,
        heatmap: { dir: heatDir },
      });
      for (const pr of preds) {
        const img = await loadRgb(pr.heatmapPath!);
        assertEquals([img.width, img.height], [SIZE, SIZE]);
      }
      const plain = await predictImages({ category: CAT, modelDir: models, inputs });
      assertEquals(plain.map((x) => x.heatmapPath), inputs.map(() => undefined));
      assertEquals(plain.map((x) => x.score), preds.map((x) => x.score));
      const pout = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(root, "lib", "cli", "predict.ts"),
          "--data_type",
          CAT,
          "--model_dir",
          models,
          "--img_file",
          inputs[0],
          "--heatmap",
          join(dir, "heat2"),
          "--map",
          "gradcam",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", SSPCAB_BACKEND: "wasm" },
      }).output();
      const plines = new TextDecoder().decode(pout.stdout).trim().split("\n");
      assertEquals(pout.code, 0, new TextDecoder().decode(pout.stderr));
      assertStringIncludes(plines.at(-2)!, "image_name: ");
      const heatPath = join(dir, "heat2", heatmapNames([inputs[0]])[0]);
      assertEquals(plines.at(-1), `  heatmap: ${heatPath}`);
      assert((await Deno.stat(heatPath)).isFile);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const goodFile = (): LocalizationFile => ({
  category: "c",
  map_size: 64,
  n_images: 10,
  mask_resize: "nearest",
  methods: [
    {
      method: "sspcab",
      options: { sigma: 0, layer: "layer3" },
      pixel_auroc: 0.9,
      au_pro: 0.8,
      pro_limit: 0.3,
      pixel_f1: 0.5,
      pixel_threshold: 0.0123,
      image_auroc_of_max: 0.7,
      seconds_per_image: 0.01,
    },
    {
      method: "gradcam",
      options: { sigma: 4, layer: "layer4" },
      pixel_auroc: 0.6,
      au_pro: 0.4,
      pro_limit: 0.3,
      pixel_f1: 0.2,
      pixel_threshold: 3.5,
      image_auroc_of_max: 0.55,
      seconds_per_image: 0.2,
    },
  ],
});

Deno.test("readLocalization: every method read back; a bad field is a UserError naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.localization.json");
    const good = goodFile();
    await Deno.writeTextFile(path, JSON.stringify(good));
    assertEquals(await readLocalization(path), good);
    const cases: [string, (d: Record<string, unknown>) => void][] = [
      ["methods[0].pixel_auroc", (d) => ((d.methods as Record<string, unknown>[])[0].pixel_auroc = 1.5)],
      ["methods[1].method", (d) => ((d.methods as Record<string, unknown>[])[1].method = "blob")],
      ["methods[1].method", (d) => ((d.methods as Record<string, unknown>[])[1].method = "sspcab")],
      [
        "methods[0].pixel_threshold",
        (d) => delete (d.methods as Record<string, unknown>[])[0].pixel_threshold,
      ],
      ["methods[1].au_pro", (d) => ((d.methods as Record<string, unknown>[])[1].au_pro = "x")],
      ["n_images", (d) => (d.n_images = 0)],
      ["mask_resize", (d) => (d.mask_resize = "bilinear")],
      ["methods", (d) => (d.methods = [])],
      ["methods", (d) => delete d.methods],
    ];
    for (const [field, edit] of cases) {
      const doc = structuredClone(good) as unknown as Record<string, unknown>;
      edit(doc);
      await Deno.writeTextFile(path, JSON.stringify(doc));
      const err = await assertRejects(() => readLocalization(path), UserError);
      assertStringIncludes(err.message, path);
      assertStringIncludes(err.message, `"${field}"`);
    }
    // The earlier one-method format (no methods list, no pixel threshold) is rejected, saying what it is.
    const { methods: [first], ...top } = good;
    const { pixel_threshold: _, ...old } = { ...top, ...first };
    await Deno.writeTextFile(path, JSON.stringify(old));
    const err = await assertRejects(() => readLocalization(path), UserError);
    assertStringIncludes(err.message, path);
    assertStringIncludes(err.message, "earlier one-method format");
    assertStringIncludes(err.message, "deno task eval --localization");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("models_perf.csv: localisation columns per method (union), empty cells, mean over categories with a value", () => {
  const loc = (method: "sspcab" | "gradcam" | "patch", a: number, p: number, f: number) => ({
    method,
    pixelAuroc: a,
    auPro: p,
    pixelF1Max: f,
  });
  const entries = [
    {
      category: "a",
      auroc: 0.9,
      threshold: 1.5,
      nTrain: 10,
      nTest: 5,
      localization: [loc("gradcam", 0.8, 0.6, 0.3)],
    },
    {
      category: "b",
      auroc: 0.7,
      threshold: 2.5,
      nTrain: 12,
      nTest: 6,
      localization: [loc("patch", 0.95, 0.85, 0.5), loc("gradcam", 0.6, 0.2, 0.1)],
    },
    { category: "c", auroc: 0.5, threshold: 0.5, nTrain: 3, nTest: 4, localization: [] },
    { category: "d", auroc: 0.6, threshold: 0.1, nTrain: 3, nTest: 4 },
  ];
  const text = formatPerfCsv(entries, "gaussian");
  const lines = text.trim().split("\n");
  assertEquals(
    lines[0],
    "category,roc_auc,threshold,density,n_train,n_test," +
      "pixel_auroc_gradcam,au_pro_gradcam,pixel_f1_max_gradcam,pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch",
  );
  assertEquals(lines[1], "a,0.900000,1.500000,gaussian,10,5,0.800000,0.600000,0.300000,,,");
  assertEquals(lines[3], "c,0.500000,0.500000,gaussian,3,4,,,,,,");
  const rows = parsePerfCsv(text, "m.csv");
  assertEquals(rows.map((r) => r.category), ["a", "b", "c", "d", "mean"]);
  assertEquals(rows[1].localization, [loc("gradcam", 0.6, 0.2, 0.1), loc("patch", 0.95, 0.85, 0.5)]);
  assertEquals(rows[2].localization, []);
  // The mean row, recomputed from the category rows: each column over the categories that have it.
  const mean = rows[4];
  assertAlmostEquals(mean.rocAuc, (0.9 + 0.7 + 0.5 + 0.6) / 4, 1e-6);
  for (const method of ["gradcam", "patch"] as const) {
    const have = rows.slice(0, 4).flatMap((r) => r.localization.filter((l) => l.method === method));
    const m = mean.localization.find((l) => l.method === method)!;
    const avg = (k: "pixelAuroc" | "auPro" | "pixelF1Max") =>
      have.reduce((s, l) => s + l[k], 0) / have.length;
    assertAlmostEquals(m.pixelAuroc, avg("pixelAuroc"), 1e-6);
    assertAlmostEquals(m.auPro, avg("auPro"), 1e-6);
    assertAlmostEquals(m.pixelF1Max, avg("pixelF1Max"), 1e-6);
  }
  assertAlmostEquals(mean.localization[0].auPro, 0.4, 1e-6);
  assertAlmostEquals(mean.localization[1].auPro, 0.85, 1e-6);
  // Without any localisation: the old header, which the reader still accepts.
  const plain = formatPerfCsv(entries.map(({ localization: _, ...e }) => e), "kde");
  assertEquals(plain.split("\n")[0], "category,roc_auc,threshold,density,n_train,n_test");
  assertEquals(parsePerfCsv(plain, "p.csv").map((r) => r.localization), [[], [], [], [], []]);
  assertEquals(
    parsePerfCsv("category,roc_auc,threshold,density,n_train,n_test\nx,0.5,1,gaussian,2,3\n", "o.csv")[0],
    {
      category: "x",
      rocAuc: 0.5,
      threshold: 1,
      density: "gaussian",
      nTrain: 2,
      nTest: 3,
      localization: [],
    },
  );
  // Bad headers and cells: a UserError naming the file, line and column.
  const head = "category,roc_auc,threshold,density,n_train,n_test";
  const bad: [string, string][] = [
    [`${head},pixel_auroc_blob,au_pro_blob,pixel_f1_max_blob\n`, "bad header"],
    [`${head},pixel_auroc_patch,au_pro_patch\n`, "in threes"],
    [
      `${head},pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch,pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch\n`,
      "twice",
    ],
    [
      `${head},pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch\nx,0.5,1,g,2,3,1.5,0.2,0.3\n`,
      'pixel_auroc_patch "1.5" is not a number in [0, 1]',
    ],
    [
      `${head},pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch\nx,0.5,1,g,2,3,0.5,,0.3\n`,
      'au_pro_patch "" is empty',
    ],
    [
      `${head},pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch\nx,0.5,1,g,2,3,0.5,abc,0.3\n`,
      'line 2: au_pro_patch "abc"',
    ],
    [`${head},pixel_auroc_patch,au_pro_patch,pixel_f1_max_patch\nx,0.5,1,g,2,3\n`, "6 cells, expected 9"],
    [`category,roc_auc\nx,0.5\n`, "bad header"],
  ];
  for (const [csv, want] of bad) {
    let err: unknown;
    try {
      parsePerfCsv(csv, "bad.csv");
    } catch (e) {
      err = e;
    }
    assert(err instanceof UserError, `no error for ${csv}`);
    assertStringIncludes(err.message, "bad.csv");
    assertStringIncludes(err.message, want);
  }
});

Deno.test("testMasks: a mask of another size than its image, an empty mask, a missing mask", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_masks_" });
  try {
    const png = async (
      path: string,
      width: number,
      height: number,
      channels: 1 | 3,
      value: (p: number) => number,
    ) => {
      const data = new Uint8Array(width * height * channels);
      for (let p = 0; p < width * height; p++) data.fill(value(p), p * channels, (p + 1) * channels);
      await sharp(data, { raw: { width, height, channels } }).png().toFile(path);
    };
    const rec = (name: string, label: 0 | 1, maskPath?: string): ImageRecord => ({
      path: join(dir, name),
      category: "c",
      split: "test",
      defectType: label ? "crack" : "good",
      label,
      ...(maskPath ? { maskPath: join(dir, maskPath) } : {}),
    });
    await png(join(dir, "good.png"), 20, 16, 3, () => 128);
    await png(join(dir, "bad.png"), 20, 16, 3, () => 90);
    await png(join(dir, "bad_mask.png"), 20, 16, 1, (p) => (p % 20 >= 10 && p < 160 ? 255 : 0));
    await png(join(dir, "wide_mask.png"), 20, 20, 1, () => 255);
    await png(join(dir, "empty_mask.png"), 20, 16, 1, () => 0);

    const ok = await testMasks([rec("good.png", 0), rec("bad.png", 1, "bad_mask.png")], 10);
    assert(ok);
    assertEquals(ok.warnings, []);
    assertEquals(ok.masks[0], new Uint8Array(100));
    // Nearest neighbour 20×16 → 10×10: column x ↦ 2x, row y ↦ floor(1.6 y); defects at columns ≥ 10, rows < 8.
    const expected = new Uint8Array(100);
    for (let y = 0; y < 10; y++) {
      for (let x = 5; x < 10; x++) if (Math.floor(y * 1.6) < 8) expected[y * 10 + x] = 1;
    }
    assertEquals(ok.masks[1], expected);

    const size = await assertRejects(
      () => testMasks([rec("good.png", 0), rec("bad.png", 1, "wide_mask.png")], 10),
      UserError,
    );
    for (const s of [join(dir, "wide_mask.png"), join(dir, "bad.png"), "20×20", "20×16"]) {
      assertStringIncludes(size.message, s);
    }

    const empty = await testMasks([rec("good.png", 0), rec("bad.png", 1, "empty_mask.png")], 10);
    assertEquals(empty!.warnings.length, 1);
    assertStringIncludes(empty!.warnings[0], join(dir, "empty_mask.png"));
    assertStringIncludes(empty!.warnings[0], "empty");
    assertEquals(empty!.masks[1], new Uint8Array(100));

    const missing = await assertRejects(
      () => testMasks([rec("bad.png", 1, "bad_mask.png"), rec("good.png", 1)], 10),
      UserError,
    );
    assertStringIncludes(missing.message, join(dir, "good.png"));
    assertEquals(await testMasks([rec("good.png", 0), rec("bad.png", 1)], 10), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("heatmapNames: one name per input, unique when stems repeat", () => {
  assertEquals(heatmapNames(["a/x.png", "b/x.jpg", "c/y.png", "d/x.png"]), [
    "x.heatmap.png",
    "x-2.heatmap.png",
    "y.heatmap.png",
    "x-3.heatmap.png",
  ]);
});

Deno.test("pickDefective: one image per defect type first, then the rest, in test order", () => {
  const rec = (defectType: string): ImageRecord => ({
    path: defectType,
    category: "c",
    split: "test",
    defectType,
    label: defectType === "good" ? 0 : 1,
  });
  const records = ["good", "a", "a", "b", "good", "a", "c"].map(rec);
  assertEquals(pickDefective(records, 3), [1, 3, 6]);
  assertEquals(pickDefective(records, 4), [1, 2, 3, 6]);
  assertEquals(pickDefective(records, 10), [1, 2, 3, 5, 6]);
});

Deno.test({
  name:
    "eval --localization all on a patch model: patch maps and metrics; the density keeps the patch Gaussian",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_localize_patch_" });
    try {
      const data = join(dir, "data");
      await generateSyntheticDataset(data, {
        categories: [CAT],
        size: SIZE,
        trainCount: 2,
        testGoodCount: 1,
        testBadCount: 1,
      });
      await initBackend("wasm");
      const models = join(dir, "models");
      await trainCategory({
        ...TRAIN_DEFAULTS,
        category: CAT,
        dataDir: data,
        modelDir: models,
        logDir: join(dir, "logs"),
        epochs: 2,
        testEpochs: 0,
        batchSize: 2,
        size: SIZE,
        pretrained: null,
        backend: "wasm",
        patchSize: 40,
      }, { hooks: { quiet: true, log: () => {} } });
      const [r] = await evaluateCategories({ ...base(data, models), categories: [CAT], localization: "all" });
      assert(r.localization?.status === "done");
      assertEquals(r.localizationLeftOut, []);
      const back = await readLocalization(localizationPath(models, CAT));
      assertEquals(back.methods.map((m) => m.method), ["sspcab", "gradcam", "patch"]);
      const patch = back.methods[2];
      assertEquals([patch.options.patch_size, patch.options.stride, patch.options.sigma, back.n_images], [
        40,
        1,
        10,
        3,
      ]);
      for (const v of [patch.pixel_auroc, patch.au_pro, patch.pixel_f1]) assert(v >= 0 && v <= 1);
      const stored = (await loadFittedModel(fittedModelPath(models, CAT))).maps!;
      const sp = stored.find((m) => m.method === "patch")!;
      assertEquals(sp.patchDensity?.kind, "gaussian");
      assertEquals(sp.pixelThreshold, patch.pixel_threshold);
      assertEquals(stored.filter((m) => m.patchDensity).length, 1);
      // --patch_stride: the grid step is the user's, recorded in both files.
      await evaluateCategories({
        ...base(data, models),
        categories: [CAT],
        localization: "patch",
        patchStride: 8,
      });
      const coarse = await readLocalization(localizationPath(models, CAT));
      assertEquals(coarse.methods.map((m) => [m.method, m.options.stride]), [["patch", 8]]);
      const coarseStored = (await loadFittedModel(fittedModelPath(models, CAT))).maps!;
      assertEquals(coarseStored.map((m) => m.options.stride), [8]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
