// Tests of the views of notebooks 03–05 (lib/notebook/run_dirs.ts, training_view.ts, eval_view.ts,
// export_view.ts) and of the published AUROC table (lib/eval/published_results.ts), without a Jupyter kernel:
// path handling, the per-block parameter table against the trainer's freezing rule, the live training panel
// fed through the trainer's hooks, ROC/histogram/confusion/misclassified views of a scores file, the error
// gallery, the comparison with the published numbers, and an exported bundle run on more than one backend.
import { join, resolve } from "node:path";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  compareWithPublished,
  PUBLISHED_AUROC,
  PUBLISHED_MEAN,
  PUBLISHED_SOURCES,
} from "../lib/eval/published_results.ts";
import { MVTEC_CATEGORIES } from "../lib/data/mvtec.ts";
import { listCategory } from "../lib/data/mvtec.ts";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { projectPath } from "../lib/notebook/params.ts";
import {
  kernelPath,
  recordedPath,
  requireFittedDensity,
  requireTrainedModel,
  runDirs,
  shownPath,
} from "../lib/notebook/run_dirs.ts";
import {
  createTrainingMonitor,
  formatDuration,
  learningRateFigure,
  liveOutput,
  median,
  modelSummaryTable,
  notebookTrainConfig,
  parameterBlocks,
  runFilesTable,
  trainingPanel,
  trainingSetupTable,
} from "../lib/notebook/training_view.ts";
import {
  closestCalls,
  confusionAt,
  errorGallery,
  loadScores,
  misclassified,
  oursLabel,
  publishedComparisonTable,
  readRunInfo,
  rocFigureFromScores,
  savedPlot,
  scoreHistogramFromScores,
  type ScoresFile,
} from "../lib/notebook/eval_view.ts";
import {
  backendComparisonTable,
  bundleFilesTable,
  bundleMetadataTable,
  evaluationScores,
  frameImage,
  latencyFigure,
  latencySummary,
  maxRelativeDifference,
  pickSampleImages,
  predictionLines,
  verdictGallery,
  verdictText,
} from "../lib/notebook/export_view.ts";
import { type BackendRun, compareBackends } from "../lib/pipeline/compare_backends.ts";
import { bundleOf, type MimeBundle } from "../lib/notebook/display.ts";
import { modelConfigFor, runPaths, TRAIN_DEFAULTS, type TrainConfig } from "../lib/train/config.ts";
import type { StepInfo, TrainResult } from "../lib/train/trainer.ts";
import { countParams } from "../lib/model/params.ts";
import { createProjectionNet, projectionNetSpecs } from "../lib/model/projection_net.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { disposeParams } from "../lib/model/params.ts";
import { fitGaussianDensity } from "../lib/eval/density.ts";
import { fittedModelPath, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { scoresPath } from "../lib/io/scores_file.ts";
import { exportBundle } from "../lib/export/bundle.ts";
import { inferImages, loadBundle } from "../lib/export/infer.ts";
import { createRgbImage } from "../lib/data/rgb_image.ts";
import { renderSvg } from "../lib/plot/svg.ts";
import { createRng } from "../lib/util/rng.ts";
import { UserError } from "../lib/util/errors.ts";

const html = (b: MimeBundle) => b["text/html"] ?? "";
const htmlOf = (d: Parameters<typeof bundleOf>[0]) => html(bundleOf(d));

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...TRAIN_DEFAULTS,
    category: "bottle",
    epochs: 30,
    batchSize: 8,
    size: 128,
    pretrained: null,
    ...overrides,
  };
}

Deno.test("published results: 15 categories, 4 sourced columns, printed means match the per-category values", () => {
  assertEquals(Object.keys(PUBLISHED_AUROC).sort(), [...MVTEC_CATEGORIES].sort());
  assertEquals(PUBLISHED_SOURCES.map((s) => s.key), ["cutpaste", "sspcab", "paddle", "pytorchScratch"]);
  for (const s of PUBLISHED_SOURCES) {
    assert(s.label && s.source && s.setup, `${s.key}: label, source and setup`);
    const values = MVTEC_CATEGORIES.map((c) => PUBLISHED_AUROC[c][s.key]);
    assert(values.every((v) => v >= 50 && v <= 100), `${s.key}: AUROC in %`);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assertAlmostEquals(mean, PUBLISHED_MEAN[s.key], 0.051, `${s.key}: printed mean`);
  }
  assertEquals(PUBLISHED_MEAN.sspcab, 96.1);
  assertEquals(PUBLISHED_AUROC.bottle, { cutpaste: 98.3, sspcab: 98.6, paddle: 100.0, pytorchScratch: 99.6 });
});

