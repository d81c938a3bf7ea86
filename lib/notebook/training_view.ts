/**
 * The training notebook's views: the backend in use, the run's configuration, the network's parameters per
 * block (and which are frozen at the start), a live panel — status line, loss/accuracy/AUROC curves and the
 * latest log lines — that updates in place while `trainCategory` runs, and tables of the outcome and the
 * files written.
 * @module
 */
import { median } from "../util/stats.ts";
import type { BackendInfo } from "../backend/mod.ts";
import { modelConfigFor, type RunPaths, TRAIN_DEFAULTS, type TrainConfig } from "../train/config.ts";
import type { HistoryEntry } from "../train/checkpoint.ts";
import type { StepInfo, TrainHooks, TrainResult } from "../train/trainer.ts";
import { projectionNetSpecs, trainableNames } from "../model/projection_net.ts";
import { countParams, type ParamSpec } from "../model/params.ts";
import { type Figure, lossCurveFigure, PALETTE } from "../plot/figure.ts";
import { renderSvg } from "../plot/svg.ts";
import { type Displayable, escapeHtml, html, htmlTable, type MimeBundle, type TableCell } from "./display.ts";
import { inJupyter } from "./progress.ts";
import { kernelPath, type RunDirs, shownPath } from "./run_dirs.ts";
import { projectPath } from "./params.ts";

/** Seconds as `42 s`, `3 min 05 s` or `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A table of the active compute backend: its name, the device, and why faster ones were skipped. */
export function backendSummary(info: BackendInfo): Displayable {
  const rows: TableCell[][] = [
    ["backend", info.name],
    ["device", info.device],
    ["trains", info.canTrain ? "yes" : "no (inference only)"],
    ...info.skipped.map((s): TableCell[] => ["skipped", s]),
  ];
  const plain = rows.map((r) => r.join(": ")).join("\n");
  return html(htmlTable(["", "compute backend"], rows, { align: ["left", "left"] }), plain);
}

/** The notebook's choices for a training run; the rest comes from {@link TRAIN_DEFAULTS}. */
export interface NotebookTrainOptions {
  /** Category to train. */
  category: string;
  /** The data folder, as a {@link kernelPath}. */
  dataDir: string;
  /** The run's folders ({@link runDirs}). */
  dirs: RunDirs;
  /** Training steps (`SSPCAB_STEPS`). */
  steps: number;
  /** Image side (`SSPCAB_SIZE`). */
  size: number;
  /** Backend choice as given (`SSPCAB_BACKEND`), recorded in the configuration. */
  backend: string;
  /** Items per batch (default 8, i.e. 24 images for 3-way; the reference uses 96). */
  batchSize?: number;
  /** Evaluate the AUROC and keep the best model every this many steps (default 10, as the reference). */
  testEvery?: number;
  /** ImageNet ResNet18 weights, project-relative (default: the path of `deno task weights`). */
  pretrained?: string;
}

/**
 * The training configuration of the notebook: the reference's defaults with the notebook's category, data,
 * steps, size, batch size and folders; ImageNet weights when the file exists (the trunk is then frozen
 * for the first `freezeResnet` steps), else training from scratch.
 */
export async function notebookTrainConfig(options: NotebookTrainOptions): Promise<TrainConfig> {
  const weights = options.pretrained ?? TRAIN_DEFAULTS.pretrained ?? "";
  const havePretrained = weights !== "" &&
    await Deno.stat(projectPath(weights)).then((s) => s.isFile, () => false);
  return {
    ...TRAIN_DEFAULTS,
    category: options.category,
    dataDir: options.dataDir,
    modelDir: options.dirs.modelDir,
    logDir: options.dirs.logDir,
    epochs: options.steps,
    testEpochs: options.testEvery ?? 10,
    batchSize: options.batchSize ?? 8,
    size: options.size,
    backend: options.backend,
    pretrained: havePretrained ? kernelPath(weights) : null,
  };
}

