/**
 * The training loop of one category: CutPaste batches from a worker, ProjectionNet forward/backward, SGD/Adam
 * with the reference schedule, the trunk frozen for the first `freeze_resnet` steps (when pretrained), the
 * reference's log lines, periodic AUROC with the best model kept, atomic checkpoints and resume, and a clear
 * stop on a NaN/Inf loss.
 *
 * Reliability: a run holds the category's lock in the model folder (a second run is refused, a stale lock of
 * a killed run is taken over); the checkpoint it replaces is kept as `….checkpoint.prev.safetensors` and
 * `resume` falls back to it when the newest is damaged; a failed write (disk full, permissions, …) stops the
 * run with one message naming the file and the step the kept checkpoint holds.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { dirname } from "node:path";
import "../backend/gradients.ts";
import { createProjectionNet, type ProjectionNet, trainableNames } from "../model/projection_net.ts";
import { loadStateDict, saveStateDict } from "../model/state_dict.ts";
import { disposeParams } from "../model/params.ts";
import { manualDownloadHint } from "../model/pretrained.ts";
import { type CategoryImages, loadCategoryImages } from "../data/category_images.ts";
import { evaluateNet, NON_FINITE_EMBEDDINGS } from "../eval/evaluate.ts";
import { createBatchSource } from "./batches.ts";
import { lossAndGradients } from "./gradients.ts";
import { createOptimizer } from "./optimizer.ts";
import { learningRateAt } from "./schedule.ts";
import { modelConfigFor, modelName, runPaths, type TrainConfig } from "./config.ts";
import {
  type CheckpointState,
  type HistoryEntry,
  previousCheckpointPath,
  resumeCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { appendTextFile, formatBytes, removeStaleTempFiles, WriteFailure } from "../io/atomic_write.ts";
import { startedRunInfo, writeRunInfo } from "../io/run_info.ts";
import { acquireRunLock, type RunLock } from "../io/run_lock.ts";
import { UserError } from "../util/errors.ts";
import { checkPatchSizeForModel } from "../localize/patch.ts";
import { createProgress } from "../util/progress.ts";
import type { Tensor1D, Tensor2D } from "../util/tensor_types.ts";

/** Per-step information passed to {@link TrainHooks.onStep}. */
export interface StepInfo extends HistoryEntry {
  /** Total steps of the run. */
  epochs: number;
  /** Seconds waiting for the batch. */
  readerCost: number;
  /** Seconds for the whole step. */
  batchCost: number;
  /** Images per second. */
  ips: number;
  /** Live tensors after the step (must stay flat). */
  numTensors: number;
}

/** Callbacks for live displays (notebooks) and tests. */
export interface TrainHooks {
  /** After every step. */
  onStep?(info: StepInfo): void;
  /** After every evaluation. */
  onEval?(info: { step: number; auroc: number; bestAuroc: number }): void;
  /** Replaces console output of log lines (still written to train.log). */
  log?(line: string): void;
  /** Stop after this many steps of this call (simulates an interruption in tests). */
  stopAfter?: number;
  /** Hide the progress bar. */
  quiet?: boolean;
}

/** Outcome of {@link trainCategory}. */
export interface TrainResult {
  /** The model name (`model-<category>`). */
  name: string;
  /** Steps completed. */
  steps: number;
  /** Best test AUROC (NaN if never evaluated). */
  bestAuroc: number;
  /** Step of the best AUROC. */
  bestStep: number;
  /** Files written. */
  paths: ReturnType<typeof runPaths>;
  /** Seconds taken by this call. */
  seconds: number;
  /** History of all steps (including resumed ones). */
  history: HistoryEntry[];
}

async function appendLog(path: string, line: string): Promise<void> {
  await appendTextFile(path, line + "\n");
}

async function accuracy(logits: Tensor2D, labels: Tensor1D): Promise<number> {
  const acc = tf.tidy(() =>
    tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32"))
  );
  const v = (await acc.data())[0];
  acc.dispose();
  return v;
}

async function loadPretrained(net: ProjectionNet, path: string): Promise<void> {
  const present = await Deno.stat(path).then(() => true, () => false);
  if (!present) {
    throw new UserError(
      `pretrained weights not found: ${path}`,
      `run \`deno task weights\` (or ${
        manualDownloadHint(path)
      }), or train from scratch with --no-pretrained`,
    );
  }
  await loadStateDict(net.specs, net.params, path);
}

/** Options of {@link trainCategory}. */
export interface TrainOptions {
  /** Continue from the checkpoint (or the previous one, when the newest is damaged). */
  resume?: boolean;
  /** Images already loaded (otherwise loaded from `config.dataDir`). */
  data?: CategoryImages;
  /** Live displays and tests. */
  hooks?: TrainHooks;
  /** Decompression-bomb limit when loading images (default `DEFAULT_MAX_PIXELS`). */
  maxPixels?: number;
  /** Take the category's run lock in the model folder (default true). */
  lock?: boolean;
  /** Release the lock on SIGINT/SIGTERM and exit (CLIs; default false). */
  releaseOnSignal?: boolean;
}

