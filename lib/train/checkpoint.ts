/**
 * Resumable training checkpoints: one safetensors file holding the model (`model.<PyTorch name>`), the
 * optimiser state (`optim.<slot>.<name>`), and in its metadata the next step, the run configuration, the RNG
 * state, the best AUROC so far and the history. Written atomically (temp file + rename), so a kill at any
 * moment leaves the previous checkpoint intact; the one it replaces is kept beside it as
 * `….checkpoint.prev.safetensors`, and {@link resumeCheckpoint} falls back to it when the newest is damaged
 * (truncated, or its recorded checksum does not match).
 * @module
 */
import { readSafetensors, type TensorToWrite, writeSafetensors } from "../io/safetensors.ts";
import { applyStateDict, stateDictTensors } from "../model/state_dict.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import type { Optimizer } from "./optimizer.ts";
import type { TrainConfig } from "./config.ts";
import { DamagedFileError, UserError } from "../util/errors.ts";

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

/** Where the checkpoint before the newest is kept: `x.checkpoint.safetensors` → `x.checkpoint.prev.safetensors`. */
export function previousCheckpointPath(path: string): string {
  return path.endsWith(".safetensors")
    ? `${path.slice(0, -".safetensors".length)}.prev.safetensors`
    : `${path}.prev`;
}

/** Write a checkpoint atomically, keeping the one it replaces at {@link previousCheckpointPath}. */
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
  }, { keepPrevious: previousCheckpointPath(path) });
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
  const file = await readSafetensors(path, { kind: "checkpoint" });
  if (file.metadata.format !== CHECKPOINT_FORMAT || !file.metadata.state) {
    throw new UserError(
      `${path} is not a training checkpoint of this tool`,
      "pass --resume only with a checkpoint we wrote",
    );
  }
  let state: CheckpointState & { bestAuroc: number | null };
  try {
    state = JSON.parse(file.metadata.state);
  } catch {
    throw new DamagedFileError(path, "checkpoint", "its training state (metadata) is not valid JSON");
  }
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

/** A checkpoint found by {@link resumeCheckpoint}. */
export interface ResumedCheckpoint {
  /** The restored state. */
  state: CheckpointState;
  /** The file it came from. */
  path: string;
  /** Set when the newest checkpoint was damaged and the previous one was used: what was wrong with it. */
  fellBackFrom?: { path: string; why: string };
}

async function present(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

/**
 * Load the newest usable checkpoint of a run: `path`, or — when it is missing or damaged — the previous one
 * kept beside it. Returns null when there is neither (a fresh start). Settings that differ are an error, not
 * a reason to fall back. When both are damaged the {@link UserError} names both and says to start over.
 */
export async function resumeCheckpoint(
  path: string,
  net: ProjectionNet,
  optimizer: Optimizer,
  config: TrainConfig,
): Promise<ResumedCheckpoint | null> {
  const previous = previousCheckpointPath(path);
  const [hasNewest, hasPrevious] = [await present(path), await present(previous)];
  if (!hasNewest && !hasPrevious) return null;
  let newestProblem: DamagedFileError | null = null;
  if (hasNewest) {
    try {
      return { state: await loadCheckpoint(path, net, optimizer, config), path };
    } catch (err) {
      if (!(err instanceof DamagedFileError) || !hasPrevious) throw err;
      newestProblem = err;
    }
  }
  try {
    const state = await loadCheckpoint(previous, net, optimizer, config);
    return {
      state,
      path: previous,
      fellBackFrom: { path, why: newestProblem ? newestProblem.why : "it is missing" },
    };
  } catch (err) {
    if (!(err instanceof DamagedFileError) || !newestProblem) throw err;
    throw new UserError(
      `no usable checkpoint to resume from: ${path}: ${newestProblem.why}; ${previous}: ${err.why}`,
      "delete both files and train without --resume to start over",
    );
  }
}
