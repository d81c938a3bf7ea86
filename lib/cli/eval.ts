/**
 * `deno task eval` — evaluate trained models: Gaussian (Ledoit–Wolf) or KDE density on L2-normalised
 * embeddings, ROC AUC, Youden threshold; writes `models_perf.csv`, the fitted densities and (with
 * `--save_plots`) ROC, t-SNE and score-histogram PNGs.
 * @module
 */
import {
  BACKEND_FLAG,
  DATA_DIR_FLAG,
  MAX_PIXELS_FLAG,
  maxPixelsFrom,
  MODEL_DIR_FLAG,
  parseCommand,
  startBackend,
  TYPE_FLAG,
} from "./common.ts";
import type { FlagSpec } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { resolveCategories } from "../data/mvtec.ts";
import { DENSITY_KINDS, type DensityKind } from "../eval/evaluate.ts";
import { evaluateCategories, perfCsvPath, plotDir } from "../eval/run_eval.ts";
import { CUTPASTE_VARIANTS } from "../augment/cutpaste.ts";

const SUMMARY = "Evaluate trained models (image AUROC) and fit the density used by predict/export.";

const FLAGS: FlagSpec[] = [
  TYPE_FLAG,
  DATA_DIR_FLAG,
  MODEL_DIR_FLAG,
  { name: "head_layer", type: "number", help: "head layers, for model files that do not record it" },
  {
    name: "variant",
    type: "string",
    choices: CUTPASTE_VARIANTS,
    help: "variant, for model files that do not record it",
  },
  { name: "size", type: "number", help: "image size, for model files that do not record it" },
  { name: "density", type: "string", default: "gaussian", choices: DENSITY_KINDS, help: "density estimator" },
  {
    name: "save_plots",
    type: "boolean",
    default: false,
    help: "write roc_plot.png, tsne.png, score_hist.png",
  },
  { name: "batch_size", type: "number", default: 32, help: "embedding batch size" },
  MAX_PIXELS_FLAG,
  BACKEND_FLAG,
];

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("eval", SUMMARY, FLAGS);
    if (!flags) return;
    const categories = await resolveCategories(String(flags.type), String(flags.data_dir));
    await startBackend(flags.backend);
    const fallback = {
      ...(flags.head_layer !== undefined ? { headLayer: Number(flags.head_layer) } : {}),
      ...(flags.variant !== undefined ? { variant: flags.variant as typeof CUTPASTE_VARIANTS[number] } : {}),
      ...(flags.size !== undefined ? { size: Number(flags.size) } : {}),
    };
    const modelDir = String(flags.model_dir);
    const results = await evaluateCategories({
      categories,
      dataDir: String(flags.data_dir),
      modelDir,
      density: flags.density as DensityKind,
      savePlots: Boolean(flags.save_plots),
      batchSize: Number(flags.batch_size),
      maxPixels: maxPixelsFrom(flags),
      fallback,
    });
    for (const r of results) {
      console.log(
        `${r.category}: AUROC ${r.auroc.toFixed(4)}, threshold ${
          r.threshold.toFixed(4)
        } (${r.nTest} test images)`,
      );
      if (flags.save_plots) console.log(`  plots: ${plotDir(modelDir, r.category)}`);
    }
    const mean = results.reduce((s, r) => s + r.auroc, 0) / results.length;
    console.log(`mean AUROC ${mean.toFixed(4)} over ${results.length} categories → ${perfCsvPath(modelDir)}`);
  });
}
