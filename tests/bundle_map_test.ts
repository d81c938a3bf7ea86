/**
 * The exported models' `anomaly_map` output: for random ProjectionNets with SSPCAB (zero and reflect padding,
 * random BatchNorm statistics so folding matters) the TensorFlow.js graph model's maps (cpu and wasm
 * backends, and through the tfjs engine's `inferMaps`) and the ONNX model's (onnxruntime, when installed)
 * equal the library's own SSPCAB reconstruction-error map (`lib/localize/sspcab_map.ts`, computed by the
 * unfolded eval-mode network and upsampled in float64) within 1e-4 of the map's maximum, on batches of 1 and
 * 3 synthetic images; the ONNX model passes `onnx.checker` (when Python's `onnx` is importable); a model
 * without SSPCAB has no `anomaly_map` output.
 *
 * GradCAM as a graph output: the graph model's and the ONNX model's forward-only GradCAM (analytic gradient)
 * equal `gradcamMaps` (tf.grad) within 1e-4 of the map's maximum, with and without L2 normalisation, σ 4 and
 * 0; a smoothed sspcab map (σ 2) likewise. End to end: export carries the map stored in the fitted model
 * (metadata and ONNX `metadata_props`), `infer`'s map (tfjs and ONNX engines) equals `predict`'s within 1e-4
 * relative, the printed defect area is the count of pixels ≥ the pixel threshold, the PNG shows the mask
 * outline; without a stored map the bundle keeps the sspcab map with no pixel threshold and one note says so;
 * `--map patch` without a stored patch map is refused by export (the patch bundle itself is tested in
 * `bundle_patch_test.ts`), and infer refuses a patch record without its patch model; `metadata.json`'s
 * `anomalyMap` and `patchMap` round-trip and a bad field is named.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  headLayersFor,
} from "../lib/model/projection_net.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { loadRgb, saveRgbPng } from "../lib/data/images.ts";
import { fittedModelPath, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { computeMaps, formatPrediction, predictImages } from "../lib/pipeline/predict.ts";
import { predictionLines } from "../lib/pipeline/heatmap.ts";
import { PREDICTED_COLOR } from "../lib/plot/images.ts";
import { exportBundle } from "../lib/export/bundle.ts";
import { BUNDLE_FORMAT, readBundleMetadata, writeBundleMetadata } from "../lib/export/bundle_metadata.ts";
import { disposeParams } from "../lib/model/params.ts";
import { DEFAULT_SSPCAB } from "../lib/model/sspcab.ts";
import { createRng, type Rng } from "../lib/util/rng.ts";
import type { RgbImage } from "../lib/data/rgb_image.ts";
import { sspcabMaps } from "../lib/localize/sspcab_map.ts";
import { gradcamMaps } from "../lib/localize/gradcam.ts";
import { embedImages } from "../lib/eval/embed.ts";
import { fitGaussianDensity } from "../lib/eval/density.ts";
import { graphMapSpec } from "../lib/export/map_spec.ts";
import { UserError } from "../lib/util/errors.ts";
import { ANOMALY_MAP_OUTPUT, buildGraphModel } from "../lib/export/graph_model.ts";
import { loadGraphModelFromArtifacts } from "../lib/export/bundle_io.ts";
import { buildOnnxModel } from "../lib/export/onnx/export.ts";
import { onnxModelInfo } from "../lib/export/onnx/model_file.ts";
import {
  createOnnxSession,
  inferImagesOnnx,
  loadOnnxBundle,
  loadOnnxRuntime,
  runOnnxBatch,
} from "../lib/export/onnx_engine.ts";
import {
  hasAnomalyMap,
  heatmapSource,
  type InferenceBundle,
  inferImages,
  inferMaps,
  loadBundle,
} from "../lib/export/infer.ts";
import type { BundleMetadata } from "../lib/export/bundle_metadata.ts";
import type { FittedModel } from "../lib/eval/fitted_model.ts";
import type { Tensor } from "../lib/util/tensor_types.ts";
import { randomizeBatchNorm } from "./helpers/random_net.ts";

const SIZE = 64;
const REL = 1e-4;
const opts = { sanitizeResources: false, sanitizeOps: false };

await initBackend("cpu");

const ortMissing = await loadOnnxRuntime().then(() => "", (e: Error) => e.message.split("\n")[0]);
const PYTHON = "/usr/bin/python3";
const checkerMissing = await new Deno.Command(PYTHON, { args: ["-c", "import onnx"], stderr: "null" })
  .output()
  .then((r) => r.success ? "" : "python3 cannot import onnx", () => `${PYTHON} not found`);
if (ortMissing) console.log(`onnxruntime checks skipped: ${ortMissing}`);
if (checkerMissing) console.log(`onnx.checker skipped: ${checkerMissing}`);

/** Synthetic RGB images: a smooth colour field, a bright square at a random place, noise. */
function syntheticImages(rng: Rng, count: number): RgbImage[] {
  return Array.from({ length: count }, () => {
    const data = new Uint8Array(SIZE * SIZE * 3);
    const base = [rng.uniform(40, 200), rng.uniform(40, 200), rng.uniform(40, 200)];
    const [r0, c0] = [rng.int(0, SIZE - 16), rng.int(0, SIZE - 16)];
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const inRect = y >= r0 && y < r0 + 14 && x >= c0 && x < c0 + 14;
        for (let c = 0; c < 3; c++) {
          const v = base[c] + 30 * Math.sin((x + 2 * c) / 9) + 20 * Math.cos(y / 7) + 10 * rng.normal() +
            (inRect ? 70 : 0);
          data[(y * SIZE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    return { width: SIZE, height: SIZE, data };
  });
}

function pixelsOf(images: readonly RgbImage[]): Float32Array {
  const per = SIZE * SIZE * 3;
  const out = new Float32Array(images.length * per);
  images.forEach((img, i) => out.set(img.data, i * per));
  return out;
}

/**
 * Assert that the batch of maps `actual` (`n × SIZE × SIZE`) equals the reference maps within REL of each
 * map's maximum; returns the largest such relative difference.
 */
function compareMaps(label: string, actual: ArrayLike<number>, expected: readonly Float32Array[]): number {
  const per = SIZE * SIZE;
  assertEquals(actual.length, expected.length * per, `${label}: map values`);
  let worst = 0;
  expected.forEach((ref, i) => {
    let max = 0;
    for (const v of ref) max = Math.max(max, Math.abs(v));
    assert(max > 0, `${label}: reference map ${i} is all zero (the test would prove nothing)`);
    // The map must vary, or an upsampling error would not show.
    let min = Infinity;
    for (const v of ref) min = Math.min(min, v);
    assert(max - min > 0.05 * max, `${label}: reference map ${i} is nearly flat (${min}…${max})`);
    let diff = 0;
    for (let p = 0; p < per; p++) diff = Math.max(diff, Math.abs(actual[i * per + p] - ref[p]));
    const rel = diff / max;
    assert(
      rel <= REL,
      `${label}: image ${i} max |Δ| ${diff} is ${rel.toExponential(2)} of the map's max ${max}`,
    );
    worst = Math.max(worst, rel);
  });
  return worst;
}

async function onnxCheck(bytes: Uint8Array): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".onnx" });
  try {
    await Deno.writeFile(path, bytes);
    const code = "import onnx, sys\n" +
      "m = onnx.load(sys.argv[1])\n" +
      "onnx.checker.check_model(m, full_check=True)\n" +
      "print([o.name for o in m.graph.output])";
    const r = await new Deno.Command(PYTHON, { args: ["-c", code, path] }).output();
    assert(r.success, `onnx.checker rejected the model: ${new TextDecoder().decode(r.stderr)}`);
    assert(new TextDecoder().decode(r.stdout).includes("'anomaly_map'"), "checker: no anomaly_map output");
  } finally {
    await Deno.remove(path);
  }
}

