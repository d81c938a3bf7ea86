/**
 * The training configuration: the reference's flags with its defaults (DESIGN.md), the derived model
 * configuration, and where a run's files go.
 * @module
 */
import { join } from "node:path";
import type { CutPasteVariant } from "../augment/cutpaste.ts";
import { variantClassCount } from "../augment/cutpaste.ts";
import { headLayersFor, type ProjectionNetConfig } from "../model/projection_net.ts";
import { DEFAULT_SSPCAB } from "../model/sspcab.ts";
import type { OptimizerName } from "./optimizer.ts";
import type { ScheduleName } from "./schedule.ts";

/** Everything that defines a training run of one category. */
export interface TrainConfig {
  /** Category (folder name under `dataDir`). */
  category: string;
  /** MVTec-layout data folder. */
  dataDir: string;
  /** Where models and checkpoints go. */
  modelDir: string;
  /** Where `train.log` goes (`<logDir>/<model name>/train.log`). */
  logDir: string;
  /** Training steps ("epochs" in the reference). */
  epochs: number;
  /** Evaluate (AUROC) and keep the best model every this many steps; 0 = only at the end. */
  testEpochs: number;
  /** Items per batch; each yields 3 images for 3-way (2 otherwise). */
  batchSize: number;
  /** Hidden 512-wide head layers before the 128 one. */
  headLayer: number;
  /** CutPaste variant. */
  variant: CutPasteVariant;
  /** Steps during which the ResNet18 trunk stays frozen (only when pretrained). */
  freezeResnet: number;
  /** Base learning rate. */
  lr: number;
  /** Optimiser. */
  optim: OptimizerName;
  /** SGD momentum. */
  momentum: number;
  /** L2 weight decay. */
  weightDecay: number;
  /** ImageNet ResNet18 weights (safetensors), or null to train from scratch. */
  pretrained: string | null;
  /** Seed of model initialisation, data order and augmentation. */
  seed: number;
  /** Image side in pixels. */
  size: number;
  /** Learning-rate schedule. */
  schedule: ScheduleName;
  /** Whether the SSPCAB block is used. */
  sspcab: boolean;
  /** Weight of SSPCAB's MSE in the loss. */
  sspcabLambda: number;
  /** Items in one pass of the data set (train images repeated to this length, as the reference). */
  datasetLength: number;
  /** Backend choice as given (`auto`, `wasm`, …). */
  backend: string;
  /**
   * Patch-level training: train on random `patchSize²` crops with CutPaste inside the crop (the CutPaste
   * paper's patch model, 64 at 256²). Unset or null: whole images.
   */
  patchSize?: number | null;
}

/** Defaults: the reference's training setup (Paddle reproduction of CutPaste + SSPCAB). */
export const TRAIN_DEFAULTS: Omit<TrainConfig, "category"> = {
  dataDir: "data/mvtec",
  modelDir: "outputs/models",
  logDir: "outputs/logdirs",
  epochs: 500,
  testEpochs: 10,
  batchSize: 96,
  headLayer: 1,
  variant: "3way",
  freezeResnet: 20,
  lr: 0.03,
  optim: "sgd",
  momentum: 0.9,
  weightDecay: 3e-5,
  pretrained: "data/weights/resnet18.tv_in1k.safetensors",
  seed: 102,
  size: 256,
  schedule: "paddle-cosine",
  sspcab: true,
  sspcabLambda: 0.01,
  datasetLength: 3000,
  backend: "auto",
};

/** The model configuration a training configuration implies. */
export function modelConfigFor(
  config: Pick<TrainConfig, "headLayer" | "variant" | "sspcab" | "sspcabLambda">,
): ProjectionNetConfig {
  return {
    headLayers: headLayersFor(config.headLayer),
    numClasses: variantClassCount(config.variant),
    sspcab: config.sspcab ? { ...DEFAULT_SSPCAB } : null,
    sspcabLambda: config.sspcab ? config.sspcabLambda : 0,
  };
}

/** The run's model name, as the reference names it: `model-<category>`. */
export function modelName(category: string): string {
  return `model-${category}`;
}

/** Paths of a run's files. */
export interface RunPaths {
  /** Best weights (PyTorch-named safetensors). */
  best: string;
  /** Resumable checkpoint (weights + optimiser + step + RNG + config). */
  checkpoint: string;
  /** Run configuration and metrics (JSON). */
  runInfo: string;
  /** Training log. */
  log: string;
}

/** Where a category's run writes its files. */
export function runPaths(config: Pick<TrainConfig, "category" | "modelDir" | "logDir">): RunPaths {
  const name = modelName(config.category);
  return {
    best: join(config.modelDir, `${name}.safetensors`),
    checkpoint: join(config.modelDir, `${name}.checkpoint.safetensors`),
    runInfo: join(config.modelDir, `${name}.json`),
    log: join(config.logDir, name, "train.log"),
  };
}
