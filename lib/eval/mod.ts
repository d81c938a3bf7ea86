/**
 * Evaluation maths: dense linear algebra, Gaussian (Ledoit–Wolf) and KDE densities with anomaly scores and
 * their JSON form, ROC curve / AUROC / Youden threshold, localisation metrics (pooled pixel AUROC, AU-PRO as
 * MVTec AD defines it, pixel F1, 8-connected regions), t-SNE with trustworthiness, embedding a set of images,
 * the fitted-density file and the published reference numbers.
 *
 * @example Fit the Gaussian on normal embeddings, score test rows and compute the AUROC
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMatrix, fitGaussianDensity, mahalanobisScores, rocAuc } from "./mod.ts";
 * const train = createMatrix(4, 2, Float64Array.from([1, 0, 0.9, 0.1, 1, 0.2, 0.8, 0]));
 * const density = fitGaussianDensity(train);
 * const test = createMatrix(2, 2, Float64Array.from([0.95, 0.05, -1, 1]));
 * const scores = mahalanobisScores(density, test);
 * assert.ok(scores[1] > scores[0]);
 * console.log(rocAuc([0, 1], scores)); // 1
 * ```
 * @module
 */
export { type ComponentLabels, labelComponents } from "./connected_components.ts";
export {
  type Density,
  DENSITY_FORMAT,
  DENSITY_FORMAT_VERSION,
  densityFromJson,
  type DensityJson,
  densityToJson,
  type FitDensityOptions,
  fitGaussianDensity,
  fitKde,
  type GaussianDensity,
  type GaussianDensityJson,
  type KdeDensity,
  type KdeDensityJson,
  kdeLogDensity,
  kdeScores,
  l2NormalizeRows,
  ledoitWolf,
  ledoitWolfShrinkage,
  mahalanobisScores,
  scoreEmbeddings,
  scoreRows,
} from "./density.ts";
export { embedImages } from "./embed.ts";
export {
  decisionThreshold,
  DENSITY_KINDS,
  type DensityKind,
  evaluateEmbeddings,
  evaluateNet,
  type Evaluation,
  NON_FINITE_EMBEDDINGS,
} from "./evaluate.ts";
export {
  FITTED_FORMAT,
  type FittedMap,
  fittedMap,
  type FittedModel,
  fittedModelPath,
  loadFittedModel,
  saveFittedModel,
} from "./fitted_model.ts";
export {
  asMatrix,
  cholesky,
  choleskyInverse,
  columnMean,
  covariance,
  createMatrix,
  dot,
  EPSILON,
  fromRows,
  gram,
  identity,
  isMatrix,
  matMul,
  type Matrix,
  type MatrixLike,
  matVec,
  pinvh,
  quadraticForm,
  row,
  squaredDistances,
  subtractRowVector,
  type SymmetricEigen,
  symmetricEigen,
  symmetricInverse,
  toRows,
  transpose,
} from "./linalg.ts";
export {
  auPro,
  auProFromCurve,
  DEFAULT_PRO_LIMIT,
  type LocalizationInput,
  type LocalizationMetrics,
  localizationMetrics,
  type LocalizationMetricsOptions,
  mapMaxima,
  pixelAuroc,
  pixelF1Max,
  type ProCurve,
  radixArgsort,
} from "./localization_metrics.ts";
export {
  compareWithPublished,
  type ComparisonRow,
  type OurResult,
  PUBLISHED_AUROC,
  PUBLISHED_MEAN,
  PUBLISHED_SOURCES,
  type PublishedKey,
  type PublishedRow,
  type PublishedSource,
} from "./published_results.ts";
export {
  rocAuc,
  type RocCurve,
  rocCurve,
  type RocOptions,
  trapezoidArea,
  type YoudenPoint,
  youdenPoint,
  youdenThreshold,
} from "./roc.ts";
export {
  conditionalProbabilities,
  jointProbabilities,
  pcaScores,
  trustworthiness,
  tsne,
  type TsneOptions,
  type TsneResult,
} from "./tsne.ts";

// Types and values the API above refers to, defined in other areas.
export type { ModelRef } from "../train/model_file.ts";
export type { MvtecCategory } from "../data/mvtec.ts";
export type { ProjectionNet } from "../model/projection_net.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export { MVTEC_CATEGORIES } from "../data/mvtec.ts";
export type { ParamSpec } from "../model/params.ts";
export type { ParamStore } from "../model/params.ts";
export type { ProjectionNetConfig } from "../model/projection_net.ts";
export type { ParamInit } from "../model/params.ts";
export type { ParamKind } from "../model/params.ts";
export type { SspcabConfig } from "../model/sspcab.ts";
export type { StemConv } from "../model/stem.ts";
export type { Variable } from "../util/tensor_types.ts";