for (const padding of ["zeros", "reflect"] as const) {
  Deno.test({
    name: `anomaly_map (${padding} padding): graph model and ONNX equal sspcabMaps, batch 1 and 3`,
    ...opts,
    async fn(t) {
      await initBackend("cpu");
      const rng = createRng(padding === "zeros" ? 11 : 12);
      const net = createProjectionNet(
        defaultProjectionNetConfig({ sspcab: { ...DEFAULT_SSPCAB, padding } }),
        padding === "zeros" ? 5 : 6,
      );
      try {
        randomizeBatchNorm(net, rng);
        const images = syntheticImages(rng, 3);
        const reference = await sspcabMaps(net, images);

        const graph = await buildGraphModel(net, { imageSize: SIZE });
        const sig = graph.modelJson.signature.outputs[ANOMALY_MAP_OUTPUT];
        assertEquals(sig.tensorShape.dim?.map((d) => d.size), ["-1", String(SIZE), String(SIZE)]);
        assert((graph.modelJson.userDefinedMetadata.sspcab.outputs as string[]).includes(ANOMALY_MAP_OUTPUT));
        // The same files on the cpu and wasm backends (the app server and the page run on wasm).
        for (const backend of ["wasm", "cpu"] as const) {
          await initBackend(backend);
          const onBackend = await loadGraphModelFromArtifacts(graph);
          for (const batch of [1, 3]) {
            const x = tf.tensor4d(pixelsOf(images.slice(0, batch)), [batch, SIZE, SIZE, 3]);
            const m = onBackend.execute({ image: x }, ANOMALY_MAP_OUTPUT) as Tensor;
            assertEquals(m.shape, [batch, SIZE, SIZE]);
            const err = compareMaps(`${backend} b${batch}`, await m.data(), reference.slice(0, batch));
            console.log(
              `graph model (${backend}), ${padding}, batch ${batch}: max |Δ| / max = ${err.toExponential(2)}`,
            );
            tf.dispose([x, m]);
          }
          onBackend.dispose();
        }
        const model = await loadGraphModelFromArtifacts(graph);

        // The tfjs engine's map reader on the same graph.
        const bundle: InferenceBundle = {
          model,
          metadata: { imageSize: SIZE, outputs: ["embedding", ANOMALY_MAP_OUTPUT] } as BundleMetadata,
          fitted: {} as FittedModel,
        };
        assert(hasAnomalyMap(bundle));
        const maps = await inferMaps(bundle, images);
        assertEquals(maps.length, 3);
        compareMaps("inferMaps", Float32Array.from(maps.flatMap((mp) => Array.from(mp))), reference);
        model.dispose();

        const onnx = await buildOnnxModel(net, { imageSize: SIZE });
        assertEquals(onnx.outputs, ["embedding", ANOMALY_MAP_OUTPUT]);
        const out = onnx.model.graph.output.find((o) => o.name === ANOMALY_MAP_OUTPUT)!;
        assertEquals(
          out.type.tensor_type.shape.dim.map((d) => "dim_param" in d ? d.dim_param : d.dim_value),
          ["batch", SIZE, SIZE],
        );
        await t.step({
          name: "onnx.checker",
          ignore: checkerMissing !== "",
          fn: () => onnxCheck(onnx.bytes),
        });
        await t.step({
          name: "onnxruntime (cpu)",
          ignore: ortMissing !== "",
          async fn() {
            const session = await createOnnxSession(onnx.bytes);
            try {
              const info = onnxModelInfo(onnx.bytes, "anomaly map model");
              for (const batch of [1, 3]) {
                const res = await runOnnxBatch(
                  { session, info },
                  pixelsOf(images.slice(0, batch)),
                  batch,
                );
                assert(res.anomalyMap, "runOnnxBatch returned no anomalyMap");
                const err = compareMaps(`onnx b${batch}`, res.anomalyMap, reference.slice(0, batch));
                console.log(`onnx, ${padding}, batch ${batch}: max |Δ| / max = ${err.toExponential(2)}`);
              }
              // Scoring alone leaves the map out; the embedding is the same.
              const withMap = await runOnnxBatch({ session, info }, pixelsOf(images), 3);
              const scoresOnly = await runOnnxBatch({ session, info }, pixelsOf(images), 3, {
                anomalyMap: false,
              });
              assertEquals(scoresOnly.anomalyMap, undefined);
              assertEquals(Array.from(scoresOnly.embedding), Array.from(withMap.embedding));
            } finally {
              await session.release();
            }
          },
        });
      } finally {
        disposeParams(net.params);
      }
    },
  });
}

