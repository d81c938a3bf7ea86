/**
 * The training loop of one category: CutPaste batches from a worker, ProjectionNet forward/backward, SGD/Adam
 * with the reference schedule, the trunk frozen for the first `freeze_resnet` steps (when pretrained), the
 * reference's log lines, periodic AUROC with the best model kept, atomic checkpoints and resume, and a clear
 * stop on a NaN/Inf loss.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.ts";
import { basename, dirname, join } from "@std/path";
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
import { type CheckpointState, type HistoryEntry, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { writeJsonAtomic } from "../io/atomic_write.ts";
import { UserError } from "../util/errors.ts";
import { checkPatchSizeForModel } from "../localize/patch.ts";
import { createProgress } from "../util/progress.ts";

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
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, line + "\n", { append: true });
}

/** Remove temp files of atomic writes to `path` that a killed run left behind (`<path>.<pid>.<id>.tmp`). */
async function removeStaleTempFiles(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith(prefix) && e.name.endsWith(".tmp")) {
        await Deno.remove(join(dir, e.name));
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): Promise<number> {
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

/** Train one category end to end (see the module doc). Resumes from the checkpoint when `resume` is set. */
export async function trainCategory(
  config: TrainConfig,
  options: { resume?: boolean; data?: CategoryImages; hooks?: TrainHooks } = {},
): Promise<TrainResult> {
  const hooks = options.hooks ?? {};
  const started = performance.now();
  const paths = runPaths(config);
  const say = async (line: string, bar?: ReturnType<typeof createProgress>) => {
    if (hooks.log) hooks.log(line);
    else if (bar) bar.log(line);
    else console.log(line);
    await appendLog(paths.log, line);
  };

  const data = options.data ??
    await loadCategoryImages(config.dataDir, config.category, config.size, { quiet: hooks.quiet });
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
  await removeStaleTempFiles(paths.checkpoint);
  const hasCheckpoint = await Deno.stat(paths.checkpoint).then(() => true, () => false);
  if (options.resume && hasCheckpoint) {
    state = await loadCheckpoint(paths.checkpoint, net, optimizer, config);
    await say(
      `Type : ${config.category} resumed from ${paths.checkpoint} at step ${state.step}/${config.epochs}`,
    );
  } else {
    if (config.pretrained) await loadPretrained(net, config.pretrained);
    await Deno.remove(paths.log).catch(() => {});
  }
  await writeJsonAtomic(paths.runInfo, { name: modelName(config.category), config, status: "training" });

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
        `(${state.step ? `step ${state.step}` : "none yet"}) is kept at ${paths.checkpoint}`,
      "lower --lr (e.g. half), or check the input images; continue from the checkpoint with --resume",
    );
  let stepsThisCall = 0;
  const checkpointEvery = config.testEpochs > 0 ? config.testEpochs : 10;

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
      }
    }
  } finally {
    source.close();
    bar?.done();
  }
  const steps = state.history.length ? state.history[state.history.length - 1].step : state.step;
  const seconds = (performance.now() - started) / 1000;
  await writeJsonAtomic(paths.runInfo, {
    name: modelName(config.category),
    config,
    status: steps >= config.epochs ? "done" : "interrupted",
    steps,
    bestAuroc: Number.isFinite(state.bestAuroc) ? state.bestAuroc : null,
    bestStep: state.bestStep,
    seconds,
    history: state.history,
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
