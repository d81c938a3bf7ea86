/**
 * Orchestration: the steps that string the building blocks together — getting a data set
 * (`ensureDataset`), evaluating categories and writing their results, predicting images with a trained
 * model, comparing compute backends on a bundle, and the whole walkthrough as one run.
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
export { formatPrediction, predictImages, type Prediction } from "./predict.ts";
export { type CategoryEvalResult, type EvalOptions, evaluateCategories, plotDir } from "./run_eval.ts";
export { type PipelineOptions, type PipelineStep, runPipeline } from "./run_pipeline.ts";

// Types and values the API above refers to, defined in other areas.
export type { BackendChoice } from "../backend.ts";
export type { DensityKind } from "../eval/evaluate.ts";
export type { TrainConfig } from "../train/config.ts";
export { BACKEND_CHOICES } from "../backend.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export { DENSITY_KINDS } from "../eval/evaluate.ts";
export type { OptimizerName } from "../train/optimizer.ts";
export type { ScheduleName } from "../train/schedule.ts";
export { OPTIMIZERS } from "../train/optimizer.ts";
export { SCHEDULES } from "../train/schedule.ts";