Deno.test({
  name: "a model without SSPCAB exports no anomaly_map, and asking for one is an error",
  ...opts,
  async fn() {
    const net = createProjectionNet(defaultProjectionNetConfig({ sspcab: null }), 3);
    try {
      const graph = await buildGraphModel(net, { imageSize: SIZE });
      assertEquals(Object.keys(graph.modelJson.signature.outputs), ["embedding"]);
      assert(!graph.modelJson.modelTopology.node.some((n) => n.name.startsWith(ANOMALY_MAP_OUTPUT)));
      const onnx = await buildOnnxModel(net, { imageSize: SIZE });
      assertEquals(onnx.outputs, ["embedding"]);
      await assertRejects(() => buildGraphModel(net, { imageSize: SIZE, anomalyMap: true }), Error, "SSPCAB");
      await assertRejects(() => buildOnnxModel(net, { imageSize: SIZE, anomalyMap: true }), Error, "SSPCAB");
      const model = await loadGraphModelFromArtifacts(graph);
      const bundle: InferenceBundle = {
        model,
        metadata: { imageSize: SIZE, outputs: ["embedding"], category: "plain" } as BundleMetadata,
        fitted: {} as FittedModel,
      };
      assert(!hasAnomalyMap(bundle));
      await assertRejects(() => inferMaps(bundle, syntheticImages(createRng(1), 1)), Error, "anomaly_map");
      model.dispose();
    } finally {
      disposeParams(net.params);
    }
  },
});