/** A table of the run's settings, each with what it means. */
export function trainingSetupTable(config: TrainConfig): Displayable {
  const imagesPerBatch = config.batchSize * (config.variant === "3way" ? 3 : 2);
  const rows: TableCell[][] = [
    ["category", config.category, `data: ${shownPath(config.dataDir)}`],
    ["steps", config.epochs, "one batch each (the reference's “epochs”; it trains 500)"],
    [
      "batch",
      `${config.batchSize} items → ${imagesPerBatch} images`,
      "each item gives an original, a CutPaste and a scar image (the reference: 96 items)",
    ],
    ["image size", `${config.size}×${config.size}`, "bicubic resize, ImageNet normalisation"],
    [
      "optimiser",
      `${config.optim.toUpperCase()}, lr ${config.lr}, momentum ${config.momentum}`,
      `weight decay ${config.weightDecay}`,
    ],
    ["lr schedule", config.schedule, "paddle-cosine: cosine with T_max = 10, stepped per step (period 20)"],
    [
      "initialisation",
      config.pretrained ? "ImageNet ResNet18" : "from scratch",
      config.pretrained
        ? `${shownPath(config.pretrained)}; trunk frozen for the first ${config.freezeResnet} steps`
        : `no weights at ${TRAIN_DEFAULTS.pretrained} (\`deno task weights\` fetches them): random init`,
    ],
    [
      "SSPCAB",
      config.sspcab ? `on, λ = ${config.sspcabLambda}` : "off",
      "loss = cross-entropy + λ · MSE(SSPCAB(x), x)",
    ],
    ["test every", config.testEpochs ? `${config.testEpochs} steps` : "end only", "AUROC on the test set"],
    ["seed", config.seed, "model init, data order and augmentation"],
  ];
  const plain = rows.map((r) => r.join(" | ")).join("\n");
  return html(
    htmlTable(["setting", "value", "meaning"], rows, {
      caption: "Training run",
      align: ["left", "left", "left"],
    }),
    plain,
  );
}

/** One block of the network in {@link parameterBlocks}. */
export interface BlockRow {
  /** Block name (data-flow order). */
  block: string;
  /** What it does and the shape it outputs. */
  description: string;
  /** Parameter tensors (weights, biases, BatchNorm affine and running statistics). */
  tensors: number;
  /** Trainable values. */
  trainable: number;
  /** BatchNorm running statistics (buffers: updated in training mode, not by the optimiser). */
  buffers: number;
  /** Whether its trainable values are frozen during the first `freezeResnet` steps. */
  frozenAtStart: boolean;
}

const BLOCK_ORDER = ["stem", "layer1", "layer2", "layer3", "SSPCAB", "layer4", "head", "out"] as const;

function blockOf(name: string): (typeof BLOCK_ORDER)[number] {
  if (name.startsWith("SSPCAB.")) return "SSPCAB";
  if (name.startsWith("head.")) return "head";
  if (name.startsWith("out.")) return "out";
  const m = /^resnet18\.(layer[1-4])\./.exec(name);
  return m ? m[1] as (typeof BLOCK_ORDER)[number] : "stem";
}

/**
 * The network's parameters per block, in data-flow order (stem = conv1 + bn1, layer1…layer3, SSPCAB,
 * layer4, head, out), with which blocks are frozen during the first `freezeResnet` steps — decided by the
 * trainer's own rule (`trainableNames`), so the table cannot drift from what training does.
 */
export function parameterBlocks(config: TrainConfig): BlockRow[] {
  const netConfig = modelConfigFor(config);
  const specs = projectionNetSpecs(netConfig);
  const frozenRule = config.pretrained !== null && config.freezeResnet > 0;
  const trainable = new Set(trainableNames({ config: netConfig, specs, params: new Map() }, frozenRule));
  const size = config.size;
  const s = (f: number) => `${Math.max(1, Math.ceil(size / f))}²`;
  const head = netConfig.headLayers.map((w) => `Linear → ${w}, BN1d, ReLU`).join("; ");
  const sspcab = netConfig.sspcab;
  const descriptions: Record<(typeof BLOCK_ORDER)[number], string> = {
    stem: `conv1 7×7/2, bn1, ReLU, max-pool 3×3/2 → 64 × ${s(4)}`,
    layer1: `2 basic blocks → 64 × ${s(4)}`,
    layer2: `2 basic blocks, stride 2 → 128 × ${s(8)}`,
    layer3: `2 basic blocks, stride 2 → 256 × ${s(16)}`,
    SSPCAB: sspcab
      ? `masked conv (k = ${sspcab.kernelDim}, d = ${sspcab.dilation}) + SE (r = ${sspcab.reductionRatio}) → 256 × ${
        s(16)
      }`
      : "off",
    layer4: `2 basic blocks, stride 2 → 512 × ${s(32)}, average pool → 512-d embedding`,
    head: head || "(no hidden layers)",
    out: `Linear → ${netConfig.numClasses} logits`,
  };
  const byBlock = new Map<string, ParamSpec[]>();
  for (const spec of specs) {
    byBlock.set(blockOf(spec.name), [...(byBlock.get(blockOf(spec.name)) ?? []), spec]);
  }
  return BLOCK_ORDER.filter((b) => byBlock.has(b)).map((block) => {
    const list = byBlock.get(block)!;
    const learnable = list.filter((p) => p.kind !== "buffer");
    return {
      block,
      description: descriptions[block],
      tensors: list.length,
      trainable: countParams(learnable),
      buffers: countParams(list, (p) => p.kind === "buffer"),
      frozenAtStart: learnable.length > 0 && learnable.every((p) => !trainable.has(p.name)),
    };
  });
}

