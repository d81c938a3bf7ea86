/**
 * Notebook views: turn the library's results into tables, figures, image grids and live outputs for the
 * Deno Jupyter kernel.
 *
 * @example A table for a notebook cell (rendered by the Deno Jupyter kernel, plain text elsewhere)
 * ```ts
 * import assert from "node:assert/strict";
 * import { bundleOf, keyValueTable } from "./mod.ts";
 * const table = keyValueTable({ category: "bottle", auroc: 0.998 }, "Result");
 * assert.ok(bundleOf(table)["text/html"].includes("bottle"));
 * ```
 * @module
 */
export {
  batchGrid,
  batchSummary,
  cutPasteGallery,
  describeBox,
  type GalleryOptions,
  type GeometryFigures,
  geometryFigures,
  type GeometrySample,
  sampleCutPasteGeometry,
  THREE_WAY_CLASSES,
} from "./cutpaste_view.ts";
export { pickCategory, prepareData, type PrepareDataOptions, type PreparedData } from "./data.ts";
export {
  bundleOf,
  type CountsTable,
  countsTable,
  countsTableRows,
  type Displayable,
  displayBundle,
  encodeBase64,
  escapeHtml,
  html,
  htmlTable,
  JUPYTER_DISPLAY,
  keyValueTable,
  markdown,
  type MimeBundle,
  png,
  type PngDisplay,
  svg,
  type TableCell,
  type TableOptions,
} from "./display.ts";
export {
  closestCalls,
  type ComparisonTableOptions,
  type Confusion,
  confusionAt,
  confusionTable,
  errorGallery,
  type ErrorGalleryOptions,
  evaluationTable,
  loadScores,
  type Misclassified,
  misclassified,
  oursLabel,
  pngFile,
  publishedComparisonTable,
  readRunInfo,
  rocFigureFromScores,
  savedPlot,
  scoreHistogramFromScores,
} from "./eval_view.ts";
export {
  bestWorstPanels,
  type ImageQuality,
  localizationFact,
  localizationScores,
  localizationScoresTable,
  mapMethodsTable,
  maskIou,
  methodLabel,
  type MethodScores,
  modelSetup,
  mostLeastAnomalous,
  noMasksNote,
  type PanelOptions,
  paperLocalizationRows,
  paperLocalizationTable,
  type PaperRow,
  PRO_LIMIT,
  proCurvesFigure,
} from "./localization_view.ts";
export {
  ANOMALOUS_COLOR,
  backendComparisonTable,
  bundleFilesTable,
  bundleMetadataTable,
  evaluationScores,
  frameImage,
  latencyFigure,
  latencySummary,
  maxRelativeDifference,
  NORMAL_COLOR,
  pickSampleImages,
  predictionLines,
  type SampleImages,
  verdictGallery,
  verdictText,
} from "./export_view.ts";
export { parameterTable, shapeSize } from "./model_view.ts";
export {
  displayPath,
  envNumber,
  envString,
  PARAMETER_ENV,
  PARAMETER_ENV_VARS,
  PROJECT_ROOT,
  projectPath,
  REPORT_FACTS_ENV,
  reportFact,
} from "./params.ts";
export { inJupyter, lastLine, withLiveProgress } from "./progress.ts";
export {
  kernelPath,
  recordedPath,
  requireFittedDensity,
  requireTrainedModel,
  type RunDirs,
  runDirs,
  shownPath,
} from "./run_dirs.ts";
export {
  categorySampleGrid,
  datasetOverviewGrid,
  pickEvenly,
  recordCell,
  type SampleGridOptions,
} from "./samples.ts";
export {
  backendSummary,
  type BlockRow,
  createTrainingMonitor,
  formatDuration,
  learningRateFigure,
  type LiveOutput,
  liveOutput,
  modelSummaryTable,
  notebookTrainConfig,
  type NotebookTrainOptions,
  parameterBlocks,
  runFilesTable,
  trainingFigure,
  type TrainingMonitor,
  trainingPanel,
  type TrainingPanelState,
  trainingSetupTable,
  trainingStatus,
  trainingSummaryTable,
} from "./training_view.ts";

