/**
 * sspcab-deno — CutPaste (3-way) + SSPCAB image anomaly detection on MVTec AD, in TypeScript on Deno with
 * TensorFlow.js. This entry point holds the main steps of a run; each area has its own entry point with the
 * building blocks (`./data`, `./augment`, `./model`, `./train`, `./eval`, `./export`, `./plot`, `./io`,
 * `./pipeline`, `./notebook`).
 *
 * @example Train, evaluate and predict on the embedded synthetic set (tiny sizes: a smoke run)
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureDataset, evaluateCategories, initBackend, predictImages, trainCategory, TRAIN_DEFAULTS } from "./mod.ts";
 * await initBackend("wasm");
 * const out = await Deno.makeTempDir();
 * const data = await ensureDataset({ outputDir: out, size: 32, defaultDir: null });
 * const category = data.categories[0];
 * const modelDir = `${out}/models`;
 * await trainCategory({
 *   ...TRAIN_DEFAULTS, category, dataDir: data.path, modelDir, logDir: `${out}/logs`,
 *   size: 32, epochs: 2, testEpochs: 2, batchSize: 2, datasetLength: 8, pretrained: null,
 * }, { hooks: { quiet: true, log: () => {} } });
 * await evaluateCategories({
 *   categories: [category], dataDir: data.path, modelDir, density: "gaussian", savePlots: false,
 *   batchSize: 8, quiet: true,
 * });
 * const [first] = await predictImages({ category, modelDir, inputs: [`${data.path}/${category}/test/good`] });
 * assert.ok(Number.isFinite(first.score) && first.threshold === first.threshold);
 * console.log(first.anomalous ? "anomalous" : "normal", first.score.toFixed(3));
 * await Deno.remove(out, { recursive: true });
 * ```
 * @module
 */
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  initBackend,
  parseBackendChoice,
} from "./backend/mod.ts";
export type { BackendOptions, WasmBackendOptions } from "./backend/options.ts";
export { LIBRARY_VERSION } from "./version.ts";
export { isUserError, UserError } from "./util/errors.ts";
export {
  type DataInfo,
  type DataSource,
  ensureDataset,
  type EnsureDatasetOptions,
  pickCategory,
} from "./pipeline/ensure_dataset.ts";
export { TRAIN_DEFAULTS, type TrainConfig } from "./train/config.ts";
export { trainCategory, type TrainHooks, type TrainResult } from "./train/trainer.ts";
export { type CategoryEvalResult, type EvalOptions, evaluateCategories } from "./pipeline/run_eval.ts";
export { formatPrediction, predictImages, type Prediction } from "./pipeline/predict.ts";
export { exportBundle } from "./export/bundle.ts";
export type { BundleMetadata } from "./export/bundle_metadata.ts";
export { type InferenceBundle, inferImages, loadBundle } from "./export/infer.ts";

// Types and values the API above refers to, defined in other areas.
export { BUNDLE_FORMAT } from "./export/bundle_metadata.ts";
export type { CategoryImages } from "./data/category_images.ts";
export type { CutPasteVariant } from "./augment/cutpaste.ts";
export type { DensityKind } from "./eval/evaluate.ts";
export type { FittedMap, FittedModel } from "./eval/fitted_model.ts";
export type { HistoryEntry } from "./train/checkpoint.ts";
export type { OptimizerName } from "./train/optimizer.ts";
export type { ScheduleName } from "./train/schedule.ts";
export type { StepInfo } from "./train/trainer.ts";
export { runPaths } from "./train/config.ts";
export { DENSITY_KINDS } from "./eval/evaluate.ts";
export type { Density } from "./eval/density.ts";
export type { ImageRecord } from "./data/mvtec.ts";
export { OPTIMIZERS } from "./train/optimizer.ts";
export type { RgbImage } from "./data/rgb_image.ts";
export type { RunPaths } from "./train/config.ts";
export { SCHEDULES } from "./train/schedule.ts";
export type { GaussianDensity } from "./eval/density.ts";
export type { KdeDensity } from "./eval/density.ts";
export type { Matrix } from "./eval/linalg.ts";
export type { BundleFormat } from "./export/bundle_metadata.ts";
export type { ModelRef } from "./train/model_file.ts";
export type { TrainOptions } from "./train/trainer.ts";
export type { GraphModel } from "./util/tensor_types.ts";
export type { CategoryLocalization, LeftOutMethod, LocalizeChoice } from "./pipeline/localize_eval.ts";
export type { LocalizationMethod } from "./io/localization_file.ts";
export type { MapFunction } from "./pipeline/localize_eval.ts";
export { LOCALIZE_CHOICES } from "./pipeline/localize_eval.ts";
export type { PredictOptions } from "./pipeline/predict.ts";
export type { HeatmapMap } from "./pipeline/predict.ts";
export { LOCALIZATION_METHODS } from "./io/localization_file.ts";
export type { LocalizationFile, LocalizationMethodResult } from "./io/localization_file.ts";
export { MASK_RESIZE } from "./io/localization_file.ts";
export { HEATMAP_MAPS } from "./pipeline/predict.ts";