/** The per-block table of {@link parameterBlocks} with a total row. */
export function modelSummaryTable(config: TrainConfig): Displayable {
  const blocks = parameterBlocks(config);
  const frozen = config.pretrained !== null && config.freezeResnet > 0;
  const status = (b: BlockRow) => frozen ? (b.frozenAtStart ? "frozen" : "trains") : "trains";
  const rows: TableCell[][] = blocks.map((b) => [
    b.block,
    b.description,
    b.tensors,
    b.trainable.toLocaleString("en-US"),
    b.buffers.toLocaleString("en-US"),
    status(b),
  ]);
  const sum = (f: (b: BlockRow) => number) => blocks.reduce((n, b) => n + f(b), 0);
  const frozenValues = sum((b) => (frozen && b.frozenAtStart ? b.trainable : 0));
  rows.push([
    "total",
    frozen ? `${frozenValues.toLocaleString("en-US")} values frozen at the start` : "",
    sum((b) => b.tensors),
    sum((b) => b.trainable).toLocaleString("en-US"),
    sum((b) => b.buffers).toLocaleString("en-US"),
    "",
  ]);
  const firstSteps = frozen
    ? `steps 1–${config.freezeResnet}`
    : `steps 1–${config.freezeResnet} (from scratch: no freezing)`;
  const caption = `ProjectionNet at ${config.size}×${config.size}: parameters per block`;
  const plain = rows.map((r) => r.join(" | ")).join("\n");
  return html(
    htmlTable(
      ["block", "what it does → output", "tensors", "trainable values", "BN buffers", firstSteps],
      rows,
      {
        caption,
        align: ["left", "left", "right", "right", "right", "left"],
        boldRows: [rows.length - 1],
      },
    ),
    plain,
  );
}

/** A Jupyter output that can be replaced in place (a `display_id`); a no-op outside the kernel. */
export interface LiveOutput {
  /** Replace the shown bundle (at most every `intervalMs` unless `force`). */
  update(bundle: MimeBundle, force?: boolean): void;
  /** Wait until every update has been sent. */
  flush(): Promise<void>;
}

/**
 * Show `initial` as a notebook output that {@link LiveOutput.update} replaces in place (Deno's
 * `Deno.jupyter.display(…, { display_id, update: true })`); updates closer than `intervalMs` apart are
 * dropped unless forced. Outside the kernel, or with a `sink`, bundles go to `sink` (or nowhere).
 */
export function liveOutput(
  initial: MimeBundle,
  options: { intervalMs?: number; sink?: (bundle: MimeBundle) => void } = {},
): LiveOutput {
  const interval = options.intervalMs ?? 1000;
  const sink = options.sink;
  const jupyter = !sink && inJupyter();
  const displayId = `sspcab-live-${crypto.randomUUID()}`;
  let last = -Infinity;
  let pending: Promise<void> = Promise.resolve();
  const send = (bundle: MimeBundle, update: boolean) => {
    if (sink) sink(bundle);
    else if (jupyter) {
      pending = pending.then(() => Deno.jupyter.display(bundle, { raw: true, display_id: displayId, update }))
        .catch(() => {});
    }
  };
  send(initial, false);
  return {
    update(bundle, force = false) {
      const now = performance.now();
      if (!force && now - last < interval) return;
      last = now;
      send(bundle, true);
    },
    flush: () => pending,
  };
}

