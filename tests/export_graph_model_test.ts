/**
 * The TensorFlow.js graph-model export: a random ProjectionNet with random BatchNorm statistics (so folding is
 * really exercised) is exported, written, loaded back with `tf.loadGraphModel`, and its `embedding`, `score`
 * and `logits` outputs are compared with the library's own forward pass and a float64 Mahalanobis score, on
 * the cpu and wasm backends (the same files), fused and unfused.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetEmbed,
  projectionNetForward,
} from "../lib/model/projection_net.ts";
import { disposeParams } from "../lib/model/params.ts";
import { createRng } from "../lib/util/rng.ts";
import {
  buildGraphModel,
  foldBatchNorm,
  GRAPH_MODEL_WEIGHTS_FILE,
  type GraphDensity,
  type GraphModelArtifacts,
} from "../lib/export/graph_model.ts";
import {
  loadGraphModelFromArtifacts,
  loadGraphModelFromDir,
  manifestByteLength,
  MODEL_JSON_FILE,
  writeGraphModel,
} from "../lib/export/bundle_io.ts";

const SIZE = 64;
const BATCH = 3;
const DIM = 512;
const ABS = 1e-4;
const REL = 1e-4;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

await initBackend("cpu");
const rng = createRng(7);
const net = createProjectionNet(defaultProjectionNetConfig(), 3);

// Random BatchNorm affine parameters and running statistics.
for (const spec of net.specs) {
  if (!spec.name.endsWith(".running_mean")) continue;
  const bn = spec.name.slice(0, -".running_mean".length);
  const n = spec.shape[0];
  const fill = (f: () => number) => tf.tensor1d(Float32Array.from({ length: n }, f));
  for (
    const [suffix, f] of [
      ["weight", () => rng.uniform(0.5, 1.5)],
      ["bias", () => 0.2 * rng.normal()],
      ["running_mean", () => 0.2 * rng.normal()],
      ["running_var", () => rng.uniform(0.5, 2)],
    ] as const
  ) {
    const t = fill(f);
    net.params.get(`${bn}.${suffix}`)!.assign(t);
    t.dispose();
  }
}

// Raw RGB input in 0…255 and its ImageNet normalisation.
const raw = Float32Array.from({ length: BATCH * SIZE * SIZE * 3 }, () => rng.int(0, 255));
const normalized = Float32Array.from(raw, (v, i) => (v / 255 - MEAN[i % 3]) / STD[i % 3]);

// Reference outputs from the library's eval-mode forward pass on cpu.
const xNorm = tf.tensor4d(normalized, [BATCH, SIZE, SIZE, 3]);
const embedRef = await (() => {
  const e = projectionNetEmbed(net, xNorm);
  return e.data().finally(() => e.dispose());
})() as Float32Array;
const logitsRef = await (() => {
  const out = projectionNetForward(net, xNorm, { training: false });
  return out.logits.data().finally(() => tf.dispose(out));
})() as Float32Array;
xNorm.dispose();

// A Gaussian density: a mean near the normalised embeddings and a random SPD precision B·Bᵀ/d + 0.1·I.
function l2Normalize(row: ArrayLike<number>): Float64Array {
  const norm = Math.sqrt(Array.from(row).reduce((s, v) => s + v * v, 0));
  return Float64Array.from(row, (v) => v / Math.max(norm, 1e-12));
}
const mean = l2Normalize(embedRef.subarray(0, DIM)).map((v) => 0.9 * v + 0.01 * rng.normal());
const b = Float64Array.from({ length: DIM * DIM }, () => rng.normal());
const precision = new Float64Array(DIM * DIM);
for (let i = 0; i < DIM; i++) {
  for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = 0; k < DIM; k++) s += b[i * DIM + k] * b[j * DIM + k];
    precision[i * DIM + j] = precision[j * DIM + i] = s / DIM + (i === j ? 0.1 : 0);
  }
}
const density: GraphDensity = { mean: Float32Array.from(mean), precision: Float32Array.from(precision) };
const scoreRef = Array.from({ length: BATCH }, (_, n) => {
  const e = l2Normalize(embedRef.subarray(n * DIM, (n + 1) * DIM));
  const d = e.map((v, j) => v - density.mean[j]);
  let q = 0;
  for (let i = 0; i < DIM; i++) {
    let row = 0;
    for (let j = 0; j < DIM; j++) row += density.precision[i * DIM + j] * d[j];
    q += d[i] * row;
  }
  return Math.sqrt(Math.max(0, q));
});

// The same density without L2 normalisation, for the unfused variant.
const rawDensity: GraphDensity = { ...density, l2Normalize: false };
const rawScoreRef = Array.from({ length: BATCH }, (_, n) => {
  const d = Float64Array.from(embedRef.subarray(n * DIM, (n + 1) * DIM), (v, j) => v - density.mean[j]);
  let q = 0;
  for (let i = 0; i < DIM; i++) {
    for (let j = 0; j < DIM; j++) q += d[i] * density.precision[i * DIM + j] * d[j];
  }
  return Math.sqrt(Math.max(0, q));
});

const fused = await buildGraphModel(net, { imageSize: SIZE, density, includeLogits: true });
const plain = await buildGraphModel(net, { imageSize: [SIZE, SIZE], density: rawDensity, fuse: false });
disposeParams(net.params);

/** Max abs difference, asserting |a − e| ≤ ABS + REL·|e| everywhere. */
function compare(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length, `${name}: length`);
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert(
      err <= ABS + REL * Math.abs(expected[i]),
      `${name}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${ABS} + ${REL}·|e|)`,
    );
    maxAbs = Math.max(maxAbs, err);
  }
  return maxAbs;
}

