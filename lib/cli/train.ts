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
  startBackend,
  TYPE_FLAG,
} from "./common.ts";
import type { FlagSpec } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { resolveCategories } from "../data/mvtec.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../train/config.ts";
import { trainCategory } from "../train/trainer.ts";
import { CUTPASTE_VARIANTS, type CutPasteVariant } from "../augment/cutpaste.ts";
import { type OptimizerName, OPTIMIZERS } from "../train/optimizer.ts";
import { type ScheduleName, SCHEDULES } from "../train/schedule.ts";

const SUMMARY = "Train CutPaste (3-way) + SSPCAB on MVTec AD categories.";
const D = TRAIN_DEFAULTS;

/** Flags of `train`. */
export const TRAIN_FLAGS: FlagSpec[] = [
  TYPE_FLAG,
  DATA_DIR_FLAG,
  MODEL_DIR_FLAG,
  { name: "log_dir", type: "string", default: D.logDir, help: "folder of train.log files" },
  { name: "epochs", type: "number", default: D.epochs, help: "training steps (one batch each)" },
  {
    name: "test_epochs",
    type: "number",
    default: D.testEpochs,
    help: "evaluate AUROC and checkpoint every N steps",
  },
  { name: "batch_size", type: "number", default: D.batchSize, help: "items per batch (×3 images for 3-way)" },
  { name: "head_layer", type: "number", default: D.headLayer, help: "hidden 512-wide layers in the head" },
  {
    name: "variant",
    type: "string",
    default: D.variant,
    choices: CUTPASTE_VARIANTS,
    help: "CutPaste variant",
  },
  {
    name: "freeze_resnet",
    type: "number",
    default: D.freezeResnet,
    help: "steps with the ResNet18 trunk frozen",
  },
  { name: "lr", type: "number", default: D.lr, help: "learning rate" },
  { name: "optim", type: "string", default: D.optim, choices: OPTIMIZERS, help: "optimiser" },
  { name: "momentum", type: "number", default: D.momentum, help: "SGD momentum" },
  { name: "weight_decay", type: "number", default: D.weightDecay, help: "L2 weight decay" },
  { name: "pretrained", type: "string", default: D.pretrained ?? "", help: "ImageNet ResNet18 safetensors" },
  { name: "no_pretrained", type: "boolean", default: false, help: "train from scratch (random init)" },
  { name: "seed", type: "number", default: D.seed, help: "random seed" },
  { name: "size", type: "number", default: D.size, help: "image side in pixels" },
  {
    name: "schedule",
    type: "string",
    default: D.schedule,
    choices: SCHEDULES,
    help: "learning-rate schedule",
  },
  { name: "no_sspcab", type: "boolean", default: false, help: "plain CutPaste (no SSPCAB block)" },
  {
    name: "sspcab_lambda",
    type: "number",
    default: D.sspcabLambda,
    help: "weight of SSPCAB's MSE in the loss",
  },
  { name: "resume", type: "boolean", default: false, help: "continue from the last checkpoint" },
  MAX_PIXELS_FLAG,
  BACKEND_FLAG,
];

function positiveInt(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--${name} must be a positive integer, got ${v}`);
  }
  return n;
}

/** Build the per-category training configuration from parsed flags. */
export function trainConfigFromFlags(flags: Record<string, unknown>, category: string): TrainConfig {
  return {
    category,
    dataDir: String(flags.data_dir),
    modelDir: String(flags.model_dir),
    logDir: String(flags.log_dir),
    epochs: positiveInt("epochs", flags.epochs),
    testEpochs: Math.max(0, Math.floor(Number(flags.test_epochs))),
    batchSize: positiveInt("batch_size", flags.batch_size),
    headLayer: Math.max(0, Math.floor(Number(flags.head_layer))),
    variant: flags.variant as CutPasteVariant,
    freezeResnet: Math.max(0, Math.floor(Number(flags.freeze_resnet))),
    lr: Number(flags.lr),
    optim: flags.optim as OptimizerName,
    momentum: Number(flags.momentum),
    weightDecay: Number(flags.weight_decay),
    pretrained: flags.no_pretrained || !flags.pretrained ? null : String(flags.pretrained),
    seed: Math.floor(Number(flags.seed)),
    size: positiveInt("size", flags.size),
    schedule: flags.schedule as ScheduleName,
    sspcab: !flags.no_sspcab,
    sspcabLambda: Number(flags.sspcab_lambda),
    datasetLength: D.datasetLength,
    backend: String(flags.backend),
  };
}

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("train", SUMMARY, TRAIN_FLAGS);
    if (!flags) return;
    const categories = await resolveCategories(String(flags.type), String(flags.data_dir));
    const maxPixels = maxPixelsFrom(flags);
    await startBackend(flags.backend);
    for (const category of categories) {
      const result = await trainCategory(trainConfigFromFlags(flags, category), {
        resume: Boolean(flags.resume),
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