Deno.test({
  name: "the map output can be switched off on a model with SSPCAB",
  ...opts,
  async fn() {
    const net = createProjectionNet(defaultProjectionNetConfig(), 3);
    try {
      const graph = await buildGraphModel(net, { imageSize: SIZE, anomalyMap: false });
      assertEquals(Object.keys(graph.modelJson.signature.outputs), ["embedding"]);
      const onnx = await buildOnnxModel(net, { imageSize: SIZE, anomalyMap: false });
      assertEquals(onnx.outputs, ["embedding"]);
    } finally {
      disposeParams(net.params);
    }
  },
});

/**
 * Assert the batch of maps `actual` equals `expected` within REL of each map's maximum, where maps may be all
 * zero (GradCAM's ReLU can clear a map): a zero reference needs a zero result (1e-7), and at least one
 * reference must vary, or the comparison would prove nothing. Returns the largest relative difference.
 */
function compareCams(label: string, actual: ArrayLike<number>, expected: readonly Float32Array[]): number {
  const per = SIZE * SIZE;
  assertEquals(actual.length, expected.length * per, `${label}: map values`);
  let worst = 0;
  let varying = 0;
  expected.forEach((ref, i) => {
    let max = 0;
    let min = Infinity;
    for (const v of ref) {
      max = Math.max(max, Math.abs(v));
      min = Math.min(min, v);
    }
    if (max - min > 0.05 * max && max > 0) varying++;
    let diff = 0;
    for (let p = 0; p < per; p++) diff = Math.max(diff, Math.abs(actual[i * per + p] - ref[p]));
    if (max === 0) {
      assert(
        diff <= 1e-7,
        `${label}: image ${i}: the reference map is zero, the graph's max |value| is ${diff}`,
      );
      return;
    }
    const rel = diff / max;
    assert(rel <= REL, `${label}: image ${i} max |Δ| ${diff} is ${rel.toExponential(2)} of the max ${max}`);
    worst = Math.max(worst, rel);
  });
  assert(varying > 0, `${label}: every reference map is flat (the test would prove nothing)`);
  return worst;
}

for (const c of [{ l2: true, sigma: 4, seed: 21 }, { l2: false, sigma: 0, seed: 22 }]) {
  Deno.test({
    name: `gradcam anomaly_map (l2Normalize ${c.l2}, σ ${c.sigma}): graph model and ONNX equal gradcamMaps`,
    ...opts,
    async fn(t) {
      await initBackend("cpu");
      const rng = createRng(c.seed);
      const net = createProjectionNet(defaultProjectionNetConfig(), c.seed);
      try {
        randomizeBatchNorm(net, rng);
        const train = syntheticImages(rng, 12);
        const density = fitGaussianDensity(await embedImages(net, train), { l2Normalize: c.l2 });
        const images = syntheticImages(rng, 3);
        const reference = await gradcamMaps(net, density, images, { sigma: c.sigma });
        const graphDensity = {
          mean: density.location,
          precision: density.precision.data,
          l2Normalize: density.l2Normalize,
        };
        const spec = graphMapSpec("gradcam", { layer: "layer4", sigma: c.sigma });
        const graph = await buildGraphModel(net, {
          imageSize: SIZE,
          density: graphDensity,
          anomalyMap: spec,
        });
        assertEquals(
          (graph.modelJson.userDefinedMetadata.sspcab.anomalyMap as { method: string }).method,
          "gradcam",
        );
        // The same files on the wasm backend (the app server and the page) and on cpu.
        for (const backend of ["wasm", "cpu"] as const) {
          await initBackend(backend);
          const model = await loadGraphModelFromArtifacts(graph);
          for (const batch of backend === "wasm" ? [3] : [1, 3]) {
            const x = tf.tensor4d(pixelsOf(images.slice(0, batch)), [batch, SIZE, SIZE, 3]);
            const m = model.execute({ image: x }, ANOMALY_MAP_OUTPUT) as Tensor;
            assertEquals(m.shape, [batch, SIZE, SIZE]);
            const err = compareCams(`${backend} b${batch}`, await m.data(), reference.slice(0, batch));
            console.log(
              `gradcam graph model (${backend}), batch ${batch}: max |Δ| / max = ${err.toExponential(2)}`,
            );
            tf.dispose([x, m]);
          }
          model.dispose();
        }

        const onnx = await buildOnnxModel(net, { imageSize: SIZE, density: graphDensity, anomalyMap: spec });
        assert(onnx.outputs.includes(ANOMALY_MAP_OUTPUT));
        await t.step({
          name: "onnx.checker",
          ignore: checkerMissing !== "",
          fn: () => onnxCheck(onnx.bytes),
        });
        await t.step({
          name: "onnxruntime (cpu)",
          ignore: ortMissing !== "",
          async fn() {
            const session = await createOnnxSession(onnx.bytes);
            try {
              const info = onnxModelInfo(onnx.bytes, "gradcam model");
              const res = await runOnnxBatch({ session, info }, pixelsOf(images), 3);
              const err = compareCams("onnx", res.anomalyMap!, reference);
              console.log(`gradcam onnx: max |Δ| / max = ${err.toExponential(2)}`);
            } finally {
              await session.release();
            }
          },
        });
      } finally {
        disposeParams(net.params);
      }
    },
  });
}

