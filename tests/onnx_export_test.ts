/**
 * The ONNX export, proven against the library's own TensorFlow.js prediction path:
 *
 * - without any runtime: our protobuf decodes (protobufjs, the same schema) to the expected inputs, outputs,
 *   opset, IR version, BatchNorm-free node set and metadata;
 * - `onnx.checker.check_model(full_check=True)` accepts it (Python `onnx`, when importable; else skipped
 *   with the reason);
 * - run with onnxruntime-node (when installed; else skipped with the reason), its `embedding`, `score`,
 *   `pred_label` and `logits` equal `predict`'s computation — `embedImages` (tfjs, cpu) and the float64
 *   Mahalanobis score of a Ledoit–Wolf density fitted on those embeddings — and its `anomaly_map` the
 *   library's SSPCAB map (`sspcabMaps`, relative to the map's maximum), within 1e-4 relative, on
 *   synthetic images and the sample images, for 2- and 3-class models, head_layer 1 and 2, zero and reflect
 *   SSPCAB padding, batch sizes 1 and 5, float32 and uint8 inputs;
 * - end to end: `exportBundle --format all` + the onnxruntime engine give `predictImages`' verdicts.
 *
 * Models are randomly initialised (with random BatchNorm statistics, so folding is exercised) at 64².
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  headLayersFor,
  type ProjectionNet,
  projectionNetForward,
} from "../lib/model/projection_net.ts";
import { DEFAULT_SSPCAB } from "../lib/model/sspcab.ts";
import { disposeParams } from "../lib/model/params.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { embedImages } from "../lib/eval/embed.ts";
import { fitGaussianDensity, type GaussianDensity, scoreRows } from "../lib/eval/density.ts";
import { saveFittedModel } from "../lib/eval/fitted_model.ts";
import { loadRgb, type RgbImage, saveRgbPng, toNormalizedFloat32 } from "../lib/data/images.ts";
import { createRng, type Rng } from "../lib/util/rng.ts";
import { TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { formatPrediction, predictImages } from "../lib/pipeline/predict.ts";
import { exportBundle } from "../lib/export/bundle.ts";
import { inferMaps, loadBundle } from "../lib/export/infer.ts";
import {
  buildOnnxModel,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  type OnnxModelArtifacts,
} from "../lib/export/onnx/export.ts";
import { DataType, decodeModel } from "../lib/export/onnx/schema.ts";
import { onnxModelInfo } from "../lib/export/onnx/model_file.ts";
import { whiteningMatrix } from "../lib/export/onnx/whiten.ts";
import { sspcabMaps } from "../lib/localize/sspcab_map.ts";
import { createMatrix } from "../lib/eval/linalg.ts";
import {
  createOnnxSession,
  inferImagesOnnx,
  loadOnnxBundle,
  loadOnnxRuntime,
  type OrtSession,
  runOnnxBatch,
} from "../lib/export/onnx_engine.ts";
import { LIBRARY_VERSION } from "../lib/version.ts";
import { randomizeBatchNorm } from "./helpers/random_net.ts";

const SIZE = 64;
const DIM = 512;
const REL = 1e-4;
const SAMPLES = ["../shared/data/samples/good.png", "../shared/data/samples/bad.png"];
const opts = { sanitizeResources: false, sanitizeOps: false };

await initBackend("cpu");

// What is available on this machine.
const ortMissing = await loadOnnxRuntime().then(() => "", (e: Error) => e.message.split("\n")[0]);
const PYTHON = "/usr/bin/python3";
const checkerMissing = await new Deno.Command(PYTHON, { args: ["-c", "import onnx"], stderr: "null" })
  .output()
  .then((r) => r.success ? "" : "python3 cannot import onnx", () => `${PYTHON} not found`);
const samplePaths = (await Promise.all(SAMPLES.map((p) => Deno.stat(p).then(() => p, () => null))))
  .filter((p): p is string => p !== null);
if (ortMissing) console.log(`onnxruntime checks skipped: ${ortMissing}`);
if (checkerMissing) console.log(`onnx.checker skipped: ${checkerMissing}`);
if (samplePaths.length < SAMPLES.length) console.log("sample images absent: synthetic images only");

/** Synthetic RGB images: smooth colour gradients with a random rectangle and noise. */
function syntheticImages(rng: Rng, count: number): RgbImage[] {
  return Array.from({ length: count }, () => {
    const data = new Uint8Array(SIZE * SIZE * 3);
    const base = [rng.uniform(40, 200), rng.uniform(40, 200), rng.uniform(40, 200)];
    const [r0, c0] = [rng.int(0, SIZE - 16), rng.int(0, SIZE - 16)];
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const inRect = y >= r0 && y < r0 + 12 && x >= c0 && x < c0 + 12;
        for (let c = 0; c < 3; c++) {
          const v = base[c] + 30 * Math.sin((x + 2 * c) / 9) + 20 * Math.cos(y / 7) + 10 * rng.normal() +
            (inRect ? 60 : 0);
          data[(y * SIZE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    return { width: SIZE, height: SIZE, data };
  });
}

/** Assert |a − e| ≤ rel·|e| + abs everywhere; returns the largest relative error (vs max |e|). */
function compare(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, abs: number): number {
  assertEquals(actual.length, expected.length, `${name}: length`);
  let maxErr = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert(
      err <= REL * Math.abs(expected[i]) + abs,
      `${name}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${REL}·|e| + ${abs})`,
    );
    maxErr = Math.max(maxErr, err);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxErr / scale;
}

async function onnxCheck(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".onnx" });
  try {
    await Deno.writeFile(path, bytes);
    const code = "import onnx, sys\n" +
      "m = onnx.load(sys.argv[1])\n" +
      "onnx.checker.check_model(m, full_check=True)\n" +
      "print('onnx', onnx.__version__, 'ok', m.opset_import[0].version, len(m.graph.node))";
    const r = await new Deno.Command(PYTHON, { args: ["-c", code, path] }).output();
    const text = new TextDecoder().decode(r.stdout).trim();
    assert(r.success, `onnx.checker rejected the model: ${new TextDecoder().decode(r.stderr)}`);
    return text;
  } finally {
    await Deno.remove(path);
  }
}

interface Case {
  label: string;
  numClasses: number;
  headLayer: number;
  padding: "zeros" | "reflect";
  seed: number;
}

// Each setting appears twice over the four models.
const CASES: Case[] = [
  { label: "3-class, head_layer 1, zero padding", numClasses: 3, headLayer: 1, padding: "zeros", seed: 1 },
  {
    label: "3-class, head_layer 2, reflect padding",
    numClasses: 3,
    headLayer: 2,
    padding: "reflect",
    seed: 2,
  },
  {
    label: "2-class, head_layer 1, reflect padding",
    numClasses: 2,
    headLayer: 1,
    padding: "reflect",
    seed: 3,
  },
  { label: "2-class, head_layer 2, zero padding", numClasses: 2, headLayer: 2, padding: "zeros", seed: 4 },
];

interface Prepared {
  net: ProjectionNet;
  density: GaussianDensity;
  threshold: number;
  queries: RgbImage[];
  embedRef: Float64Array;
  scoreRef: Float64Array;
  logitsRef: Float32Array;
  /** The library's SSPCAB map of each query (`lib/localize/sspcab_map.ts`), SIZE × SIZE. */
  mapRef: Float32Array[];
  model: OnnxModelArtifacts;
}

/** The model, a density fitted on its embeddings, the reference outputs (tfjs + float64) and the export. */
async function prepare(c: Case, inputType: "float32" | "uint8" = "float32"): Promise<Prepared> {
  const rng = createRng(100 + c.seed);
  const net = createProjectionNet(
    defaultProjectionNetConfig({
      numClasses: c.numClasses,
      headLayers: headLayersFor(c.headLayer),
      sspcab: { ...DEFAULT_SSPCAB, padding: c.padding },
    }),
    c.seed,
  );
  randomizeBatchNorm(net, rng);
  const train = syntheticImages(rng, 12);
  const density = fitGaussianDensity(await embedImages(net, train), { l2Normalize: true });
  const queries = [...syntheticImages(rng, 5 - samplePaths.length)];
  for (const p of samplePaths) queries.push(await loadRgb(p, SIZE));
  // Reference: exactly predict's path (embedImages on tfjs, float64 scoreRows).
  const e = await embedImages(net, queries, { batchSize: 5 });
  const scoreRef = scoreRows(density, e);
  const sorted = [...scoreRef].sort((a, b) => a - b);
  const threshold = 0.5 * (sorted[2] + sorted[3]); // between the 3rd and 4th score: both labels occur
  const x = tf.tensor4d(toNormalizedFloat32(queries), [queries.length, SIZE, SIZE, 3]);
  const out = projectionNetForward(net, x, { training: false });
  const logitsRef = await out.logits.data() as Float32Array;
  tf.dispose([x, out]);
  const mapRef = await sspcabMaps(net, queries);
  const model = await buildOnnxModel(net, {
    imageSize: SIZE,
    inputType,
    density: { mean: density.location, precision: density.precision.data, l2Normalize: true },
    threshold,
    includeLogits: true,
    category: "synthetic",
    training: { headLayer: c.headLayer, numClasses: c.numClasses },
  });
  return { net, density, threshold, queries, embedRef: e.data, scoreRef, logitsRef, mapRef, model };
}

function pixelsOf(images: RgbImage[]): Uint8Array {
  const per = SIZE * SIZE * 3;
  const out = new Uint8Array(images.length * per);
  images.forEach((img, i) => out.set(img.data, i * per));
  return out;
}

async function runAndCompare(p: Prepared, session: OrtSession, label: string): Promise<void> {
  const info = onnxModelInfo(p.model.bytes, label);
  for (const batch of [1, 5]) {
    const imgs = p.queries.slice(0, batch);
    const raw = pixelsOf(imgs);
    const res = await runOnnxBatch(
      { session, info },
      info.inputType === "uint8" ? raw : Float32Array.from(raw),
      batch,
    );
    const out = await session.run({
      image: new (await loadOnnxRuntime()).Tensor(
        info.inputType,
        info.inputType === "uint8" ? raw : Float32Array.from(raw),
        [batch, SIZE, SIZE, 3],
      ),
    });
    assertEquals(out.embedding.dims, [batch, DIM]);
    assertEquals(out.score.dims, [batch]);
    assertEquals(out.pred_label.type, "bool");
    assertEquals(out.logits.dims, [batch, p.net.config.numClasses]);
    // Embedding entries are averages of ReLU outputs (≥ 0; exact zeros happen): relative to the row's scale.
    const eRef = p.embedRef.subarray(0, batch * DIM);
    const eScale = Math.max(...eRef);
    const errE = compare(`${label} b${batch} embedding`, res.embedding, eRef, REL * eScale * 1e-2);
    const errS = compare(`${label} b${batch} score`, res.score!, p.scoreRef.subarray(0, batch), 0);
    const lRef = p.logitsRef.subarray(0, batch * p.net.config.numClasses);
    const errL = compare(
      `${label} b${batch} logits`,
      Array.from(out.logits.data),
      lRef,
      REL * Math.max(...Array.from(lRef, Math.abs)),
    );
    // The anomaly map: per image, relative to the map's maximum.
    assertEquals(out.anomaly_map.dims, [batch, SIZE, SIZE]);
    let errM = 0;
    for (let i = 0; i < batch; i++) {
      const ref = p.mapRef[i];
      const scale = Math.max(...ref);
      assert(scale > 0, `${label} map ${i} is all zero`);
      const got = res.anomalyMap!.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
      errM = Math.max(errM, compare(`${label} b${batch} anomaly_map[${i}]`, got, ref, REL * scale));
    }
    for (let i = 0; i < batch; i++) {
      assertEquals(
        res.predLabel![i] === 1,
        p.scoreRef[i] >= p.threshold,
        `${label} b${batch} pred_label[${i}]`,
      );
    }
    console.log(
      `${label}, batch ${batch}: max rel error embedding ${errE.toExponential(2)}, score ${
        errS.toExponential(2)
      } (scores ${Array.from(p.scoreRef.subarray(0, batch), (v) => v.toFixed(2))}), logits ${
        errL.toExponential(2)
      }, anomaly_map ${errM.toExponential(2)}`,
    );
  }
}

for (const c of CASES) {
  Deno.test({
    name: `onnx export (${c.label}): decodes, passes onnx.checker, and onnxruntime equals predict`,
    ...opts,
    async fn(t) {
      const p = await prepare(c);
      try {
        await t.step("decoded with protobufjs: inputs, outputs, opset, folded BatchNorm, metadata", () => {
          const m = decodeModel(p.model.bytes);
          assertEquals(m.ir_version, ONNX_IR_VERSION);
          assertEquals(m.opset_import, [{ domain: "", version: ONNX_OPSET }]);
          assertEquals(m.producer_name, "sspcab-deno");
          const dims = (v: (typeof m.graph.input)[0]) =>
            v.type.tensor_type.shape.dim.map((d) =>
              "dim_param" in d && d.dim_param ? d.dim_param : Number(
                (d as { dim_value: number }).dim_value,
              )
            );
          assertEquals(m.graph.input.map((i) => [i.name, i.type.tensor_type.elem_type, dims(i)]), [
            ["image", DataType.FLOAT, ["batch", SIZE, SIZE, 3]],
          ]);
          assertEquals(m.graph.output.map((o) => [o.name, o.type.tensor_type.elem_type, dims(o)]), [
            ["embedding", DataType.FLOAT, ["batch", DIM]],
            ["score", DataType.FLOAT, ["batch"]],
            ["pred_label", DataType.BOOL, ["batch"]],
            ["logits", DataType.FLOAT, ["batch", c.numClasses]],
            ["anomaly_map", DataType.FLOAT, ["batch", SIZE, SIZE]],
          ]);
          const ops = new Set(m.graph.node.map((n) => n.op_type));
          assert(!ops.has("BatchNormalization"), "BatchNorm is folded");
          assertEquals(
            m.graph.node.filter((n) => n.op_type === "Gemm").length,
            2 + c.headLayer + 2,
            "SE fc1/fc2, one Gemm per head layer, out",
          );
          const pad = m.graph.node.find((n) => n.name === "SSPCAB.pad")!;
          const mode = new TextDecoder().decode(pad.attribute.find((a) => a.name === "mode")!.s);
          assertEquals(mode, c.padding === "reflect" ? "reflect" : "constant");
          // Every conv weight is OIHW: [out, in, kh, kw].
          const init = new Map(m.graph.initializer.map((i) => [i.name, i]));
          assertEquals(init.get("resnet18.conv1.weight")!.dims, [64, 3, 7, 7]);
          assertEquals(init.get("SSPCAB.conv.weight")!.dims, [256, 1024, 1, 1]);
          assertEquals(init.get("score.whitening")!.dims, [DIM, DIM]);
          const meta = Object.fromEntries(m.metadata_props.map((e) => [e.key, e.value]));
          assertEquals(meta.category, "synthetic");
          assertEquals(meta.image_size, `${SIZE}x${SIZE}`);
          assertEquals(Number(meta.threshold), p.threshold);
          assertEquals(JSON.parse(meta.thresholds).decision, p.threshold);
          assertEquals(meta.exporter_version, LIBRARY_VERSION);
          assertEquals(JSON.parse(meta.training), { headLayer: c.headLayer, numClasses: c.numClasses });
          assertEquals(JSON.parse(meta.network).sspcab.padding, c.padding);
          // Weights survive the round trip bit for bit.
          const shift = init.get("preprocess.shift")!;
          const values = new Float32Array(new Uint8Array(shift.raw_data).buffer);
          assertEquals(
            Array.from(values),
            Array.from(Float32Array.of(0.485 / -0.229, 0.456 / -0.224, 0.406 / -0.225)),
          );
        });
        await t.step({
          name: "onnx.checker.check_model(full_check=True)",
          ignore: checkerMissing !== "",
          fn: async () => console.log(`${c.label}: ${await onnxCheck(p.model.bytes)}`),
        });
        await t.step({
          name: "onnxruntime (cpu): embedding, score, pred_label, logits equal predict's, batch 1 and 5",
          ignore: ortMissing !== "",
          fn: async () => {
            const session = await createOnnxSession(p.model.bytes);
            try {
              await runAndCompare(p, session, c.label);
            } finally {
              await session.release();
            }
          },
        });
      } finally {
        disposeParams(p.net.params);
      }
    },
  });
}

Deno.test({
  name: "onnx export with a uint8 input: checker and onnxruntime agree with predict",
  ...opts,
  async fn(t) {
    const p = await prepare(CASES[1], "uint8");
    try {
      const m = decodeModel(p.model.bytes);
      assertEquals(m.graph.input[0].type.tensor_type.elem_type, DataType.UINT8);
      assertEquals(m.graph.node[0].op_type, "Cast");
      await t.step({
        name: "onnx.checker",
        ignore: checkerMissing !== "",
        fn: async () => console.log(`uint8: ${await onnxCheck(p.model.bytes)}`),
      });
      await t.step({
        name: "onnxruntime",
        ignore: ortMissing !== "",
        fn: async () => {
          const session = await createOnnxSession(p.model.bytes);
          try {
            await runAndCompare(p, session, "uint8 input");
          } finally {
            await session.release();
          }
        },
      });
    } finally {
      disposeParams(p.net.params);
    }
  },
});

Deno.test("whitening: W·Wᵀ = P for a definite and a singular precision, in float64", () => {
  const rng = createRng(5);
  const n = 6;
  for (const rank of [n, 3]) {
    const b = Array.from({ length: n * rank }, () => rng.normal());
    const p = createMatrix(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < rank; k++) s += b[i * rank + k] * b[j * rank + k];
        p.data[i * n + j] = s;
      }
    }
    const w = whiteningMatrix(p);
    assertEquals(w.method, rank === n ? "cholesky" : "eigen");
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += w.matrix.data[i * n + k] * w.matrix.data[j * n + k];
        assert(Math.abs(s - p.data[i * n + j]) < 1e-10, `(W Wᵀ)[${i},${j}] = ${s}, P = ${p.data[i * n + j]}`);
      }
    }
  }
});

