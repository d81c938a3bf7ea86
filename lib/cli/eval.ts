/**
 * `deno task eval` — evaluate trained models: Gaussian (Ledoit–Wolf) or KDE density on L2-normalised
 * embeddings, ROC AUC, Youden threshold; writes `models_perf.csv`, the fitted densities and (with
 * `--save_plots`) ROC, t-SNE and score-histogram PNGs. `--localization sspcab|gradcam|patch|all` (alias
 * `--localize`) also computes anomaly maps of the test images and, where the data has ground-truth masks
 * (resized to the map size with nearest neighbour), pixel AUROC, AU-PRO@0.3 and pixel F1-max per method —
 * in `model-<category>.localization.json`, extra `models_perf.csv` columns and, with the pixel thresholds,
 * the fitted density; `--save_plots` adds a panel per test image and a PRO-curve plot.
 * @module
 */
import {
  BACKEND_FLAG,
  DATA_DIR_FLAG,
  MAX_PIXELS_FLAG,
  maxPixelsFrom,
  MODEL_DIR_FLAG,
  parseCommand,
  positiveInt,
  startBackend,
  TYPE_FLAG,
} from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { resolveCategories } from "../data/mvtec.ts";
import { DENSITY_KINDS } from "../eval/evaluate.ts";
import { evaluateCategories, plotDir } from "../pipeline/run_eval.ts";
import { perfCsvPath } from "../io/perf_csv.ts";
import { CUTPASTE_VARIANTS } from "../augment/cutpaste.ts";
import { formatLeftOut, formatLocalization, LOCALIZE_CHOICES } from "../pipeline/localize_eval.ts";

const SUMMARY = "Evaluate trained models (image AUROC) and fit the density used by predict/export.";

const FLAGS = defineFlags({
  type: TYPE_FLAG,
  data_dir: DATA_DIR_FLAG,
  model_dir: MODEL_DIR_FLAG,
  head_layer: { type: "number", help: "head layers, for model files that do not record it" },
  variant: {
    type: "string",
    choices: CUTPASTE_VARIANTS,
    help: "variant, for model files that do not record it",
  },
  size: { type: "number", help: "image size, for model files that do not record it" },
  density: { type: "string", default: "gaussian", choices: DENSITY_KINDS, help: "density estimator" },
  save_plots: {
    type: "boolean",
    default: false,
    help: "write roc_plot.png, tsne.png, score_hist.png (with --localization: panels and pro_curve.png)",
  },
  batch_size: { type: "number", default: 32, help: "embedding batch size" },
  localization: {
    type: "string",
    default: "none",
    choices: LOCALIZE_CHOICES,
    aliases: ["localize"],
    help: "anomaly maps + pixel AUROC, AU-PRO, F1 per method (all: every method the model supports; " +
      "patch: models trained with --patch_size)",
  },
  patch_stride: {
    type: "number",
    help: "grid step in pixels of the patch map (default: 4 at 256², scaled with the image size)",
  },
  max_pixels: MAX_PIXELS_FLAG,
  backend: BACKEND_FLAG,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("eval", SUMMARY, FLAGS);
    if (!flags) return;
    const categories = await resolveCategories(flags.type, flags.data_dir);
    await startBackend(flags.backend);
    const fallback = {
      ...(flags.head_layer !== undefined ? { headLayer: flags.head_layer } : {}),
      ...(flags.variant !== undefined ? { variant: flags.variant } : {}),
      ...(flags.size !== undefined ? { size: flags.size } : {}),
    };
    const modelDir = flags.model_dir;
    const results = await evaluateCategories({
      maxPixels: maxPixelsFrom(flags.max_pixels),
      categories,
      dataDir: flags.data_dir,
      modelDir,
      density: flags.density,
      savePlots: flags.save_plots,
      batchSize: flags.batch_size,
      fallback,
      localization: flags.localization,
      ...(flags.patch_stride !== undefined
        ? { patchStride: positiveInt("patch_stride", flags.patch_stride, "e.g. --patch_stride 16") }
        : {}),
    });
    for (const r of results) {
      console.log(
        `${r.category}: AUROC ${r.auroc.toFixed(4)}, threshold ${
          r.threshold.toFixed(4)
        } (${r.nTest} test images)`,
      );
      for (const left of r.localizationLeftOut) console.log(formatLeftOut(r.category, left));
      if (r.localization) console.log(formatLocalization(r.category, r.localization));
      if (flags.save_plots) console.log(`  plots: ${plotDir(modelDir, r.category)}`);
    }
    const mean = results.reduce((s, r) => s + r.auroc, 0) / results.length;
    console.log(`mean AUROC ${mean.toFixed(4)} over ${results.length} categories → ${perfCsvPath(modelDir)}`);
  });
}