Deno.test("published results: compareWithPublished joins ours (0–1) with the published numbers (%)", () => {
  const one = compareWithPublished([{ category: "synthetic_texture", auroc: 0.75 }]);
  assertEquals(one.map((r) => r.kind), ["category", "published-mean"]);
  assertEquals(one[0].ours, 75);
  assertEquals(one[0].published.sspcab, null);
  assertEquals(one[1].ours, null);
  assertEquals(one[1].published.cutpaste, 95.2);

  const two = compareWithPublished([{ category: "bottle", auroc: 1 }, { category: "cable", auroc: 0.5 }]);
  assertEquals(two.map((r) => r.kind), ["category", "category", "mean", "published-mean"]);
  assertEquals(two[0].published.paddle, 100);
  assertEquals(two[2].ours, 75);
  assertAlmostEquals(two[2].published.cutpaste!, (98.3 + 80.6) / 2, 1e-9);

  const mixed = compareWithPublished([{ category: "bottle", auroc: 1 }, {
    category: "synthetic",
    auroc: 0.5,
  }]);
  assertEquals(mixed[2].published.cutpaste, null, "no published mean over a non-MVTec category");

  const all = compareWithPublished(MVTEC_CATEGORIES.map((c) => ({ category: c, auroc: 0.9 })));
  const last = all[all.length - 1];
  assertEquals(last.kind, "published-mean");
  assertAlmostEquals(last.ours!, 90, 1e-9);

  const table = htmlOf(publishedComparisonTable(two, { oursLabel: "ours: 30 steps" }));
  assertStringIncludes(table, "ours: 30 steps");
  assertStringIncludes(table, "CutPaste 3-way + SSPCAB (paper)");
  assertStringIncludes(table, "98.6");
  assertStringIncludes(table, "CVPR 2022");
  const empty = htmlOf(publishedComparisonTable(one));
  assertStringIncludes(empty, "—");
});

