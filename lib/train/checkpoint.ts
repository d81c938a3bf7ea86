/**
 * Resumable training checkpoints: one safetensors file holding the model (`model.<PyTorch name>`), the
 * optimiser state (`optim.<slot>.<name>`), and in its metadata the next step, the run configuration, the RNG
 * state, the best AUROC so far and the history. Written atomically (temp file + rename), so a kill at any
 * moment leaves the previous checkpoint intact.
 * @module
 */
import { readSafetensors, type TensorToWrite, writeSafetensors } from "../io/safetensors.ts";
import { applyStateDict, stateDictTensors } from "../model/state_dict.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import type { Optimizer } from "./optimizer.ts";
import type { TrainConfig } from "./config.ts";
import { UserError } from "../util/errors.ts";

/** Identifies our checkpoint files. */
export const CHECKPOINT_FORMAT = "sspcab-checkpoint";

/** One step of the training history. */
export interface HistoryEntry {
  /** Step index (1-based: steps completed). */
  step: number;
  /** Total loss. */
  loss: number;
  /** Classification accuracy on the batch. */
  acc: number;
  /** Learning rate used. */
  lr: number;
  /** Test AUROC when evaluated at this step. */
  auroc?: number;
}

/** The training state besides tensors. */
export interface CheckpointState {
  /** Next step to run (= steps completed). */
  step: number;
  /** Configuration of the run. */
  config: TrainConfig;
  /** RNG state: everything random is a pure function of (seed, step), so this records both. */
  rng: { seed: number; step: number };
  /** Best test AUROC so far (NaN when not evaluated yet). */
  bestAuroc: number;
  /** Step at which the best AUROC was reached. */
  bestStep: number;
  /** Per-step history. */
  history: HistoryEntry[];
  /** Optimiser step counter. */
  optimizerSteps: number;
}

/** Write a checkpoint atomically. */
export async function saveCheckpoint(
  path: string,
  net: ProjectionNet,
  optimizer: Optimizer,
  state: Omit<CheckpointState, "optimizerSteps">,
): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of await stateDictTensors(net.specs, net.params)) tensors.set(`model.${name}`, t);
  const optim = await optimizer.exportState();
  for (const [name, t] of optim.tensors) tensors.set(`optim.${name}`, t);
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    version: "1",
    state: JSON.stringify({
      ...state,
      optimizerSteps: optim.steps,
      bestAuroc: numberOrNull(state.bestAuroc),
    }),
  });
}

const numberOrNull = (v: number) => (Number.isFinite(v) ? v : null);

/** Configuration fields that must match for a checkpoint to be resumed. */
const MUST_MATCH: (keyof TrainConfig)[] = [
  "category",
  "variant",
  "headLayer",
  "size",
  "batchSize",
  "seed",
  "sspcab",
  "optim",
  "datasetLength",
  "patchSize",
];

/**
 * Load a checkpoint into the net and optimiser. The configuration must agree on what shapes the run
 * (category, variant, head, size, batch, seed, …); otherwise a {@link UserError} names the differences.
 */
export async function loadCheckpoint(
  path: string,
  net: ProjectionNet,
  optimizer: Optimizer,
  config: TrainConfig,
): Promise<CheckpointState> {
  const file = await readSafetensors(path);
  if (file.metadata.format !== CHECKPOINT_FORMAT || !file.metadata.state) {
    throw new UserError(
      `${path} is not a training checkpoint of this tool`,
      "pass --resume only with a checkpoint we wrote",
    );
  }
  const state = JSON.parse(file.metadata.state) as CheckpointState & { bestAuroc: number | null };
  const diffs = MUST_MATCH.filter((k) =>
    JSON.stringify(state.config[k] ?? null) !== JSON.stringify(config[k] ?? null)
  )
    .map((k) => `${k}: checkpoint ${JSON.stringify(state.config[k])} vs now ${JSON.stringify(config[k])}`);
  if (diffs.length) {
    throw new UserError(
      `cannot resume from ${path}: the run's settings differ (${diffs.join("; ")})`,
      "resume with the original flags, or delete the checkpoint to start over",
    );
  }
  const model = new Map<string, { shape: number[]; dtype: "F32"; data: Float32Array }>();
  const optim = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith("model.")) {
      model.set(name.slice(6), { shape: t.shape, dtype: "F32", data: t.data as Float32Array });
    } else if (name.startsWith("optim.")) optim.set(name.slice(6), t);
  }
  applyStateDict(net.specs, net.params, model, path);
  optimizer.importState(optim, state.optimizerSteps);
  return { ...state, bestAuroc: state.bestAuroc ?? NaN };
}