/** What the live training panel shows. */
export interface TrainingPanelState {
  /** The run's configuration. */
  config: TrainConfig;
  /** Steps so far (with `auroc` on evaluated steps). */
  history: HistoryEntry[];
  /** The latest step's details. */
  last?: StepInfo;
  /** Best AUROC so far and its step. */
  best?: { auroc: number; step: number };
  /** Latest log lines of the trainer. */
  logLines: string[];
  /** Seconds since training started. */
  elapsed: number;
  /** Whether training has ended. */
  done: boolean;
}

/** The training curves for the panel: loss, batch accuracy and test AUROC over the whole run's x range. */
export function trainingFigure(state: Pick<TrainingPanelState, "config" | "history">): Figure {
  const fig = lossCurveFigure(
    state.history,
    `${state.config.category}: training (${state.config.epochs} steps)`,
    { width: 760, height: 400 },
  );
  fig.layout.xaxis = { ...fig.layout.xaxis, range: [0, Math.max(2, state.config.epochs)] };
  return fig;
}

/** The status line of the panel: step, loss, accuracy, lr, speed, time left, AUROC. */
export function trainingStatus(state: TrainingPanelState): string {
  const c = state.config;
  const s = state.last;
  if (!s) return `${c.category}: loading images and starting ${c.epochs} steps…`;
  const perStep = state.elapsed / Math.max(1, s.step);
  const left = state.done ? "done" : `about ${formatDuration(perStep * (c.epochs - s.step))} left`;
  const best = state.best ? ` · best AUROC ${state.best.auroc.toFixed(3)} (step ${state.best.step})` : "";
  return `step ${s.step}/${c.epochs} · loss ${s.loss.toFixed(4)} · batch acc ${
    (s.acc * 100).toFixed(0)
  }% · ` +
    `lr ${s.lr.toPrecision(3)} · ${s.batchCost.toFixed(2)} s/step (${s.ips.toFixed(1)} img/s) · ` +
    `${formatDuration(state.elapsed)} elapsed, ${left}${best} · ${s.numTensors} live tensors`;
}

/** The panel's MIME bundle: status line, the curves as inline SVG, and the last log lines. */
export function trainingPanel(state: TrainingPanelState): MimeBundle {
  const status = trainingStatus(state);
  const svg = state.history.length ? renderSvg(trainingFigure(state)) : "";
  const log = state.logLines.length
    ? `<pre style="margin:4px 0;font-size:11px;color:#57606a;white-space:pre-wrap">${
      escapeHtml(state.logLines.join("\n"))
    }</pre>`
    : "";
  return {
    "text/html": `<div class="sspcab-training"><div style="font:13px monospace;padding:2px 0">${
      escapeHtml(status)
    }</div>${svg}${log}</div>`,
    "text/plain": status,
  };
}

/** A live training display and the hooks that feed it. */
export interface TrainingMonitor {
  /** Pass as `trainCategory(config, { hooks })`. */
  hooks: TrainHooks;
  /** The steps seen so far. */
  history: HistoryEntry[];
  /** Every log line of the trainer (the reference's format), also written to `train.log`. */
  logLines: string[];
  /** Show the final state, wait for the display, and return the summary table of `result`. */
  done(result: TrainResult): Promise<Displayable>;
}

/**
 * A live panel (status, curves, last log lines) updated in place from the trainer's hooks: at most every
 * `intervalMs` (default 1000) and always after an evaluation and at the last step. Progress bars and
 * console output are switched off; the log lines appear in the panel and in `train.log`.
 */
export function createTrainingMonitor(
  config: TrainConfig,
  options: { intervalMs?: number; sink?: (bundle: MimeBundle) => void; logLinesShown?: number } = {},
): TrainingMonitor {
  const started = performance.now();
  const state: TrainingPanelState = { config, history: [], logLines: [], elapsed: 0, done: false };
  const allLines: string[] = [];
  const stepSeconds: number[] = [];
  const shown = options.logLinesShown ?? 2;
  const out = liveOutput(trainingPanel(state), { intervalMs: options.intervalMs, sink: options.sink });
  const refresh = (force: boolean) => {
    state.elapsed = (performance.now() - started) / 1000;
    out.update(trainingPanel(state), force);
  };
  const hooks: TrainHooks = {
    quiet: true,
    log(line) {
      allLines.push(line);
      state.logLines = allLines.slice(-shown);
    },
    onStep(info) {
      state.last = info;
      stepSeconds.push(info.batchCost);
      state.history.push({ step: info.step, loss: info.loss, acc: info.acc, lr: info.lr });
      refresh(info.step >= config.epochs);
    },
    onEval(info) {
      const entry = state.history.find((h) => h.step === info.step);
      if (entry) entry.auroc = info.auroc;
      if (Number.isFinite(info.bestAuroc) && (!state.best || info.bestAuroc !== state.best.auroc)) {
        state.best = { auroc: info.bestAuroc, step: info.step };
      }
      refresh(true);
    },
  };
  return {
    hooks,
    history: state.history,
    logLines: allLines,
    async done(result) {
      state.done = true;
      if (Number.isFinite(result.bestAuroc)) state.best = { auroc: result.bestAuroc, step: result.bestStep };
      refresh(true);
      await out.flush();
      return trainingSummaryTable(result, state.history, stepSeconds);
    },
  };
}

