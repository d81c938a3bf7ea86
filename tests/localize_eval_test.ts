/**
 * `eval --localize`: on the synthetic set (exact masks) a briefly trained model's SSPCAB maps go through the
 * evaluation path, the results file round-trips through its validating reader, maps equal to the masks score
 * 1 through the same path, a category without masks is skipped with a message, and the CLI prints the line.
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { trainCategory } from "../lib/train/trainer.ts";
import { evaluateCategories, plotDir } from "../lib/pipeline/run_eval.ts";
import { formatLocalization, localizationExamples, pickDefective } from "../lib/pipeline/localize_eval.ts";
import { localizationGallery } from "../lib/notebook/eval_view.ts";
import { bundleOf } from "../lib/notebook/display.ts";
import { localizationPath, readLocalization } from "../lib/io/localization_file.ts";
import { resizeMaskNearest } from "../lib/localize/resample.ts";
import { UserError } from "../lib/util/errors.ts";
import { heatmapNames, predictImages } from "../lib/pipeline/predict.ts";
import { loadMask, loadRgb } from "../lib/data/images.ts";
import type { ImageRecord } from "../lib/data/mvtec.ts";

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

Deno.test({
  name:
    "eval --localize sspcab: results file written and read back, metrics in [0, 1]; masks as maps score 1",
  ...opts,
  fn: async () => {
    const { dir, data, models } = await setUp();
    try {
      const [r] = await evaluateCategories({
        ...base(data, models),
        categories: [CAT],
        localize: "sspcab",
        savePlots: true,
      });
      assert(r.localization?.status === "done", JSON.stringify(r.localization));
      const path = localizationPath(models, CAT);
      const back = await readLocalization(path);
      assertEquals(back, r.localization.result);
      assertEquals([back.method, back.category, back.n_images, back.map_size], ["sspcab", CAT, 4, SIZE]);
      assertEquals(back.pro_limit, 0.3);
      for (const v of [back.pixel_auroc, back.au_pro, back.pixel_f1, back.image_auroc_of_max]) {
        assert(v >= 0 && v <= 1, `metric ${v} outside [0, 1]`);
      }
      assert(back.seconds_per_image > 0);
      const plot = join(plotDir(models, CAT), "localization_sspcab.png");
      assert(r.files.includes(plot) && r.files.includes(path));
      const png = await Deno.readFile(plot);
      assertEquals([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
      assertStringIncludes(formatLocalization(CAT, r.localization), "pixel AUROC ");

      // The ground truth itself as the map: a perfect localiser, through the same masks and metrics.
      const perfect = async (_: unknown, records: readonly ImageRecord[]) =>
        await Promise.all(records.map(async (rec) => {
          if (!rec.maskPath) return new Float32Array(SIZE * SIZE);
          const m = await loadMask(rec.maskPath);
          return Float32Array.from(resizeMaskNearest(m.data, m.height, m.width, SIZE, SIZE));
        }));
      const [p] = await evaluateCategories({
        ...base(data, models),
        categories: [CAT],
        localize: "sspcab",
        mapFunction: perfect,
      });
      assert(p.localization?.status === "done");
      const pr = await readLocalization(path);
      assertEquals([pr.pixel_auroc, pr.au_pro, pr.pixel_f1, pr.image_auroc_of_max], [1, 1, 1, 1]);
      // The inverted ground truth is the worst localiser: pixel AUROC 0.
      const [w] = await evaluateCategories({
        ...base(data, models),
        categories: [CAT],
        localize: "sspcab",
        mapFunction: async (images, records) =>
          (await perfect(images, records)).map((m) => m.map((v) => 1 - v)),
      });
      assert(w.localization?.status === "done");
      assertEquals(w.localization.result.pixel_auroc, 0);

      // No masks: skipped with a message, no file.
      const [s] = await evaluateCategories({
        ...base(data, models),
        categories: ["nomask"],
        localize: "sspcab",
      });
      assertEquals(s.localization?.status, "skipped");
      assertStringIncludes(formatLocalization("nomask", s.localization!), "localisation skipped");
      assertStringIncludes(formatLocalization("nomask", s.localization!), "no ground-truth masks");
      assert(!(await Deno.stat(localizationPath(models, "nomask")).then(() => true, () => false)));

      // A whole-image model cannot make patch maps: a clear error saying to train with --patch_size.
      const err = await assertRejects(
        () => evaluateCategories({ ...base(data, models), categories: [CAT], localize: "patch" }),
        UserError,
      );
      assertStringIncludes(err.message, "--patch_size");

      const kde = await assertRejects(
        () =>
          evaluateCategories({
            ...base(data, models),
            density: "kde",
            categories: [CAT],
            localize: "gradcam",
          }),
        UserError,
      );
      assertStringIncludes(kde.message, "--density gaussian");

      // Without --localize nothing changes: no localisation result.
      const [n] = await evaluateCategories({ ...base(data, models), categories: [CAT] });
      assertEquals(n.localization, undefined);

      // The CLI: one line per category, the skip message for the one without masks.
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
          "sspcab",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", SSPCAB_BACKEND: "wasm" },
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assert(
        new RegExp(
          `${CAT} sspcab localisation: pixel AUROC [01]\\.\\d{4}, AU-PRO@0\\.3 [01]\\.\\d{4}, F1 [01]\\.\\d{4}`,
        )
          .test(stdout),
        stdout,
      );
      assertStringIncludes(stdout, "nomask: localisation skipped (its test set has no ground-truth masks)");
      // The file the CLI wrote reads back.
      assertEquals((await readLocalization(path)).method, "sspcab");

      // The notebook's examples: with masks, the shown images' masks and both methods' test-set metrics;
      // without masks, the maps alone. And the view says which.
      const ex = await localizationExamples({ category: CAT, dataDir: data, modelDir: models, n: 2 });
      assertEquals(ex.images.length, 2);
      assertEquals(ex.records.map((r) => r.label), [1, 1]);
      assertEquals(ex.maps.map((m) => m.method), ["sspcab", "gradcam"]);
      for (const m of ex.maps) assertEquals(m.maps.map((x) => x.length), [SIZE * SIZE, SIZE * SIZE]);
      assertEquals(ex.masks!.map((m) => m.some((v) => v === 1)), [true, true]);
      assertEquals(ex.metrics!.map((m) => [m.method, m.n_images]), [["sspcab", 4], ["gradcam", 4]]);
      const view = bundleOf(await localizationGallery(ex));
      assertStringIncludes(view["text/html"], "data:image/png;base64,");
      assertStringIncludes(view["text/html"], "AU-PRO@0.3");
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

Deno.test("readLocalization: a bad field is a UserError naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.localization.json");
    const good = {
      category: "c",
      method: "sspcab",
      options: { sigma: 0 },
      map_size: 64,
      pixel_auroc: 0.9,
      au_pro: 0.8,
      pro_limit: 0.3,
      pixel_f1: 0.5,
      image_auroc_of_max: 0.7,
      seconds_per_image: 0.01,
      n_images: 10,
    };
    await Deno.writeTextFile(path, JSON.stringify(good));
    assertEquals(await readLocalization(path), good);
    for (
      const [field, value] of [["pixel_auroc", 1.5], ["method", "blob"], ["n_images", 0], ["au_pro", "x"]]
    ) {
      await Deno.writeTextFile(path, JSON.stringify({ ...good, [field]: value }));
      const err = await assertRejects(() => readLocalization(path), UserError);
      assertStringIncludes(err.message, path);
      assertStringIncludes(err.message, `"${field}"`);
    }
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
  name: "eval --localize patch: a model trained with patchSize gives patch maps and metrics",
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
      const [r] = await evaluateCategories({ ...base(data, models), categories: [CAT], localize: "patch" });
      assert(r.localization?.status === "done");
      const back = await readLocalization(localizationPath(models, CAT));
      assertEquals([back.method, back.options.patch_size, back.n_images], ["patch", 40, 3]);
      for (const v of [back.pixel_auroc, back.au_pro, back.pixel_f1]) assert(v >= 0 && v <= 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
