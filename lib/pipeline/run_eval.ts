/**
 * `eval` over categories: for each trained model, embed train/good and test images, fit the density, score,
 * compute ROC AUC and the Youden threshold; write the fitted density (reused by predict and export), the
 * per-image scores, the ROC and t-SNE plots, and the per-category CSV with a mean row (`models_perf.csv`).
 * With `localization`, also the localisation metrics of each map method for each category that has
 * ground-truth masks (see `localize_eval.ts`), written to the results file, to extra columns of the CSV and,
 * with the pixel thresholds, to the fitted density (written once, after localisation).
 * @module
 */
import { join } from "node:path";
import type { DensityKind } from "../eval/evaluate.ts";
import { evaluateNet } from "../eval/evaluate.ts";
import { fittedModelPath, saveFittedModel } from "../eval/fitted_model.ts";
import { tsne } from "../eval/tsne.ts";
import { createMatrix, type Matrix } from "../eval/linalg.ts";
import { loadCategoryImages } from "../data/category_images.ts";
import { loadTrainedModel, modelRefOf } from "../train/model_file.ts";
import { modelName, runPaths, type TrainConfig } from "../train/config.ts";
import { disposeParams } from "../model/params.ts";
import { rocFigure, scatterFigure, scoreHistogramFigure } from "../plot/figure.ts";
import { savePng } from "../plot/png.ts";
import { scoresPath, writeScores } from "../io/scores_file.ts";
import { perfCsvPath, writePerfCsv } from "../io/perf_csv.ts";
import { createProgress } from "../util/progress.ts";
import {
  type CategoryLocalization,
  checkLocalizeDensity,
  type LeftOutMethod,
  localizeCategory,
  type LocalizeChoice,
  type MapFunction,
  planLocalization,
} from "./localize_eval.ts";

/** Options of {@link evaluateCategories}. */
export interface EvalOptions {
  /** Categories to evaluate. */
  categories: string[];
  /** MVTec-layout data folder. */
  dataDir: string;
  /** Folder with `model-<category>.safetensors`; results are written here too. */
  modelDir: string;
  /** Density estimator. */
  density: DensityKind;
  /** Write roc_plot.png, tsne.png and score_hist.png per category. */
  savePlots: boolean;
  /** Embedding batch size. */
  batchSize: number;
  /** Settings for model files that do not record them (e.g. `--head_layer`). */
  fallback?: Partial<TrainConfig>;
  /** Hide progress bars. */
  quiet?: boolean;
  /** Decompression-bomb limit when loading images (default `DEFAULT_MAX_PIXELS`). */
  maxPixels?: number;
  /**
   * Localisation: a map method, `all` (every method each model supports; see `planLocalization`) or
   * `none` (the default, also when absent).
   */
  localization?: LocalizeChoice;
  /** Maps to use instead of the method's (tests; see `MapFunction`). */
  mapFunction?: MapFunction;
  /** Grid step of the patch map in pixels (default: 4 px at 256², scaled with the size). */
  patchStride?: number;
}

/** One category's evaluation result. */
export interface CategoryEvalResult {
  /** Category. */
  category: string;
  /** Test ROC AUC. */
  auroc: number;
  /** Youden threshold. */
  threshold: number;
  /** Train images the density was fitted on. */
  nTrain: number;
  /** Test images scored. */
  nTest: number;
  /** Files written. */
  files: string[];
  /** What localisation did, when it was asked for and at least one method applies. */
  localization?: CategoryLocalization;
  /** Methods `--localization all` left out for this model, with the reason. */
  localizationLeftOut: LeftOutMethod[];
}

/** Folder of a category's evaluation plots. */
export function plotDir(modelDir: string, category: string): string {
  return join(modelDir, "plots", modelName(category));
}

function stack(a: Matrix, b: Matrix): Matrix {
  const data = new Float64Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return createMatrix(a.rows + b.rows, a.cols, data);
}