export { median } from "../util/stats.ts";

/**
 * A table of a finished run: steps, time, speed (median seconds per step over `stepSeconds`, the first step
 * — which includes warm-up — left out when there are others), final loss/accuracy and the best AUROC.
 */
export function trainingSummaryTable(
  result: TrainResult,
  history: readonly HistoryEntry[] = result.history,
  stepSeconds: readonly number[] = [],
): Displayable {
  const last = history[history.length - 1];
  const typical = median(stepSeconds.length > 1 ? stepSeconds.slice(1) : stepSeconds);
  const rows: TableCell[][] = [
    ["steps", String(result.steps)],
    [
      "time",
      formatDuration(result.seconds) +
      (Number.isFinite(typical) ? ` (median ${typical.toFixed(2)} s per step)` : ""),
    ],
    ["final loss", last ? last.loss.toFixed(4) : "—"],
    ["final batch accuracy", last ? `${(last.acc * 100).toFixed(1)}%` : "—"],
    [
      "best test AUROC",
      Number.isFinite(result.bestAuroc) ? `${result.bestAuroc.toFixed(4)} at step ${result.bestStep}` : "—",
    ],
  ];
  const plain = rows.map((r) => r.join(": ")).join("\n");
  return html(htmlTable(["", `training of ${result.name}`], rows, { align: ["left", "left"] }), plain);
}

/** The learning rate per step: the schedule as it was applied. */
export function learningRateFigure(history: readonly HistoryEntry[], schedule = ""): Figure {
  return {
    data: [{
      type: "scatter",
      mode: history.length > 1 ? "lines+markers" : "markers",
      name: "learning rate",
      x: history.map((h) => h.step),
      y: history.map((h) => h.lr),
      line: { color: PALETTE[3], width: 1.5 },
      marker: { color: PALETTE[3], size: 4 },
    }],
    layout: {
      title: { text: `Learning rate per step${schedule ? ` (${schedule})` : ""}` },
      xaxis: { title: { text: "Step" } },
      yaxis: { title: { text: "Learning rate" } },
      width: 640,
      height: 300,
      showlegend: false,
    },
  };
}

async function fileSize(path: string): Promise<string> {
  try {
    const bytes = (await Deno.stat(path)).size;
    return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)}\u00a0MB` : `${(bytes / 1e3).toFixed(1)}\u00a0kB`;
  } catch {
    return "not written";
  }
}

/** The files a training run wrote (best model, checkpoint, run information, log) with sizes and roles. */
export async function runFilesTable(paths: RunPaths): Promise<Displayable> {
  const files: [string, string, string][] = [
    [
      "best model",
      paths.best,
      "weights at the best test AUROC (safetensors, PyTorch names, config in metadata)",
    ],
    ["checkpoint", paths.checkpoint, "weights + optimiser state + step + RNG: resuming continues from it"],
    ["run info", paths.runInfo, "configuration, status, best AUROC and the per-step history (JSON)"],
    ["log", paths.log, "the reference's log lines (loss, reader/batch cost, images/s, AUROC)"],
  ];
  const rows: TableCell[][] = [];
  for (const [what, path, role] of files) {
    rows.push([what, { html: `<code>${escapeHtml(shownPath(path))}</code>` }, await fileSize(path), role]);
  }
  const plain = files.map(([w, p]) => `${w}: ${shownPath(p)}`).join("\n");
  return html(
    htmlTable(["file", "path", "size", "what it holds"], rows, { align: ["left", "left", "right", "left"] }),
    plain,
  );
}