/** Train one category end to end (see the module doc). Resumes from the checkpoint when `resume` is set. */
export async function trainCategory(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const paths = runPaths(config);
  const notices: string[] = [];
  const lock: RunLock | null = options.lock === false ? null : await acquireRunLock(
    config.modelDir,
    config.category,
    { releaseOnSignal: options.releaseOnSignal, notice: (line) => notices.push(line) },
  );
  try {
    return await trainLocked(config, options, paths, notices);
  } finally {
    await lock?.release();
  }
}

async function trainLocked(
  config: TrainConfig,
  options: TrainOptions,
  paths: ReturnType<typeof runPaths>,
  notices: string[],
): Promise<TrainResult> {
  const hooks = options.hooks ?? {};
  const started = performance.now();
  const say = async (line: string, bar?: ReturnType<typeof createProgress>) => {
    if (hooks.log) hooks.log(line);
    else if (bar) bar.log(line);
    else console.log(line);
    await appendLog(paths.log, line);
  };

  for (const line of notices) await say(line);
  const data = options.data ??
    await loadCategoryImages(config.dataDir, config.category, config.size, {
      quiet: hooks.quiet,
      maxPixels: options.maxPixels,
    });
  if (config.patchSize) checkPatchSizeForModel(modelConfigFor(config), config.patchSize);
  const net = createProjectionNet(modelConfigFor(config), config.seed);
  const optimizer = createOptimizer({
    name: config.optim,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  let state: Omit<CheckpointState, "optimizerSteps"> = {
    step: 0,
    config,
    rng: { seed: config.seed, step: 0 },
    bestAuroc: NaN,
    bestStep: 0,
    history: [],
  };
  for (const p of [paths.checkpoint, previousCheckpointPath(paths.checkpoint), paths.best, paths.runInfo]) {
    await removeStaleTempFiles(p);
  }
  const resumed = options.resume ? await resumeCheckpoint(paths.checkpoint, net, optimizer, config) : null;
  if (resumed) {
    state = resumed.state;
    if (resumed.fellBackFrom) {
      // The damaged file goes, so the next checkpoint does not keep it as "the previous one".
      const removed = await Deno.remove(resumed.fellBackFrom.path).then(() => true, () => false);
      await say(
        `Type : ${config.category} the newest checkpoint ${resumed.fellBackFrom.path} is unusable ` +
          `(${resumed.fellBackFrom.why}${removed ? "; removed" : ""}); falling back to the previous ` +
          `checkpoint ${resumed.path} (step ${state.step})`,
      );
    }
    await say(
      `Type : ${config.category} resumed from ${resumed.path} at step ${state.step}/${config.epochs}`,
    );
  } else {
    if (config.pretrained) await loadPretrained(net, config.pretrained);
    await Deno.remove(paths.log).catch(() => {});
  }
  /** Step held by the newest checkpoint written or loaded by this run (0: none yet). */
  let savedStep = resumed ? state.step : 0;
  const stopped = (failure: WriteFailure, step: number) => {
    const older = previousCheckpointPath(paths.checkpoint);
    let olderSize = 0;
    try {
      olderSize = Deno.statSync(older).size;
    } catch { /* no older checkpoint */ }
    const full = failure.problem.code === "ENOSPC" || failure.problem.code === "EDQUOT";
    const fix = full
      ? `free ${formatBytes(Math.max(failure.needed - (failure.free ?? 0), 1))} or more in ` +
        dirname(failure.path) +
        (olderSize ? ` (deleting the older checkpoint ${older} frees ${formatBytes(olderSize)})` : "")
      : failure.problem.fix;
    return new UserError(
      `training of ${config.category} stopped at step ${step}: ${failure.message.split("\n")[0]}`,
      savedStep
        ? `the last good checkpoint (step ${savedStep}) is kept at ${paths.checkpoint}; ${fix}, then run ` +
          `again with --resume to continue from step ${savedStep}`
        : `no checkpoint of this run was written yet; ${fix}, then run again`,
    );
  };
  try {
    await writeRunInfo(paths.runInfo, startedRunInfo(config));
  } catch (err) {
    throw err instanceof WriteFailure ? stopped(err, state.step) : err;
  }

  const source = createBatchSource(
    {
      imageCount: data.train.length,
      batchSize: config.batchSize,
      datasetLength: config.datasetLength,
      seed: config.seed,
      variant: config.variant,
      patchSize: config.patchSize ?? null,
    },
    data.train,
  );
  const bar = hooks.quiet
    ? undefined
    : createProgress({ label: `train ${config.category}`, total: config.epochs, unit: "steps" });
  bar?.update(state.step);
  const testLabels = data.testRecords.map((r) => r.label);
  const diverged = (what: string) =>
    new UserError(
      `training of ${config.category} diverged: ${what}; the last good checkpoint ` +
        `(${savedStep ? `step ${savedStep}` : "none yet"}) is kept at ${paths.checkpoint}`,
      "lower --lr (e.g. half), or check the input images; continue from the checkpoint with --resume",
    );
  let stepsThisCall = 0;
  const checkpointEvery = config.testEpochs > 0 ? config.testEpochs : 10;
  let currentStep = state.step;

  try {
    for (let step = state.step; step < config.epochs; step++) {
      if (hooks.stopAfter !== undefined && stepsThisCall >= hooks.stopAfter) break;
      const t0 = performance.now();
      const batch = await source.get(step);
      const readerCost = (performance.now() - t0) / 1000;
      const freeze = config.pretrained !== null && step < config.freezeResnet;
      const lr = learningRateAt(config.schedule, config.lr, step, config.epochs);
      const x = tf.tensor4d(batch.pixels, [batch.count, batch.size, batch.size, 3]);
      const y = tf.tensor1d(batch.labels, "int32");
      const result = await lossAndGradients(net, x, y, trainableNames(net, freeze));
      if (!Number.isFinite(result.loss)) {
        tf.dispose([x, y, result.logits, ...result.grads.values()]);
        throw diverged(`the loss is ${result.loss} at step ${step + 1}`);
      }
      optimizer.step(net.params, result.grads, lr);
      const acc = await accuracy(result.logits, y);
      tf.dispose([x, y, result.logits, ...result.grads.values()]);
      const batchCost = (performance.now() - t0) / 1000;
      const entry: HistoryEntry = { step: step + 1, loss: result.loss, acc, lr };
      state.history.push(entry);
      stepsThisCall++;
      currentStep = step + 1;
      const ips = batch.count / batchCost;
      await say(
        `Type : ${config.category} Train [ Epoch ${step + 1}/${config.epochs} ], loss: ${
          result.loss.toFixed(5)
        }, ` +
          `avg_reader_cost: ${readerCost.toFixed(5)} sec, avg_batch_cost: ${batchCost.toFixed(5)} sec, ` +
          `avg_ips: ${ips.toFixed(5)} images/sec.`,
        bar,
      );
      bar?.update(step + 1, `loss ${result.loss.toFixed(4)}`);
      hooks.onStep?.({
        ...entry,
        epochs: config.epochs,
        readerCost,
        batchCost,
        ips,
        numTensors: tf.memory().numTensors,
      });

      const last = step + 1 === config.epochs;
      const evaluate = (config.testEpochs > 0 && (step + 1) % config.testEpochs === 0) || last;
      if (evaluate) {
        const ev = await evaluateNet(net, data.train, data.test, testLabels).catch((err) => {
          throw (err as Error).message.startsWith(NON_FINITE_EMBEDDINGS)
            ? diverged(`the embeddings are not finite at step ${step + 1}`)
            : err;
        });
        entry.auroc = ev.auroc;
        if (!(ev.auroc <= state.bestAuroc)) {
          state.bestAuroc = ev.auroc;
          state.bestStep = step + 1;
          await saveStateDict(net.specs, net.params, paths.best, {
            format: "sspcab-model",
            config: JSON.stringify(config),
            step: String(step + 1),
            auroc: String(ev.auroc),
          });
        }
        await say(
          `Type : ${config.category} Eval [ Epoch ${step + 1}/${config.epochs} ], roc_auc: ${
            ev.auroc.toFixed(5)
          }, ` +
            `max_auc: ${state.bestAuroc.toFixed(5)}`,
          bar,
        );
        hooks.onEval?.({ step: step + 1, auroc: ev.auroc, bestAuroc: state.bestAuroc });
      }
      if (evaluate || (step + 1) % checkpointEvery === 0) {
        state.step = step + 1;
        state.rng = { seed: config.seed, step: step + 1 };
        await saveCheckpoint(paths.checkpoint, net, optimizer, state);
        savedStep = step + 1;
      }
    }
  } catch (err) {
    throw err instanceof WriteFailure ? stopped(err, currentStep) : err;
  } finally {
    source.close();
    bar?.done();
  }
  const steps = state.history.length ? state.history[state.history.length - 1].step : state.step;
  const seconds = (performance.now() - started) / 1000;
  await writeRunInfo(paths.runInfo, {
    name: modelName(config.category),
    config,
    status: steps >= config.epochs ? "done" : "interrupted",
    steps,
    bestAuroc: Number.isFinite(state.bestAuroc) ? state.bestAuroc : null,
    bestStep: state.bestStep,
    seconds,
    history: state.history,
  }).catch((err) => {
    throw err instanceof WriteFailure ? stopped(err, steps) : err;
  });
  optimizer.dispose();
  disposeParams(net.params);
  return {
    name: modelName(config.category),
    steps,
    bestAuroc: state.bestAuroc,
    bestStep: state.bestStep,
    paths,
    seconds,
    history: state.history,
  };
}