Deno.test("graph map spec: gradcam only at layer4, sigma ≥ 0, a gradcam graph needs a density", async () => {
  assertThrows(() => graphMapSpec("gradcam", { layer: "layer3" }), UserError, "layer4");
  assertThrows(() => graphMapSpec("gradcam", { sigma: -1 }), UserError, "sigma");
  assertEquals(graphMapSpec("gradcam", {}), { method: "gradcam", sigma: 4 });
  assertEquals(graphMapSpec("sspcab", { sigma: 0, layer: "layer3" }), { method: "sspcab", sigma: 0 });
  const net = createProjectionNet(defaultProjectionNetConfig(), 3);
  try {
    await assertRejects(
      () => buildGraphModel(net, { imageSize: SIZE, anomalyMap: graphMapSpec("gradcam") }),
      Error,
      "density",
    );
  } finally {
    disposeParams(net.params);
  }
});

/** A trained-model folder on disk (random net, random BatchNorm) with query PNGs; the caller removes `dir`. */
async function modelOnDisk(seed: number) {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_bundle_map_" });
  const category = "synthetic";
  const modelDir = join(dir, "models");
  await Deno.mkdir(modelDir);
  const config = { ...TRAIN_DEFAULTS, category, size: SIZE, headLayer: 2, variant: "3way" as const };
  const net = createProjectionNet(defaultProjectionNetConfig({ headLayers: headLayersFor(2) }), seed);
  const rng = createRng(seed);
  randomizeBatchNorm(net, rng);
  const modelPath = join(modelDir, `model-${category}.safetensors`);
  await saveStateDict(net.specs, net.params, modelPath, { config: JSON.stringify(config), step: "3" });
  const density = fitGaussianDensity(await embedImages(net, syntheticImages(rng, 12)), { l2Normalize: true });
  const imgDir = join(dir, "images");
  await Deno.mkdir(imgDir);
  const paths: string[] = [];
  for (const [i, img] of syntheticImages(rng, 3).entries()) {
    paths.push(join(imgDir, `query_${i}.png`));
    await saveRgbPng(paths[i], img);
  }
  const images = await Promise.all(paths.map((p) => loadRgb(p, SIZE)));
  const fitted: FittedModel = { category, imageSize: SIZE, density, threshold: 1, auroc: 0.5 };
  return { dir, category, modelDir, modelPath, net, fitted, paths, images };
}

/** The value at quantile `q` of all pixels of `maps` (a pixel threshold inside the maps' range). */
function quantile(maps: readonly Float32Array[], q: number): number {
  const all = Float64Array.from(maps.flatMap((m) => Array.from(m))).sort();
  return all[Math.floor(q * (all.length - 1))];
}

function countAtLeast(map: ArrayLike<number>, t: number): number {
  let n = 0;
  for (let i = 0; i < map.length; i++) if (map[i] >= t) n++;
  return n;
}

/** The `defect area Y.YY%` and `map max X` of a printed line. */
function parseLine(line: string): { area?: number; max: number } {
  const max = /, map max ([0-9.e+-]+)/.exec(line);
  assert(max, `no map max in: ${line}`);
  const area = /, defect area ([0-9.]+)%$/.exec(line);
  return { max: Number(max[1]), ...(area ? { area: Number(area[1]) } : {}) };
}