async function runAndCompare(model: GraphModelArtifacts | string, backend: "cpu" | "wasm", label: string) {
  await initBackend(backend);
  const graph = typeof model === "string"
    ? await loadGraphModelFromDir(model)
    : await loadGraphModelFromArtifacts(model);
  const image = tf.tensor4d(raw, [BATCH, SIZE, SIZE, 3]);
  const outs = graph.execute({ image }, ["embedding", "score", "logits"]) as tf.Tensor[];
  assertEquals(outs.map((t) => t.shape), [[BATCH, DIM], [BATCH], [BATCH, 3]]);
  const [embedding, score, logits] = await Promise.all(outs.map((t) => t.data()));
  const errors = {
    embedding: compare(`${label} embedding`, embedding, embedRef),
    score: compare(`${label} score`, score, scoreRef),
    logits: compare(`${label} logits`, logits, logitsRef),
  };
  console.log(
    `${label}: max abs error embedding ${errors.embedding.toExponential(2)}, score ${
      errors.score.toExponential(2)
    } (scores ${scoreRef.map((v) => v.toFixed(3))}), logits ${errors.logits.toExponential(2)}`,
  );
  tf.dispose([image, ...outs]);
  graph.dispose();
}

const dir = await Deno.makeTempDir({ prefix: "sspcab_graph_model_" });
const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "graph model export: model.json is pure JSON graph-model and the manifest matches the .bin",
  ...opts,
  async fn() {
    const written = await writeGraphModel(dir, fused);
    const text = await Deno.readTextFile(join(dir, MODEL_JSON_FILE));
    const json = JSON.parse(text);
    assertEquals(json, JSON.parse(JSON.stringify(fused.modelJson)), "model.json round-trips through JSON");
    assertEquals(json.format, "graph-model");
    assert(typeof json.generatedBy === "string" && typeof json.convertedBy === "string");
    assertEquals(json.weightsManifest[0].paths, [GRAPH_MODEL_WEIGHTS_FILE]);
    assertEquals(Object.keys(json.signature.inputs), ["image"]);
    assertEquals(Object.keys(json.signature.outputs).sort(), ["anomaly_map", "embedding", "logits", "score"]);
    const binSize = (await Deno.stat(join(dir, GRAPH_MODEL_WEIGHTS_FILE))).size;
    assertEquals(manifestByteLength(json.weightsManifest), binSize);
    assertEquals(written.weightBytes, binSize);
    const ops = new Set<string>(json.modelTopology.node.map((n: { op: string }) => n.op));
    assert(!ops.has("FusedBatchNorm") && !ops.has("FusedBatchNormV3"), "BatchNorm is folded");
    assert(ops.has("_FusedConv2D") && ops.has("_FusedMatMul"), `fused ops used: ${[...ops]}`);
    // No leftover temporary files.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.sort(), [GRAPH_MODEL_WEIGHTS_FILE, MODEL_JSON_FILE].sort());
  },
});

Deno.test({
  name: "graph model on cpu (loaded from disk): embedding, score and logits match the library",
  ...opts,
  fn: () => runAndCompare(dir, "cpu", "cpu fused"),
});

Deno.test({
  name: "graph model on wasm (same files): embedding, score and logits match the library",
  ...opts,
  fn: () => runAndCompare(dir, "wasm", "wasm fused"),
});