Deno.test("run dirs: kernel paths resolve like project paths and display project-relative", async () => {
  for (const p of ["outputs/models", "../shared/data/mvtec-lite", "."]) {
    assertEquals(resolve(kernelPath(p)), projectPath(p), p);
    assertEquals(shownPath(kernelPath(p)), p, p);
  }
  const abs = resolve("/tmp/somewhere");
  assertEquals(kernelPath(abs), abs);
  const dirs = runDirs("outputs", "bottle");
  assertEquals(shownPath(dirs.modelDir), "outputs/models");
  assertEquals(shownPath(dirs.logDir), "outputs/logdirs");
  assertEquals(shownPath(dirs.bundleDir), "outputs/inference/bottle");

  const tmp = await Deno.makeTempDir({ prefix: "sspcab-views-" });
  try {
    const err = await assertRejects(() => requireTrainedModel(tmp, "bottle"), UserError);
    assertStringIncludes(err.message, "model-bottle.safetensors");
    assertStringIncludes((err as UserError).hint ?? "", "notebook 03");
    await assertRejects(() => requireFittedDensity(tmp, "bottle"), UserError, "model-bottle.density.json");
    await Deno.writeTextFile(join(tmp, "model-bottle.safetensors"), "x");
    assertEquals(await requireTrainedModel(tmp, "bottle"), join(tmp, "model-bottle.safetensors"));
    // Paths recorded by the notebooks (relative to the kernel) open as written; others against the root.
    assertEquals(await recordedPath("deno.json"), "deno.json");
    assertEquals(resolve(await recordedPath("lib/mod.ts")), projectPath("lib/mod.ts"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("training view: per-block parameters add up and follow the trainer's freezing rule", () => {
  const scratch = config();
  const blocks = parameterBlocks(scratch);
  assertEquals(blocks.map((b) => b.block), [
    "stem",
    "layer1",
    "layer2",
    "layer3",
    "SSPCAB",
    "layer4",
    "head",
    "out",
  ]);
  const specs = projectionNetSpecs(modelConfigFor(scratch));
  assertEquals(
    blocks.reduce((n, b) => n + b.trainable + b.buffers, 0),
    countParams(specs),
    "every parameter in exactly one block",
  );
  assertEquals(blocks.reduce((n, b) => n + b.tensors, 0), specs.length);
  assertEquals(blocks.find((b) => b.block === "stem")!.trainable, 64 * 3 * 7 * 7 + 2 * 64);
  assertEquals(blocks.find((b) => b.block === "out")!.trainable, 128 * 3 + 3);
  assert(blocks.every((b) => !b.frozenAtStart), "from scratch nothing is frozen");
  assertStringIncludes(htmlOf(modelSummaryTable(scratch)), "from scratch: no freezing");

  const pretrained = config({ pretrained: "weights.safetensors" });
  const frozen = parameterBlocks(pretrained).filter((b) => b.frozenAtStart).map((b) => b.block);
  assertEquals(frozen, ["stem", "layer1", "layer2", "layer3", "layer4"]);
  const table = htmlOf(modelSummaryTable(pretrained));
  assertStringIncludes(table, "steps 1–20");
  assertStringIncludes(table, "frozen");
  assertStringIncludes(table, "128 × 16²"); // layer2 at 128 px: 1/8 of the side
  assertStringIncludes(table, "SE (r = 8) → 256 × 8²"); // SSPCAB at 1/16
  assertStringIncludes(htmlOf(trainingSetupTable(pretrained)), "trunk frozen for the first 20 steps");
});

Deno.test("training view: the notebook config trains from scratch unless the weights file exists", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "sspcab-views-" });
  try {
    const dirs = runDirs(join(tmp, "out"), "bottle");
    const base = { category: "bottle", dataDir: "data", dirs, steps: 12, size: 64, backend: "cpu" };
    const scratch = await notebookTrainConfig({ ...base, pretrained: join(tmp, "missing.safetensors") });
    assertEquals(scratch.pretrained, null);
    assertEquals([scratch.epochs, scratch.batchSize, scratch.testEpochs, scratch.size], [12, 8, 10, 64]);
    assertEquals(scratch.modelDir, dirs.modelDir);
    assertEquals(scratch.lr, TRAIN_DEFAULTS.lr);
    assertStringIncludes(htmlOf(trainingSetupTable(scratch)), "from scratch");
    await Deno.writeTextFile(join(tmp, "w.safetensors"), "x");
    const pre = await notebookTrainConfig({ ...base, pretrained: join(tmp, "w.safetensors"), batchSize: 4 });
    assertEquals(pre.pretrained, join(tmp, "w.safetensors"));
    assertEquals(pre.batchSize, 4);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

function step(n: number, epochs: number): StepInfo {
  return {
    step: n,
    loss: 1.1 - n * 0.01,
    acc: 0.4,
    lr: 0.03,
    epochs,
    readerCost: 0.01,
    batchCost: n === 1 ? 3 : 1,
    ips: 24,
    numTensors: 200,
  };
}

Deno.test("training view: the live panel is fed by the hooks, throttled, and forced on eval and at the end", async () => {
  const shown: MimeBundle[] = [];
  const cfg = config({ epochs: 4, testEpochs: 2 });
  const monitor = createTrainingMonitor(cfg, { intervalMs: 60_000, sink: (b) => shown.push(b) });
  assertEquals(shown.length, 1, "initial panel");
  assertStringIncludes(shown[0]["text/plain"], "starting 4 steps");
  assert(monitor.hooks.quiet, "progress bar off");
  monitor.hooks.onStep!(step(1, 4));
  assertEquals(shown.length, 2, "first update passes the throttle");
  monitor.hooks.onStep!(step(2, 4));
  assertEquals(shown.length, 2, "throttled");
  monitor.hooks.log!("Type : bottle Train [ Epoch 2/4 ], loss: 1.08");
  monitor.hooks.onEval!({ step: 2, auroc: 0.75, bestAuroc: 0.75 });
  assertEquals(shown.length, 3, "forced after an evaluation");
  assertEquals(monitor.history[1].auroc, 0.75);
  const panel = shown[2];
  assertStringIncludes(panel["text/plain"], "step 2/4");
  assertStringIncludes(panel["text/plain"], "best AUROC 0.750 (step 2)");
  assertStringIncludes(html(panel), "<svg");
  assertStringIncludes(html(panel), "Epoch 2/4");
  monitor.hooks.onStep!(step(3, 4));
  monitor.hooks.onStep!(step(4, 4));
  assertEquals(shown.length, 4, "forced at the last step");
  const result: TrainResult = {
    name: "model-bottle",
    steps: 4,
    bestAuroc: 0.75,
    bestStep: 2,
    paths: runPaths({ category: "bottle", modelDir: "m", logDir: "l" }),
    seconds: 6,
    history: monitor.history,
  };
  const summary = htmlOf(await monitor.done(result));
  assertStringIncludes(summary, "0.7500 at step 2");
  assertStringIncludes(summary, "median 1.00 s per step", "first (warm-up) step left out");
  assertStringIncludes(shown[shown.length - 1]["text/plain"], "done");
  assertEquals(monitor.logLines.length, 1);

  const empty = trainingPanel({ config: cfg, history: [], logLines: [], elapsed: 0, done: false });
  assert(!html(empty).includes("<svg"), "no chart before the first step");
});

Deno.test("training view: liveOutput throttles unless forced; small helpers", async () => {
  const seen: string[] = [];
  const out = liveOutput({ "text/plain": "a" }, {
    intervalMs: 60_000,
    sink: (b) => seen.push(b["text/plain"]),
  });
  out.update({ "text/plain": "b" });
  out.update({ "text/plain": "c" });
  out.update({ "text/plain": "d" }, true);
  await out.flush();
  assertEquals(seen, ["a", "b", "d"]);
  assertEquals(formatDuration(4.25), "4.3 s");
  assertEquals(formatDuration(42), "42 s");
  assertEquals(formatDuration(185), "3 min 05 s");
  assertEquals(formatDuration(3720), "1 h 02 min");
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 2, 3]), 2.5);
  assert(Number.isNaN(median([])));
  const fig = learningRateFigure([{ step: 1, loss: 1, acc: 0, lr: 0.03 }, {
    step: 2,
    loss: 1,
    acc: 0,
    lr: 0.02,
  }]);
  assertEquals(fig.data[0].type === "scatter" && fig.data[0].y, [0.03, 0.02]);
  assertStringIncludes(renderSvg(fig), "<svg");
});

Deno.test("training view: the run files table shows project-relative paths and sizes", async () => {
  const name = `outputs/tmp-views-test-${crypto.randomUUID().slice(0, 8)}`;
  const dir = kernelPath(name);
  await Deno.mkdir(dir, { recursive: true });
  try {
    const paths = runPaths({ category: "bottle", modelDir: dir, logDir: dir });
    await Deno.writeFile(paths.best, new Uint8Array(2500));
    const table = htmlOf(await runFilesTable(paths));
    assertStringIncludes(table, `${name}/model-bottle.safetensors`);
    assertStringIncludes(table, "2.5\u00a0kB");
    assertStringIncludes(table, "not written");
    assert(!table.includes(projectPath("outputs")), "no absolute paths");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function scoresFile(): ScoresFile {
  return {
    category: "bottle",
    threshold: 10,
    auroc: 0.75,
    images: [
      { path: "g0.png", defectType: "good", label: 0, score: 5 },
      { path: "g1.png", defectType: "good", label: 0, score: 12 },
      { path: "g2.png", defectType: "good", label: 0, score: 11 },
      { path: "d0.png", defectType: "crack", label: 1, score: 20 },
      { path: "d1.png", defectType: "crack", label: 1, score: 3 },
      { path: "d2.png", defectType: "hole", label: 1, score: 9 },
    ],
  };
}

Deno.test("eval view: confusion counts, misclassified worst first, closest calls, ROC and histogram figures", () => {
  const f = scoresFile();
  assertEquals(confusionAt(f), { tp: 1, fp: 2, tn: 1, fn: 2 });
  const m = misclassified(f);
  assertEquals(m.falsePositives.map((i) => i.path), ["g1.png", "g2.png"]);
  assertEquals(m.falseNegatives.map((i) => i.path), ["d1.png", "d2.png"]);
  const c = closestCalls(f, 1);
  assertEquals([c.falsePositives[0].path, c.falseNegatives[0].path], ["g1.png", "d1.png"]);
  const roc = rocFigureFromScores([f]);
  assertStringIncludes(String(roc.data[0].name), "AUC = 0.750");
  assertStringIncludes(renderSvg(roc), "<svg");
  const hist = scoreHistogramFromScores(f);
  assertEquals(hist.data.map((t) => t.name), ["good (3)", "crack (2)", "hole (1)"]);
  assertEquals(hist.layout.shapes?.[0].x0, 10);
});

Deno.test("eval view: scores file, run info and saved plots are read with clear errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab-views-" });
  try {
    await assertRejects(() => loadScores(dir, "bottle"), UserError, "scores of bottle");
    await assertRejects(() => savedPlot(dir, "bottle", "tsne.png"), UserError, "tsne.png");
    await Deno.writeTextFile(scoresPath(dir, "bottle"), JSON.stringify(scoresFile()));
    assertEquals((await loadScores(dir, "bottle")).threshold, 10);
    assertEquals(await readRunInfo(dir, "bottle"), null);
    assertEquals(oursLabel(null, "synthetic data"), "ours (synthetic data)");
    await Deno.writeTextFile(
      join(dir, "model-bottle.json"),
      JSON.stringify({ steps: 30, bestStep: 20, config: config() }),
    );
    const info = await readRunInfo(dir, "bottle");
    assertEquals(oursLabel(info, "lite"), "ours: 30 steps from scratch, 128 px, lite");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval view: the error gallery shows misclassified images, or says there are none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab-views-" });
  try {
    await generateSyntheticDataset(dir, {
      categories: ["synthetic_object"],
      size: 32,
      trainCount: 2,
      testGoodCount: 2,
      testBadCount: 1,
    });
    const test = (await listCategory(dir, "synthetic_object")).filter((r) => r.split === "test");
    const scored = (scores: (r: (typeof test)[number]) => number): ScoresFile => ({
      category: "synthetic_object",
      threshold: 10,
      auroc: 1,
      images: test.map((r) => ({ path: r.path, defectType: r.defectType, label: r.label, score: scores(r) })),
    });
    const errors = htmlOf(await errorGallery(scored((r) => (r.label ? 5 : 15)), { dataDir: dir, size: 32 }));
    assertStringIncludes(errors, "2 false positives");
    assertStringIncludes(errors, "data:image/png;base64,");
    assertStringIncludes(errors, "false negatives");
    const perfect = htmlOf(await errorGallery(scored((r) => (r.label ? 15 : 5)), { dataDir: dir, size: 32 }));
    assertStringIncludes(perfect, "No false positives and no false negatives");
    assertStringIncludes(perfect, "closest calls");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export view: frames, verdicts, differences and the comparison table", () => {
  const img = createRgbImage(8, 8);
  const framed = frameImage(img, [255, 0, 0], 2);
  assertEquals([...framed.data.slice(0, 3)], [255, 0, 0]);
  const inner = (3 * 8 + 3) * 3;
  assertEquals([...framed.data.slice(inner, inner + 3)], [0, 0, 0]);
  assertEquals(img.data[0], 0, "input unchanged");
  const p = { path: "a.png", score: 12.345, threshold: 10, anomalous: true };
  assertEquals(verdictText(p), "ANOMALOUS · 12.35 ≥ 10.00");
  assertEquals(verdictText({ ...p, score: 2, anomalous: false }), "NORMAL · 2.00 < 10.00");
  assertAlmostEquals(maxRelativeDifference([1.001, 2], [1, 2]), 0.001, 1e-12);
  assert(Number.isNaN(maxRelativeDifference([NaN], [1])));
  assertEquals(
    evaluationScores({
      ...scoresFile(),
      images: [{ path: "./x.png", defectType: "good", label: 0, score: 7 }],
    }, [
      "x.png",
      "y.png",
    ]).map(String),
    ["7", "NaN"],
  );
  const runs: BackendRun[] = [
    {
      backend: "wasm",
      available: true,
      device: "XNNPACK",
      loadMs: 120,
      medianMs: 80.4,
      timesMs: [80, 81],
      predictions: [p, { ...p, score: 3, anomalous: false }],
    },
    {
      backend: "webgpu",
      available: false,
      device: "no adapter",
      loadMs: NaN,
      medianMs: NaN,
      timesMs: [],
      predictions: [],
    },
  ];
  const table = htmlOf(
    backendComparisonTable(runs, {
      imageLabels: ["good", "crack"],
      reference: { label: "eval", scores: [12.345, 3] },
    }),
  );
  assertStringIncludes(table, "not available: no adapter");
  assertStringIncludes(table, "12.3450 (anomalous)");
  assertStringIncludes(table, "80.4 ms (2 runs)");
  assertMatch(table, /0\.0e\+0|0e\+0/);
  assertEquals(latencySummary(runs), "wasm 80 ms");
  assertEquals(latencyFigure(runs).data[0].type, "bar");
  assertStringIncludes(
    bundleOf(predictionLines([p]))["text/markdown"],
    "data is anomalous, score is 12.345000",
  );
});

Deno.test("export view: a bundle exported, scored on two backends (one unavailable), views rendered", async () => {
  await initBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "sspcab-views-" });
  try {
    const data = join(dir, "data");
    await generateSyntheticDataset(data, {
      categories: ["synthetic_texture"],
      size: 32,
      trainCount: 2,
      testGoodCount: 1,
      testBadCount: 1,
    });
    const samples = await pickSampleImages(data, "synthetic_texture");
    assertEquals([samples.normal.label, samples.defective.label], [0, 1]);
    await assertRejects(() => pickSampleImages(data, "missing"));

    const modelDir = join(dir, "models");
    const cfg = config({ category: "synthetic_texture", size: 32, modelDir, dataDir: data });
    const net = createProjectionNet(modelConfigFor(cfg), 0);
    const modelPath = runPaths({ ...cfg, logDir: "" }).best;
    await saveStateDict(net.specs, net.params, modelPath, {
      format: "sspcab-model",
      config: JSON.stringify(cfg),
      step: "1",
      auroc: "0.5",
    });
    disposeParams(net.params);
    const rng = createRng(3);
    const rows = Array.from({ length: 6 }, () => Array.from({ length: 512 }, () => rng.normal()));
    await saveFittedModel(fittedModelPath(modelDir, "synthetic_texture"), {
      category: "synthetic_texture",
      imageSize: 32,
      density: fitGaussianDensity(rows, { l2Normalize: true }),
      threshold: 1,
      auroc: 0.5,
    });
    const bundleDir = join(dir, "bundle");
    const exported = await exportBundle({ modelPath, category: "synthetic_texture", outDir: bundleDir });
    assertStringIncludes(htmlOf(await bundleFilesTable(exported.files)), "model.json");
    assertStringIncludes(htmlOf(bundleMetadataTable(exported.metadata)), "32×32 RGB");

    const images = [samples.normal.path, samples.defective.path];
    const bundle = await loadBundle(bundleDir);
    const direct = await inferImages(bundle, images);
    bundle.model.dispose();
    const runs = await compareBackends({
      bundleDir,
      images,
      backends: ["cpu", "tensorflow"],
      runs: 2,
      restore: "cpu",
    });
    assertEquals(runs.map((r) => [r.backend, r.available]), [["cpu", true], ["tensorflow", false]]);
    assertEquals(runs[0].timesMs.length, 2);
    assert(runs[0].medianMs > 0);
    runs[0].predictions.forEach((pr, i) =>
      assertAlmostEquals(pr.score, direct[i].score, 1e-4 * direct[i].score)
    );
    assertStringIncludes(runs[1].device, "tensorflow");
    assertEquals((await initBackend("auto")).name, "cpu", "backend restored");
    const gallery = await verdictGallery(direct, {
      size: 32,
      truths: ["good", samples.defective.defectType],
    });
    assertEquals([...gallery.bytes.slice(1, 4)].map((b) => String.fromCharCode(b)).join(""), "PNG");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
