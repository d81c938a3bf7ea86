/**
 * Training: the configuration and its defaults, the batch plan and batch builder (3-way CutPaste items),
 * SGD/Adam with PyTorch semantics, the cosine schedules, gradients, resumable checkpoints, the training loop
 * and the trained-model file.
 *
 * @example The reference's learning-rate schedule (Paddle's cosine with T_max = 10, stepped every step)
 * ```ts
 * import assert from "node:assert/strict";
 * import { learningRateAt, TRAIN_DEFAULTS } from "./mod.ts";
 * const lr = [0, 10, 20].map((step) => learningRateAt("paddle-cosine", TRAIN_DEFAULTS.lr, step, 500));
 * assert.ok(Math.abs(lr[0] - 0.03) < 1e-12 && lr[1] < 1e-12 && Math.abs(lr[2] - 0.03) < 1e-12);
 * ```
 * @module
 */
export { type Batch, batchesPerPass, batchImageIndices, type BatchPlan, buildBatch } from "./batch_plan.ts";
export { type BatchSource, createBatchSource } from "./batches.ts";
export {
  CHECKPOINT_FORMAT,
  type CheckpointState,
  type HistoryEntry,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export {
  modelConfigFor,
  modelName,
  type RunPaths,
  runPaths,
  TRAIN_DEFAULTS,
  type TrainConfig,
} from "./config.ts";
export { type LossAndGradients, lossAndGradients } from "./gradients.ts";
export { loadTrainedModel, type TrainedModel } from "./model_file.ts";
export {
  createOptimizer,
  type Optimizer,
  type OptimizerConfig,
  type OptimizerName,
  OPTIMIZERS,
} from "./optimizer.ts";
export { learningRateAt, PADDLE_T_MAX, type ScheduleName, SCHEDULES } from "./schedule.ts";
export { type StepInfo, trainCategory, type TrainHooks, type TrainResult } from "./trainer.ts";

// Types and values the API above refers to, defined in other areas.
export type { CategoryImages } from "../data/category_images.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export type { ParamStore } from "../model/params.ts";
export type { ProjectionNet } from "../model/projection_net.ts";
export type { ProjectionNetConfig } from "../model/projection_net.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { TensorToWrite } from "../io/safetensors.ts";
export type { ImageRecord } from "../data/mvtec.ts";
export type { ParamSpec } from "../model/params.ts";
export type { SspcabConfig } from "../model/sspcab.ts";
export type { ParamInit } from "../model/params.ts";
export type { ParamKind } from "../model/params.ts";
export type { TrainOptions } from "./trainer.ts";
export type { Tensor } from "../util/tensor_types.ts";
export type { Tensor1D } from "../util/tensor_types.ts";
export type { Tensor2D } from "../util/tensor_types.ts";
export type { Tensor4D } from "../util/tensor_types.ts";
export type { Variable } from "../util/tensor_types.ts";
export type { StemConv } from "../model/stem.ts";