Deno.test("score in float32: the whitened norm keeps 1e-4 where the quadratic form loses digits (cond 1e8)", () => {
  // P = V·diag(λ)·Vᵀ with λ from 1 to 1e8 and a random rotation V; d drawn from the Gaussian itself.
  const f = Math.fround;
  const rng = createRng(3);
  const n = 16;
  const vs: number[][] = [];
  for (let k = 0; k < n; k++) {
    let v = Array.from({ length: n }, () => rng.normal());
    for (const u of vs) {
      const dot = v.reduce((s, x, i) => s + x * u[i], 0);
      v = v.map((x, i) => x - dot * u[i]);
    }
    const norm = Math.hypot(...v);
    vs.push(v.map((x) => x / norm));
  }
  const lambda = Array.from({ length: n }, (_, k) => 10 ** (8 * k / (n - 1)));
  const p = createMatrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vs[k][i] * lambda[k] * vs[k][j];
      p.data[i * n + j] = s;
    }
  }
  const w = whiteningMatrix(p).matrix;
  let worstQuadratic = 0;
  let worstWhitened = 0;
  for (let t = 0; t < 200; t++) {
    const d = new Array(n).fill(0);
    for (let k = 0; k < n; k++) {
      const z = rng.normal() / Math.sqrt(lambda[k]);
      for (let i = 0; i < n; i++) d[i] += z * vs[k][i];
    }
    const d32 = d.map(f);
    let truth = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) truth += d32[i] * p.data[i * n + j] * d32[j];
    truth = Math.sqrt(truth);
    // Float32 arithmetic, operation by operation: sqrt(dᵀPd) and ‖dᵀW‖₂.
    let q = 0;
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let j = 0; j < n; j++) r = f(r + f(f(p.data[i * n + j]) * d32[j]));
      q = f(q + f(d32[i] * r));
    }
    let ss = 0;
    for (let k = 0; k < n; k++) {
      let y = 0;
      for (let i = 0; i < n; i++) y = f(y + f(d32[i] * f(w.data[i * n + k])));
      ss = f(ss + f(y * y));
    }
    worstQuadratic = Math.max(worstQuadratic, Math.abs(Math.sqrt(Math.max(0, q)) - truth) / truth);
    worstWhitened = Math.max(worstWhitened, Math.abs(Math.sqrt(ss) - truth) / truth);
  }
  console.log(
    `worst relative score error in float32: quadratic form ${worstQuadratic.toExponential(2)}, ` +
      `whitened norm ${worstWhitened.toExponential(2)}`,
  );
  assert(worstWhitened < 1e-4, `whitened: ${worstWhitened}`);
  assert(worstQuadratic > 100 * worstWhitened, `quadratic ${worstQuadratic} vs whitened ${worstWhitened}`);
});