Deno.test({
  name: "unfused graph model (Conv2D + BiasAdd + Relu, MatMul) with an unnormalised score matches on cpu",
  ...opts,
  async fn() {
    await initBackend("cpu");
    const ops = new Set(plain.modelJson.modelTopology.node.map((n) => n.op));
    assert(!ops.has("_FusedConv2D") && !ops.has("_FusedMatMul") && ops.has("Conv2D") && ops.has("BiasAdd"));
    assert(!ops.has("RealDiv"), "no L2 normalisation when the density says so");
    assertEquals(Object.keys(plain.modelJson.signature.outputs), ["embedding", "score", "anomaly_map"]);
    const graph = await loadGraphModelFromArtifacts(plain);
    const image = tf.tensor4d(raw, [BATCH, SIZE, SIZE, 3]);
    const [embedding, score] = graph.execute({ image }, ["embedding", "score"]) as tf.Tensor[];
    const errE = compare("cpu unfused embedding", await embedding.data(), embedRef);
    const errS = compare("cpu unfused raw score", await score.data(), rawScoreRef);
    console.log(
      `cpu unfused: max abs error embedding ${errE.toExponential(2)}, raw score ${errS.toExponential(2)}`,
    );
    tf.dispose([image, embedding, score]);
    graph.dispose();
  },
});

Deno.test({
  name: "SSPCAB variants (k = 2 sub-kernels, reflect padding) export exactly",
  ...opts,
  async fn() {
    await initBackend("cpu");
    const config = defaultProjectionNetConfig();
    config.sspcab = { ...config.sspcab!, kernelDim: 2, dilation: 1, padding: "reflect" };
    const net2 = createProjectionNet(config, 11);
    const model = await buildGraphModel(net2, { imageSize: SIZE });
    assert(model.modelJson.modelTopology.node.some((n) => n.op === "MirrorPad"));
    const x = tf.tensor4d(normalized, [BATCH, SIZE, SIZE, 3]);
    const ref = projectionNetEmbed(net2, x);
    const expected = await ref.data();
    tf.dispose([x, ref]);
    disposeParams(net2.params);
    const graph = await loadGraphModelFromArtifacts(model);
    const image = tf.tensor4d(raw, [BATCH, SIZE, SIZE, 3]);
    const out = graph.execute({ image }, "embedding") as tf.Tensor;
    const err = compare("cpu sspcab k=2 reflect embedding", await out.data(), expected);
    console.log(`cpu SSPCAB k=2 reflect: max abs error embedding ${err.toExponential(2)}`);
    tf.dispose([image, out]);
    graph.dispose();
  },
});

Deno.test("foldBatchNorm: W·γ/√(σ²+ε) and β + (b − μ)·γ/√(σ²+ε) on the last axis", () => {
  const w = Float32Array.of(1, 2, 3, 4); // [2 in, 2 out]
  const folded = foldBatchNorm(w, Float32Array.of(1, -1), {
    gamma: Float32Array.of(2, 3),
    beta: Float32Array.of(0.5, 0),
    mean: Float32Array.of(1, 1),
    variance: Float32Array.of(4 - 1e-5, 9 - 1e-5),
  });
  const close = (a: ArrayLike<number>, e: number[]) => e.forEach((v, i) => assert(Math.abs(a[i] - v) < 1e-6));
  close(folded.weight, [1, 2, 3, 4]);
  close(folded.bias, [0.5, -2]);
});

Deno.test({
  name: "loading a damaged graph model names the file at fault",
  ...opts,
  async fn() {
    const bad = await Deno.makeTempDir({ prefix: "sspcab_graph_model_bad_" });
    try {
      await assertRejects(() => loadGraphModelFromDir(bad), Error, join(bad, MODEL_JSON_FILE));
      await writeGraphModel(bad, fused);
      const bin = join(bad, GRAPH_MODEL_WEIGHTS_FILE);
      await Deno.writeFile(bin, (await Deno.readFile(bin)).subarray(0, 100));
      const err = await assertRejects(() => loadGraphModelFromDir(bad), Error, bin);
      assertStringIncludes(err.message, "bytes");
      await Deno.remove(bin);
      await assertRejects(() => loadGraphModelFromDir(bad), Error, bin);
      await Deno.writeTextFile(join(bad, MODEL_JSON_FILE), "{not json");
      await assertRejects(() => loadGraphModelFromDir(bad), Error, "not valid JSON");
    } finally {
      await Deno.remove(bad, { recursive: true });
    }
  },
});

Deno.test({
  name: "graph model export: clean up",
  ...opts,
  fn: () => Deno.remove(dir, { recursive: true }),
});