/** Evaluate each category (see the module doc) and write `models_perf.csv`. */
export async function evaluateCategories(options: EvalOptions): Promise<CategoryEvalResult[]> {
  const choice = options.localization ?? "none";
  if (choice === "gradcam") checkLocalizeDensity(choice, options.density);
  const results: CategoryEvalResult[] = [];
  for (const category of options.categories) {
    const paths = runPaths({ category, modelDir: options.modelDir, logDir: "" });
    const model = await loadTrainedModel(paths.best, { fallback: { ...options.fallback, category } });
    try {
      const plan = planLocalization(choice, model, options.density);
      const data = await loadCategoryImages(options.dataDir, category, model.config.size, {
        quiet: options.quiet,
        maxPixels: options.maxPixels,
      });
      const progress = options.quiet ? undefined : createProgress({
        label: `embed ${category}`,
        total: data.train.length + data.test.length,
        unit: "img",
      });
      const labels = data.testRecords.map((r) => r.label);
      const ev = await evaluateNet(model.net, data.train, data.test, labels, {
        kind: options.density,
        batchSize: options.batchSize,
        onProgress: (done) => progress?.update(done),
      });
      progress?.done(`AUROC ${ev.auroc.toFixed(4)}`);
      const files: string[] = [];
      const scoreFile = scoresPath(options.modelDir, category);
      await writeScores(scoreFile, {
        category,
        threshold: ev.threshold,
        auroc: ev.auroc,
        images: data.testRecords.map((r, i) => ({
          path: r.path,
          defectType: r.defectType,
          label: r.label as 0 | 1,
          score: ev.scores[i],
        })),
      });
      files.push(scoreFile);
      if (options.savePlots) {
        const dir = plotDir(options.modelDir, category);
        const curve = {
          name: category,
          fpr: Array.from(ev.curve.fpr),
          tpr: Array.from(ev.curve.tpr),
          auc: ev.auroc,
        };
        files.push(await savePng(rocFigure([curve], `ROC — ${category}`), join(dir, "roc_plot.png")));
        const groups = [
          ...data.trainRecords.map(() => "train good"),
          ...data.testRecords.map((r) => (r.label === 0 ? "good" : r.defectType)),
        ];
        const all = stack(ev.trainEmbeddings, ev.testEmbeddings);
        const projection =
          tsne(all, { seed: 0, perplexity: Math.min(30, Math.max(2, (all.rows - 1) / 3)) }).embedding;
        const points = groups.map((group, i) => ({
          group,
          x: projection.data[2 * i],
          y: projection.data[2 * i + 1],
        }));
        files.push(
          await savePng(scatterFigure(points, `t-SNE of embeddings — ${category}`), join(dir, "tsne.png")),
        );
        const byGroup: Record<string, number[]> = {};
        data.testRecords.forEach((r, i) =>
          (byGroup[r.label === 0 ? "good" : r.defectType] ??= []).push(ev.scores[i])
        );
        files.push(
          await savePng(
            scoreHistogramFigure(byGroup, ev.threshold, `Anomaly scores — ${category}`),
            join(dir, "score_hist.png"),
          ),
        );
      }
      let localization: CategoryLocalization | undefined;
      if (plan.methods.length) {
        localization = await localizeCategory({
          methods: plan.methods,
          model,
          data,
          density: ev.density,
          modelDir: options.modelDir,
          plotDir: options.savePlots ? plotDir(options.modelDir, category) : undefined,
          maxPixels: options.maxPixels,
          mapFunction: options.mapFunction,
          patchStride: options.patchStride,
          quiet: options.quiet,
        });
        if (localization.status === "done") files.push(...localization.files);
      }
      // Written once, after localisation: the density with the maps (and pixel thresholds) evaluated.
      const fittedPath = fittedModelPath(options.modelDir, category);
      await saveFittedModel(fittedPath, {
        category,
        imageSize: model.config.size,
        density: ev.density,
        threshold: ev.threshold,
        auroc: ev.auroc,
        model: modelRefOf(model),
        ...(localization?.status === "done" ? { maps: localization.fittedMaps } : {}),
      });
      files.unshift(fittedPath);
      results.push({
        category,
        auroc: ev.auroc,
        threshold: ev.threshold,
        nTrain: data.train.length,
        nTest: data.test.length,
        files,
        ...(localization ? { localization } : {}),
        localizationLeftOut: plan.leftOut,
      });
    } finally {
      disposeParams(model.net.params);
    }
  }
  const entries = results.map((r) => ({
    ...r,
    localization: r.localization?.status === "done"
      ? r.localization.result.methods.map((m) => ({
        method: m.method,
        pixelAuroc: m.pixel_auroc,
        auPro: m.au_pro,
        pixelF1Max: m.pixel_f1,
      }))
      : [],
  }));
  await writePerfCsv(perfCsvPath(options.modelDir), entries, options.density);
  return results;
}
