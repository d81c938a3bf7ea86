/**
 * Orchestration: the steps that string the building blocks together — getting a data set
 * (`ensureDataset`), evaluating categories and writing their results, predicting images with a trained
 * model, comparing compute backends on a bundle, and the whole walkthrough as one run.
 *
 * @example Get a data set (the synthetic one when no MVTec AD folder is around) and pick its first category
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureDataset, pickCategory } from "./mod.ts";
 * const out = await Deno.makeTempDir();
 * const data = await ensureDataset({ outputDir: out, size: 32, defaultDir: null });
 * assert.equal(data.source, "synthetic");
 * console.log(pickCategory("", data)); // the first category present
 * await Deno.remove(out, { recursive: true });
 * ```
 * @module
 */
export { type BackendRun, compareBackends, type CompareBackendsOptions } from "./compare_backends.ts";
export {
  type DataInfo,
  type DataSource,
  ensureDataset,
  type EnsureDatasetOptions,
  ensureSyntheticDataset,
  pickCategory,
  syntheticOptions,
} from "./ensure_dataset.ts";
export {
  computeMaps,
  formatPrediction,
  HEATMAP_MAPS,
  type HeatmapMap,
  heatmapNames,
  predictImages,
  type Prediction,
  predictMapMethod,
  type PredictOptions,
} from "./predict.ts";
export {
  heatmapPaths,
  heatmapPicture,
  type MapSummary,
  noPixelThresholdNote,
  predictionLines,
  summarizeMap,
  writeHeatmap,
} from "./heatmap.ts";
export {
  type CategoryLocalization,
  formatLeftOut,
  formatLocalization,
  type LeftOutMethod,
  type LocalizableModel,
  type LocalizationPlan,
  LOCALIZE_CHOICES,
  type LocalizeChoice,
  type MapFunction,
  planLocalization,
} from "./localize_eval.ts";
export { type CategoryEvalResult, type EvalOptions, evaluateCategories, plotDir } from "./run_eval.ts";
export { type PipelineOptions, type PipelineStep, runPipeline } from "./run_pipeline.ts";

// Types and values the API above refers to, defined in other areas.
export type { BackendChoice } from "../backend/mod.ts";
export type { DensityKind } from "../eval/evaluate.ts";
export type { TrainConfig } from "../train/config.ts";
export { BACKEND_CHOICES } from "../backend/mod.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export { DENSITY_KINDS } from "../eval/evaluate.ts";
export type { OptimizerName } from "../train/optimizer.ts";
export type { ScheduleName } from "../train/schedule.ts";
export { OPTIMIZERS } from "../train/optimizer.ts";
export { SCHEDULES } from "../train/schedule.ts";
export type {
  LocalizationFile,
  LocalizationMethod,
  LocalizationMethodResult,
} from "../io/localization_file.ts";
export { LOCALIZATION_METHODS, MASK_RESIZE } from "../io/localization_file.ts";
export type { FittedMap } from "../eval/fitted_model.ts";
export type { ImageRecord } from "../data/mvtec.ts";
export type { Mask, RgbImage } from "../data/rgb_image.ts";
export type { Rgb } from "../plot/images.ts";
