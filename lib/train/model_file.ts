/**
 * Loading a trained model file (`model-<category>.safetensors`, PyTorch names) together with the training
 * configuration recorded in its metadata, so evaluation, prediction and export rebuild the exact network.
 *
 * Consistency while a training run writes: the model file is only ever replaced whole (atomic rename) and is
 * read in one piece, so a reader gets the old or the new model, never a mix. A fitted density (`eval`)
 * records the fingerprint (the SHA-256 of the tensor bytes, kept in the model file's metadata) and step of the
 * model it was fitted on; `predict` and `export` check it with {@link checkDensityMatchesModel}, so they never
 * pair a density with a model it was not fitted on (e.g. a newer best model a running training wrote since).
 * @module
 */
import { DATA_SHA256_KEY, readSafetensors } from "../io/safetensors.ts";
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
  /** SHA-256 of its tensor bytes as recorded in the file (null for files that do not record it). */
  fingerprint: string | null;
}

/** The model a fitted density was computed with, as the density file records it. */
export interface ModelRef {
  /** {@link TrainedModel.fingerprint} of the model. */
  fingerprint: string;
  /** Its training step. */
  step: number;
}

/** The {@link ModelRef} to record for `model` (undefined when its file records no fingerprint). */
export function modelRefOf(model: TrainedModel): ModelRef | undefined {
  return model.fingerprint ? { fingerprint: model.fingerprint, step: model.step } : undefined;
}

/**
 * Check that the density in `densityPath` (recording `ref`) was fitted on `model`; a {@link UserError} says
 * to run `eval` again otherwise. Densities of older versions, which record no model, are accepted.
 */
export function checkDensityMatchesModel(
  densityPath: string,
  ref: ModelRef | undefined,
  model: TrainedModel,
): void {
  if (!ref || !model.fingerprint || ref.fingerprint === model.fingerprint) return;
  throw new UserError(
    `${densityPath} was fitted on another version of ${model.path} (step ${ref.step}; the model file now ` +
      `holds step ${model.step}, e.g. written by a training run since)`,
    "run `deno task eval` for this category again (after the training run finished), then retry",
  );
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
  const file = await readSafetensors(path, { kind: "model" });
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
    fingerprint: file.metadata[DATA_SHA256_KEY] ?? null,
  };
}