Deno.test({
  name: "bundle end to end: export --format all, then the onnxruntime engine gives predict's verdicts",
  ...opts,
  ignore: ortMissing !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_onnx_bundle_" });
    try {
      const category = "synthetic";
      const modelDir = join(dir, "models");
      await Deno.mkdir(modelDir);
      const config = { ...TRAIN_DEFAULTS, category, size: SIZE, headLayer: 2, variant: "3way" as const };
      const net = createProjectionNet(
        defaultProjectionNetConfig({ headLayers: headLayersFor(2) }),
        9,
      );
      const rng = createRng(9);
      randomizeBatchNorm(net, rng);
      const modelPath = join(modelDir, `model-${category}.safetensors`);
      await saveStateDict(net.specs, net.params, modelPath, { config: JSON.stringify(config), step: "7" });
      const density = fitGaussianDensity(await embedImages(net, syntheticImages(rng, 12)), {
        l2Normalize: true,
      });
      // Query images on disk: synthetic PNGs plus the samples.
      const imgDir = join(dir, "images");
      await Deno.mkdir(imgDir);
      const paths: string[] = [];
      for (const [i, img] of syntheticImages(rng, 3).entries()) {
        paths.push(join(imgDir, `synthetic_${i}.png`));
        await saveRgbPng(paths[i], img);
      }
      paths.push(...samplePaths);
      // The threshold halfway between the two middle scores, so both verdicts occur and none is borderline.
      const scores = scoreRows(
        density,
        await embedImages(net, await Promise.all(paths.map((p) => loadRgb(p, SIZE)))),
      );
      disposeParams(net.params);
      const sorted = [...scores].sort((a, b) => a - b);
      const mid = Math.floor(paths.length / 2);
      const threshold = 0.5 * (sorted[mid - 1] + sorted[mid]);
      await saveFittedModel(join(modelDir, `model-${category}.density.json`), {
        category,
        imageSize: SIZE,
        density,
        threshold,
        auroc: 0.5,
      });
      const expected = await predictImages({ category, modelDir, inputs: paths });
      const outDir = join(dir, "bundle");
      const result = await exportBundle({ modelPath, category, outDir, format: "all" });
      assertEquals(result.metadata.formats, ["tfjs", "onnx"]);
      assertEquals(result.metadata.onnx?.outputs, ["embedding", "score", "pred_label", "anomaly_map"]);
      assertEquals(result.metadata.outputs, ["embedding", "score", "anomaly_map"]);
      const bundle = await loadOnnxBundle(outDir);
      try {
        assertEquals(JSON.parse(bundle.info.metadata.training).step, 7);
        const got = await inferImagesOnnx(bundle, paths, { batchSize: 5 });
        assertEquals(got.map((g) => g.path), expected.map((e) => e.path));
        assertEquals(got.map((g) => g.anomalous), expected.map((e) => e.anomalous));
        assert(got.some((g) => g.anomalous) && got.some((g) => !g.anomalous), "both verdicts occur");
        compare("engine score", got.map((g) => g.score), expected.map((e) => e.score), 0);
        for (const [i, g] of got.entries()) {
          assertEquals(g.threshold, expected[i].threshold);
          console.log(`onnxruntime: ${formatPrediction(g)}\npredict:     ${formatPrediction(expected[i])}`);
        }
        // Both model files of the bundle give the same SSPCAB map (tfjs engine vs onnxruntime).
        const imgs = await Promise.all(paths.map((p) => loadRgb(p, SIZE)));
        const onnxMaps = await runOnnxBatch(bundle, pixelsOf(imgs), imgs.length);
        const tfjsBundle = await loadBundle(outDir);
        const tfjsMaps = await inferMaps(tfjsBundle, imgs);
        tfjsBundle.model.dispose();
        const mapMax = Math.max(...tfjsMaps.map((m) => Math.max(...m)));
        assert(mapMax > 0, "the exported map is not all zero");
        const errMap = compare(
          "bundle anomaly_map (onnx vs tfjs)",
          onnxMaps.anomalyMap!,
          Float32Array.from(tfjsMaps.flatMap((m) => Array.from(m))),
          REL * mapMax,
        );
        console.log(`bundle anomaly_map: onnxruntime vs tfjs max |Δ| / max = ${errMap.toExponential(2)}`);
      } finally {
        await bundle.session.release();
      }
      // An ONNX-only bundle is refused by the tfjs engine with advice, and vice versa.
      const onnxOnly = join(dir, "onnx_only");
      await exportBundle({ modelPath, category, outDir: onnxOnly, format: "onnx" });
      await assertRejects(() => loadBundle(onnxOnly), Error, "onnxruntime engine");
      const tfjsOnly = join(dir, "tfjs_only");
      await exportBundle({ modelPath, category, outDir: tfjsOnly, format: "tfjs" });
      await assertRejects(() => loadOnnxBundle(tfjsOnly), Error, "--format onnx");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a damaged or foreign model.onnx is a UserError naming the file",
  ...opts,
  fn() {
    let err = (() => {
      try {
        onnxModelInfo(Uint8Array.of(0xff, 0xff, 0xff), "bad/model.onnx");
      } catch (e) {
        return e as Error;
      }
    })();
    assert(err && err.name === "UserError" && err.message.includes("bad/model.onnx"), String(err));
    err = (() => {
      try {
        onnxModelInfo(new Uint8Array(0), "empty/model.onnx");
      } catch (e) {
        return e as Error;
      }
    })();
    assert(err && err.message.includes("empty/model.onnx") && err.message.includes("not an ONNX model"));
  },
});
