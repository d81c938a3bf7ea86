/**
 * Loading a trained model file (`model-<category>.safetensors`, PyTorch names) together with the training
 * configuration recorded in its metadata, so evaluation, prediction and export rebuild the exact network.
 * @module
 */
import { readSafetensors } from "../io/safetensors.ts";
import { createProjectionNet, type ProjectionNet } from "../model/projection_net.ts";
import { applyStateDict } from "../model/state_dict.ts";
import { UserError } from "../util/errors.ts";
import { modelConfigFor, TRAIN_DEFAULTS, type TrainConfig } from "./config.ts";

/** A loaded model and the configuration it was trained with. */
export interface TrainedModel {
  /** The network, weights loaded. */
  net: ProjectionNet;
  /** Training configuration (from the file's metadata; flags fill in what a foreign file lacks). */
  config: TrainConfig;
  /** Test AUROC recorded when the model was saved (NaN when unknown). */
  auroc: number;
  /** Step at which it was saved (0 when unknown). */
  step: number;
  /** The file it came from. */
  path: string;
}

/**
 * Load a model file. Settings not recorded in the file (e.g. a checkpoint from another tool) come from
 * `fallback`; a flag given explicitly in `overrides` that contradicts the file is an error naming both.
 */
export async function loadTrainedModel(
  path: string,
  options: { fallback?: Partial<TrainConfig>; overrides?: Partial<TrainConfig> } = {},
): Promise<TrainedModel> {
  const missing = !(await Deno.stat(path).then((s) => s.isFile, () => false));
  if (missing) {
    throw new UserError(
      `model file not found: ${path}`,
      "train it first (`deno task train`), or pass --model_dir",
    );
  }
  const file = await readSafetensors(path);
  let recorded: Partial<TrainConfig> = {};
  if (file.metadata.config) {
    try {
      recorded = JSON.parse(file.metadata.config);
    } catch {
      throw new UserError(
        `${path}: its metadata "config" is not valid JSON`,
        "re-save the model with `deno task train`",
      );
    }
  }
  const overrides = options.overrides ?? {};
  for (const key of ["headLayer", "variant", "sspcab"] as const) {
    if (overrides[key] !== undefined && recorded[key] !== undefined && overrides[key] !== recorded[key]) {
      throw new UserError(
        `${path} was trained with ${key} = ${JSON.stringify(recorded[key])}, but ${
          JSON.stringify(overrides[key])
        } was asked for`,
        `drop the flag or pass the value the model was trained with`,
      );
    }
  }
  const config: TrainConfig = {
    ...TRAIN_DEFAULTS,
    category: "unknown",
    ...options.fallback,
    ...recorded,
    ...overrides,
  } as TrainConfig;
  const net = createProjectionNet(modelConfigFor(config), 0);
  applyStateDict(net.specs, net.params, file.tensors, path);
  return {
    net,
    config,
    auroc: file.metadata.auroc !== undefined ? Number(file.metadata.auroc) : NaN,
    step: Number(file.metadata.step ?? 0),
    path,
  };
}