// Types and values the API above refers to, defined in other areas.
export type { BackendInfo } from "../backend/mod.ts";
export type { BackendRun } from "../pipeline/compare_backends.ts";
export type { Batch } from "../train/batch_plan.ts";
export type { BundleMetadata } from "../export/bundle_metadata.ts";
export type { CategoryEvalResult } from "../pipeline/run_eval.ts";
export type { CategorySummaryRow } from "../data/mvtec.ts";
export type { ComparisonRow } from "../eval/published_results.ts";
export type { CutPasteBox } from "../augment/cutpaste.ts";
export type { DataInfo } from "../pipeline/ensure_dataset.ts";
export type { Figure } from "../plot/figure.ts";
export type { GridCell } from "../plot/images.ts";
export type { HistoryEntry } from "../train/checkpoint.ts";
export type { ImageRecord } from "../data/mvtec.ts";
export type { ParamSpec } from "../model/params.ts";
export type { Prediction } from "../pipeline/predict.ts";
export type { Rgb } from "../plot/images.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { RunInfo } from "../io/run_info.ts";
export type { RunPaths } from "../train/config.ts";
export type { ScoredImage } from "../io/scores_file.ts";
export type { ScoresFile } from "../io/scores_file.ts";
export type { StepInfo } from "../train/trainer.ts";
export type { TrainConfig } from "../train/config.ts";
export type { TrainHooks } from "../train/trainer.ts";
export type { TrainResult } from "../train/trainer.ts";
export { BUNDLE_FORMAT } from "../export/bundle_metadata.ts";
export type { CategoryCounts } from "../data/mvtec.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export type { DataSource } from "../pipeline/ensure_dataset.ts";
export type { Layout } from "../plot/figure.ts";
export type { OfficialCategoryInfo } from "../data/mvtec.ts";
export type { OptimizerName } from "../train/optimizer.ts";
export type { ParamInit } from "../model/params.ts";
export type { ParamKind } from "../model/params.ts";
export type { PublishedKey } from "../eval/published_results.ts";
export type { RunStatus } from "../io/run_info.ts";
export type { ScheduleName } from "../train/schedule.ts";
export type { Trace } from "../plot/figure.ts";
export { runPaths } from "../train/config.ts";
export type { Annotation } from "../plot/figure.ts";
export type { Axis } from "../plot/figure.ts";
export type { BarTrace } from "../plot/figure.ts";
export type { Font } from "../plot/figure.ts";
export type { HistogramTrace } from "../plot/figure.ts";
export type { Legend } from "../plot/figure.ts";
export { OPTIMIZERS } from "../train/optimizer.ts";
export { SCHEDULES } from "../train/schedule.ts";
export type { ScatterTrace } from "../plot/figure.ts";
export type { SecondaryAxis } from "../plot/figure.ts";
export type { Shape } from "../plot/figure.ts";
export type { Title } from "../plot/figure.ts";
export type { Bins } from "../plot/figure.ts";
export type { LineStyle } from "../plot/figure.ts";
export type { MarkerStyle } from "../plot/figure.ts";
export type { TraceBase } from "../plot/figure.ts";
export type { Dash } from "../plot/figure.ts";
export type { CategoryLocalization, LeftOutMethod } from "../pipeline/localize_eval.ts";
export type { FittedMap } from "../eval/fitted_model.ts";
export type { LocalizationFile, LocalizationMethodResult } from "../io/localization_file.ts";
export { MASK_RESIZE } from "../io/localization_file.ts";
export type { LocalizationMethod } from "../io/localization_file.ts";
export { LOCALIZATION_METHODS } from "../io/localization_file.ts";
export type { MethodAvailability } from "../pipeline/localize_test_set.ts";
export type { MethodMaps } from "../pipeline/localize_test_set.ts";
export type { ModelSummary } from "../pipeline/localize_test_set.ts";
export type { TestSetMaps } from "../pipeline/localize_test_set.ts";