for (const method of ["sspcab", "gradcam"] as const) {
  Deno.test({
    name: `${method}: export carries the stored map; infer's map and line equal predict's (tfjs, ONNX)`,
    ...opts,
    async fn(t) {
      await initBackend("cpu");
      const m = await modelOnDisk(method === "sspcab" ? 31 : 32);
      try {
        const options = method === "gradcam" ? { layer: "layer4", sigma: 4 } : { sigma: 0, layer: "layer3" };
        // The fitted model first without maps, to compute predict's maps and pick a threshold inside them.
        const bare = {
          ...m.fitted,
          maps: [{ method, options, pixelThreshold: 0, pixelAuroc: 0.5, auPro: 0.3 }],
        };
        const reference = await computeMaps(m.net, bare, method, m.images, 4);
        const pixelThreshold = quantile(reference, 0.8);
        const fitted: FittedModel = { ...bare, maps: [{ ...bare.maps[0], pixelThreshold }] };
        disposeParams(m.net.params);
        await saveFittedModel(fittedModelPath(m.modelDir, m.category), fitted);

        const predicted = await predictImages({
          category: m.category,
          modelDir: m.modelDir,
          inputs: m.paths,
          heatmap: { dir: join(m.dir, "predict_heatmaps") },
        });
        predicted.forEach((p, i) => {
          assertEquals(p.mapMethod, method, "predict's default map is the fitted default");
          const count = countAtLeast(reference[i], pixelThreshold);
          assertEquals(
            p.defectArea,
            count / (SIZE * SIZE),
            `predict ${i}: area = count of pixels ≥ threshold`,
          );
          const parsed = parseLine(formatPrediction(p));
          assertEquals(parsed.area, Number((100 * count / (SIZE * SIZE)).toFixed(2)));
          assertEquals(parsed.max, Number(Math.max(...reference[i]).toFixed(6)));
        });
        assert(
          predicted.some((p) => p.defectArea! > 0 && p.defectArea! < 1),
          "a mask that is neither empty nor full",
        );

        const outDir = join(m.dir, "bundle");
        const result = await exportBundle({
          modelPath: m.modelPath,
          category: m.category,
          outDir,
          format: "all",
        });
        assertEquals(result.note, undefined);
        assertEquals(result.metadata.anomalyMap, { method, options, pixelThreshold });
        assertEquals((await readBundleMetadata(outDir)).anomalyMap, { method, options, pixelThreshold });
        const info = onnxModelInfo(await Deno.readFile(join(outDir, "model.onnx")), "model.onnx");
        assertEquals(info.metadata.anomaly_map_method, method);
        assertEquals(Number(info.metadata.pixel_threshold), pixelThreshold);
        assert(info.outputs.includes(ANOMALY_MAP_OUTPUT));

        const bundle = await loadBundle(outDir);
        const maps = await inferMaps(bundle, m.images);
        const err = method === "gradcam"
          ? compareCams(
            "infer (tfjs) vs predict",
            Float32Array.from(maps.flatMap((x) => Array.from(x))),
            reference,
          )
          : compareMaps(
            "infer (tfjs) vs predict",
            Float32Array.from(maps.flatMap((x) => Array.from(x))),
            reference,
          );
        console.log(`${method}: infer (tfjs) map vs predict's: max |Δ| / max = ${err.toExponential(2)}`);
        const heatDir = join(m.dir, "infer_heatmaps");
        const inferred = await inferImages(bundle, m.paths, { batchSize: 2, heatmap: heatDir });
        bundle.model.dispose();
        const lines = predictionLines(inferred, formatPrediction, true);
        assert(!lines.some((l) => l.startsWith("note:")), "a stored pixel threshold needs no note");
        inferred.forEach((p, i) => {
          assertEquals(p.defectArea, countAtLeast(maps[i], pixelThreshold) / (SIZE * SIZE));
          const rel = Math.abs(p.mapMax! - predicted[i].mapMax!) / predicted[i].mapMax!;
          assert(rel <= REL, `infer ${i}: map max ${p.mapMax} vs predict's ${predicted[i].mapMax}`);
          assert(Math.abs(p.defectArea! - predicted[i].defectArea!) <= 0.01, "areas within 1% of the pixels");
          assertEquals(p.heatmapPath, join(heatDir, `query_${i}.heatmap.png`));
        });
        // The heatmap PNG: the image's size, with the predicted-mask outline drawn in its colour.
        const png = await loadRgb(inferred[0].heatmapPath!);
        assertEquals([png.width, png.height], [SIZE, SIZE]);
        const withArea = inferred.findIndex((p) => p.defectArea! > 0 && p.defectArea! < 1);
        const pic = await loadRgb(inferred[withArea].heatmapPath!);
        let outline = 0;
        for (let p = 0; p < SIZE * SIZE; p++) {
          const [r, g, b] = [pic.data[3 * p], pic.data[3 * p + 1], pic.data[3 * p + 2]];
          if (
            r === PREDICTED_COLOR[0] && g === PREDICTED_COLOR[1] && b === PREDICTED_COLOR[2]
          ) {
            outline++;
          }
        }
        assert(outline > 0, "the heatmap shows the predicted-mask outline");

        await t.step({
          name: "onnxruntime engine",
          ignore: ortMissing !== "",
          async fn() {
            const onnx = await loadOnnxBundle(outDir);
            try {
              const got = await inferImagesOnnx(onnx, m.paths, { heatmap: join(m.dir, "onnx_heatmaps") });
              const res = await runOnnxBatch(onnx, pixelsOf(m.images), m.images.length);
              const e = method === "gradcam"
                ? compareCams("infer (onnx) vs predict", res.anomalyMap!, reference)
                : compareMaps("infer (onnx) vs predict", res.anomalyMap!, reference);
              console.log(`${method}: infer (onnx) map vs predict's: max |Δ| / max = ${e.toExponential(2)}`);
              got.forEach((p, i) => {
                const rel = Math.abs(p.mapMax! - predicted[i].mapMax!) / predicted[i].mapMax!;
                assert(rel <= REL, `onnx ${i}: map max ${p.mapMax} vs predict's ${predicted[i].mapMax}`);
              });
            } finally {
              await onnx.session.release();
            }
          },
        });
      } finally {
        await Deno.remove(m.dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "export without a stored map: the sspcab map, no pixel threshold, said once; --map patch needs eval's patch map",
  ...opts,
  async fn() {
    await initBackend("cpu");
    const m = await modelOnDisk(33);
    try {
      disposeParams(m.net.params);
      await saveFittedModel(fittedModelPath(m.modelDir, m.category), m.fitted);
      const outDir = join(m.dir, "bundle");
      const result = await exportBundle({ modelPath: m.modelPath, category: m.category, outDir });
      assertStringIncludes(result.note ?? "", "no pixel threshold");
      assertEquals(result.metadata.anomalyMap?.method, "sspcab");
      assertEquals(result.metadata.anomalyMap?.pixelThreshold, null);
      const bundle = await loadBundle(outDir);
      const got = await inferImages(bundle, m.paths, { heatmap: join(m.dir, "heat") });
      bundle.model.dispose();
      assert(got.every((p) => p.mapMax !== undefined && p.defectArea === undefined));
      const lines = predictionLines(got, formatPrediction, true);
      assertEquals(lines.filter((l) => l.startsWith("note:")).length, 1);
      assertStringIncludes(lines[0], "no pixel threshold");
      assert(
        lines.slice(1).every((l) => l.startsWith("  heatmap:") || /, map max [0-9.]+$/.test(l)),
        lines.join("\n"),
      );
      // --map gradcam without a stored gradcam map: default options, and the note says so.
      const g = await exportBundle({
        modelPath: m.modelPath,
        category: m.category,
        outDir: join(m.dir, "g"),
        map: "gradcam",
      });
      assertEquals(g.metadata.anomalyMap, {
        method: "gradcam",
        options: { sigma: 4, layer: "layer4" },
        pixelThreshold: null,
      });
      assertStringIncludes(g.note ?? "", "no gradcam map");
      await assertRejects(
        () =>
          exportBundle({
            modelPath: m.modelPath,
            category: m.category,
            outDir: join(m.dir, "p"),
            map: "patch",
          }),
        UserError,
        "deno task eval --localization patch",
      );
      assert(
        !(await Deno.stat(join(m.dir, "p")).then(() => true, () => false)),
        "a refused export writes nothing",
      );
      // A bundle recording the patch map: infer dispatches on the method and needs the patch model's record.
      const meta = await readBundleMetadata(outDir);
      const patchMeta = { ...meta, anomalyMap: { method: "patch" as const, options: {}, pixelThreshold: 1 } };
      assertThrows(() => heatmapSource(patchMeta, outDir), UserError, "no patch model (patchMap)");
      const patchMap = {
        file: "patch_model.json",
        outputs: ["embedding"],
        patchSize: 16,
        stride: 4,
        sigma: 4,
      };
      assertEquals(heatmapSource({ ...patchMeta, patchMap }, outDir), patchMeta.anomalyMap);
    } finally {
      await Deno.remove(m.dir, { recursive: true });
    }
  },
});

Deno.test("metadata.json: anomalyMap and patchMap round-trip; a bad field of either is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_bundle_meta_" });
  try {
    const base: BundleMetadata = {
      format: BUNDLE_FORMAT,
      category: "c",
      imageSize: 64,
      preprocessing: { resize: "r", input: "i", mean: [0, 0, 0], std: [1, 1, 1] },
      threshold: 1,
      density: "gaussian",
      outputs: ["embedding", "score", ANOMALY_MAP_OUTPUT],
      metrics: { auroc: 0.5, step: 1 },
      training: {},
      libraryVersion: "0",
      exportedAt: "now",
      anomalyMap: { method: "gradcam", options: { layer: "layer4", sigma: 4 }, pixelThreshold: 0.25 },
    };
    await writeBundleMetadata(dir, base);
    assertEquals((await readBundleMetadata(dir)).anomalyMap, base.anomalyMap);
    const bad: Array<[unknown, string]> = [
      [{ ...base.anomalyMap, method: "blur" }, "anomalyMap.method"],
      [{ ...base.anomalyMap, pixelThreshold: "high" }, "anomalyMap.pixelThreshold"],
      [{ ...base.anomalyMap, options: { sigma: [4] } }, "anomalyMap.options.sigma"],
      [{ ...base.anomalyMap, options: null }, "anomalyMap.options"],
      ["gradcam", "anomalyMap"],
    ];
    for (const [value, field] of bad) {
      await Deno.writeTextFile(join(dir, "metadata.json"), JSON.stringify({ ...base, anomalyMap: value }));
      await assertRejects(() => readBundleMetadata(dir), UserError, `"${field}"`);
    }
    // patchMap (a patch bundle's own model): round-trips; a bad field is named.
    const patchMap = {
      file: "patch_model.json",
      onnx: "patch_model.onnx",
      outputs: ["embedding", "score"],
      patchSize: 16,
      stride: 4,
      sigma: 4,
    };
    const withPatch: BundleMetadata = {
      ...base,
      outputs: ["embedding", "score"],
      anomalyMap: { method: "patch", options: { patch_size: 16, stride: 4, sigma: 4 }, pixelThreshold: 2 },
      patchMap,
    };
    await writeBundleMetadata(dir, withPatch);
    assertEquals(await readBundleMetadata(dir), withPatch);
    const { file: _file, ...onnxOnly } = patchMap;
    await writeBundleMetadata(dir, { ...withPatch, patchMap: onnxOnly });
    assertEquals((await readBundleMetadata(dir)).patchMap, onnxOnly);
    const { onnx: _onnx, ...neither } = onnxOnly;
    const badPatch: Array<[unknown, string]> = [
      ["patch_model.json", "patchMap"],
      [neither, "patchMap.file"],
      [{ ...patchMap, file: 3 }, "patchMap.file"],
      [{ ...patchMap, onnx: "../model.onnx" }, "patchMap.onnx"],
      [{ ...patchMap, outputs: "embedding" }, "patchMap.outputs"],
      [{ ...patchMap, outputs: ["embedding", 1] }, "patchMap.outputs[1]"],
      [{ ...patchMap, patchSize: 16.5 }, "patchMap.patchSize"],
      [{ ...patchMap, stride: 0 }, "patchMap.stride"],
      [{ ...patchMap, sigma: "4" }, "patchMap.sigma"],
      [{ ...patchMap, sigma: -1 }, "patchMap.sigma"],
    ];
    for (const [value, field] of badPatch) {
      await Deno.writeTextFile(join(dir, "metadata.json"), JSON.stringify({ ...withPatch, patchMap: value }));
      await assertRejects(() => readBundleMetadata(dir), UserError, `"${field}"`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a smoothed sspcab map (σ 2) in the graph model and ONNX equals sspcabMaps with σ 2",
  ...opts,
  async fn(t) {
    await initBackend("cpu");
    const rng = createRng(41);
    const net = createProjectionNet(defaultProjectionNetConfig(), 41);
    try {
      randomizeBatchNorm(net, rng);
      const images = syntheticImages(rng, 2);
      const reference = await sspcabMaps(net, images, { sigma: 2 });
      const spec = graphMapSpec("sspcab", { sigma: 2, layer: "layer3" });
      const graph = await buildGraphModel(net, { imageSize: SIZE, anomalyMap: spec });
      assert(
        !graph.modelJson.modelTopology.node.some((n) => n.op === "ResizeBilinear"),
        "matrices, not a resize",
      );
      const model = await loadGraphModelFromArtifacts(graph);
      const x = tf.tensor4d(pixelsOf(images), [2, SIZE, SIZE, 3]);
      const m = model.execute({ image: x }, ANOMALY_MAP_OUTPUT) as Tensor;
      console.log(
        `sspcab σ 2 graph: max |Δ| / max = ${
          compareMaps("graph", await m.data(), reference).toExponential(2)
        }`,
      );
      tf.dispose([x, m]);
      model.dispose();
      const onnx = await buildOnnxModel(net, { imageSize: SIZE, anomalyMap: spec });
      await t.step({ name: "onnx.checker", ignore: checkerMissing !== "", fn: () => onnxCheck(onnx.bytes) });
      await t.step({
        name: "onnxruntime (cpu)",
        ignore: ortMissing !== "",
        async fn() {
          const session = await createOnnxSession(onnx.bytes);
          try {
            const info = onnxModelInfo(onnx.bytes, "smoothed sspcab model");
            const res = await runOnnxBatch({ session, info }, pixelsOf(images), 2);
            console.log(
              `sspcab σ 2 onnx: max |Δ| / max = ${
                compareMaps("onnx", res.anomalyMap!, reference).toExponential(2)
              }`,
            );
          } finally {
            await session.release();
          }
        },
      });
    } finally {
      disposeParams(net.params);
    }
  },
});
