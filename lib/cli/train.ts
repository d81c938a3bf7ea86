/**
 * `deno task train` — train CutPaste + SSPCAB per category, with the reference's flags (snake_case or
 * kebab-case). Each category writes `model-<category>.safetensors` (best), a resumable checkpoint and
 * `logdirs/model-<category>/train.log`.
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
import { defineFlags, type ParsedFlags } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { resolveCategories } from "../data/mvtec.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../train/config.ts";
import { trainCategory } from "../train/trainer.ts";
import { CUTPASTE_VARIANTS } from "../augment/cutpaste.ts";
import { OPTIMIZERS } from "../train/optimizer.ts";
import { SCHEDULES } from "../train/schedule.ts";

const SUMMARY = "Train CutPaste (3-way) + SSPCAB on MVTec AD categories.";
const D = TRAIN_DEFAULTS;

/** Flags of `train`. */
export const TRAIN_FLAGS = defineFlags({
  type: TYPE_FLAG,
  data_dir: DATA_DIR_FLAG,
  model_dir: MODEL_DIR_FLAG,
  log_dir: { type: "string", default: D.logDir, help: "folder of train.log files" },
  epochs: { type: "number", default: D.epochs, help: "training steps (one batch each)" },
  test_epochs: {
    type: "number",
    default: D.testEpochs,
    help: "evaluate AUROC and checkpoint every N steps",
  },
  batch_size: { type: "number", default: D.batchSize, help: "items per batch (×3 images for 3-way)" },
  head_layer: { type: "number", default: D.headLayer, help: "hidden 512-wide layers in the head" },
  variant: { type: "string", default: D.variant, choices: CUTPASTE_VARIANTS, help: "CutPaste variant" },
  freeze_resnet: {
    type: "number",
    default: D.freezeResnet,
    help: "steps with the ResNet18 trunk frozen",
  },
  lr: { type: "number", default: D.lr, help: "learning rate" },
  optim: { type: "string", default: D.optim, choices: OPTIMIZERS, help: "optimiser" },
  momentum: { type: "number", default: D.momentum, help: "SGD momentum" },
  weight_decay: { type: "number", default: D.weightDecay, help: "L2 weight decay" },
  pretrained: { type: "string", default: D.pretrained ?? "", help: "ImageNet ResNet18 safetensors" },
  no_pretrained: { type: "boolean", default: false, help: "train from scratch (random init)" },
  seed: { type: "number", default: D.seed, help: "random seed" },
  size: { type: "number", default: D.size, help: "image side in pixels" },
  schedule: { type: "string", default: D.schedule, choices: SCHEDULES, help: "learning-rate schedule" },
  no_sspcab: { type: "boolean", default: false, help: "plain CutPaste (no SSPCAB block)" },
  sspcab_lambda: {
    type: "number",
    default: D.sspcabLambda,
    help: "weight of SSPCAB's MSE in the loss",
  },
  patch_size: {
    type: "number",
    help: "patch-level training: random N×N crops, CutPaste inside the crop (for eval --localize patch)",
  },
  resume: { type: "boolean", default: false, help: "continue from the last checkpoint" },
  max_pixels: MAX_PIXELS_FLAG,
  backend: BACKEND_FLAG,
});

/** The parsed flags of `train`. */
export type TrainFlags = ParsedFlags<typeof TRAIN_FLAGS>;

const wholeAtLeast0 = (n: number) => Math.max(0, Math.floor(n));

/** Build the per-category training configuration from parsed flags. */
export function trainConfigFromFlags(flags: TrainFlags, category: string): TrainConfig {
  return {
    category,
    dataDir: flags.data_dir,
    modelDir: flags.model_dir,
    logDir: flags.log_dir,
    epochs: positiveInt("epochs", flags.epochs),
    testEpochs: wholeAtLeast0(flags.test_epochs),
    batchSize: positiveInt("batch_size", flags.batch_size),
    headLayer: wholeAtLeast0(flags.head_layer),
    variant: flags.variant,
    freezeResnet: wholeAtLeast0(flags.freeze_resnet),
    lr: flags.lr,
    optim: flags.optim,
    momentum: flags.momentum,
    weightDecay: flags.weight_decay,
    pretrained: flags.no_pretrained || !flags.pretrained ? null : flags.pretrained,
    seed: Math.floor(flags.seed),
    size: positiveInt("size", flags.size),
    schedule: flags.schedule,
    sspcab: !flags.no_sspcab,
    sspcabLambda: flags.sspcab_lambda,
    datasetLength: D.datasetLength,
    backend: flags.backend,
    patchSize: flags.patch_size === undefined ? null : positiveInt("patch_size", flags.patch_size),
  };
}

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("train", SUMMARY, TRAIN_FLAGS);
    if (!flags) return;
    const categories = await resolveCategories(flags.type, flags.data_dir);
    const maxPixels = maxPixelsFrom(flags.max_pixels);
    await startBackend(flags.backend);
    for (const category of categories) {
      const result = await trainCategory(trainConfigFromFlags(flags, category), {
        resume: flags.resume,
        maxPixels,
        releaseOnSignal: true,
      });
      console.log(
        `${category}: ${result.steps} steps in ${result.seconds.toFixed(1)} s, best AUROC ${
          Number.isFinite(result.bestAuroc) ? result.bestAuroc.toFixed(4) : "n/a"
        } (step ${result.bestStep}) → ${result.paths.best}`,
      );
    }
  });
}
