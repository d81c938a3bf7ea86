/**
 * The export bundle's patch-level map (`lib/export/patch_graph.ts` + `patch_maps.ts`): for random
 * ProjectionNets (with SSPCAB at 40² patches — the smallest SSPCAB side is 33 — and unfused convolutions;
 * without SSPCAB at 32² with fused ones; random BatchNorm statistics so folding matters) on 64² synthetic
 * images with stride 8, the maps drawn from the bundle's files alone (the TensorFlow.js patch model, and the
 * ONNX one when onnxruntime is installed) equal the library's `patchMaps` (the unfolded eval-mode network,
 * `lib/localize/patch.ts`) within 1e-4 of each map's maximum, for several batch sizes; the patch graph's own
 * float32 `score` is the Mahalanobis distance of its embedding; a bundle whose patch model is missing,
 * damaged or from another export is a UserError naming the file.
 *
 * End to end (`exportBundle` → `loadBundle` / `loadOnnxBundle` → `inferImages` / `inferImagesOnnx`): a
 * model trained with `--patch_size` whose fitted density holds the patch map exports a bundle with the patch
 * model (metadata `patchMap`: files, outputs, geometry; no `anomaly_map` in the main graph), and `infer
 * --heatmap`'s maps and printed lines equal `predict --heatmap --map patch`'s (maps within 1e-4 of their
 * maximum, the same defect area, the same verdicts); disposing the bundle frees every tensor; a bundle
 * whose metadata disagrees with its patch model, or lacks the engine's patch file, and exports without the
 * patch map or with a patch too small for the model, are UserErrors; the app's engine serves a patch
 * bundle's scores with no map.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  type ProjectionNet,
} from "../lib/model/projection_net.ts";
import { disposeParams } from "../lib/model/params.ts";
import { createRng } from "../lib/util/rng.ts";
import { UserError } from "../lib/util/errors.ts";
import type { RgbImage } from "../lib/data/rgb_image.ts";
import { fitPatchDensity, patchMaps } from "../lib/localize/patch.ts";
import { type GaussianDensity, scoreEmbeddings } from "../lib/eval/density.ts";
import { cropPatchBatch, patchOffsets } from "../lib/localize/patch_grid.ts";
import { loadGraphModelFromDir } from "../lib/export/bundle_io.ts";
import type { Tensor } from "../lib/util/tensor_types.ts";
import { type FittedMap, type FittedModel, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { loadOnnxRuntime } from "../lib/export/onnx_engine.ts";
import {
  PATCH_MODEL_FILE,
  PATCH_ONNX_FILE,
  PATCH_WEIGHTS_FILE,
  writePatchGraph,
} from "../lib/export/patch_graph.ts";
import { loadPatchMaps, patchMapsFromBundle } from "../lib/export/patch_maps.ts";
import { patchModelOnDisk, patchTestImages } from "./helpers/patch_model.ts";
import { formatPrediction, predictImages, type Prediction } from "../lib/pipeline/predict.ts";
import { exportBundle } from "../lib/export/bundle.ts";
import { BUNDLE_FILES, readBundleMetadata, writeBundleMetadata } from "../lib/export/bundle_metadata.ts";
import {
  disposeBundle,
  heatmapSource,
  inferImages,
  inferMaps,
  loadBundle,
  packedPatchMaps,
} from "../lib/export/infer.ts";
import { inferImagesOnnx, loadOnnxBundle, releaseOnnxBundle } from "../lib/export/onnx_engine.ts";
import { onnxModelInfo } from "../lib/export/onnx/model_file.ts";
import { loadRgb } from "../lib/data/images.ts";
import { fittedModelPath, loadFittedModel } from "../lib/eval/fitted_model.ts";
import { loadScoringEngine } from "../lib/app/engine.ts";
import { summarizeBundle } from "../lib/app/models.ts";
import { randomizeBatchNorm } from "./helpers/random_net.ts";

const SIZE = 64;
const STRIDE = 8;
const REL = 1e-4;
const opts = { sanitizeResources: false, sanitizeOps: false };

await initBackend("cpu");

const ortMissing = await loadOnnxRuntime().then(() => "", (e: Error) => e.message.split("\n")[0]);
if (ortMissing) console.log(`onnxruntime checks skipped: ${ortMissing}`);

/**
 * Assert that every map equals its reference within REL of the reference's maximum (the maps must vary, or a
 * spreading error would not show); returns the largest relative difference.
 */
function compareMaps(
  label: string,
  actual: readonly Float32Array[],
  expected: readonly Float32Array[],
): number {
  assertEquals(actual.length, expected.length, `${label}: number of maps`);
  let worst = 0;
  expected.forEach((ref, i) => {
    assertEquals(actual[i].length, SIZE * SIZE, `${label}: map ${i} size`);
    let max = 0;
    let min = Infinity;
    for (const v of ref) {
      max = Math.max(max, Math.abs(v));
      min = Math.min(min, v);
    }
    assert(max > 0, `${label}: reference map ${i} is all zero (the test would prove nothing)`);
    assert(max - min > 0.02 * max, `${label}: reference map ${i} is nearly flat (${min}…${max})`);
    let diff = 0;
    for (let p = 0; p < ref.length; p++) diff = Math.max(diff, Math.abs(actual[i][p] - ref[p]));
    const rel = diff / max;
    assert(rel <= REL, `${label}: map ${i} max |Δ| ${diff} is ${rel.toExponential(2)} of its max ${max}`);
    worst = Math.max(worst, rel);
  });
  return worst;
}

interface Case {
  net: ProjectionNet;
  patchSize: number;
  density: GaussianDensity;
  map: FittedMap;
  images: RgbImage[];
}

async function makeCase(sspcab: boolean, patchSize: number, seed: number): Promise<Case> {
  const config = sspcab
    ? defaultProjectionNetConfig()
    : defaultProjectionNetConfig({ sspcab: null, sspcabLambda: 0 });
  const net = createProjectionNet(config, seed);
  const rng = createRng(seed + 1);
  randomizeBatchNorm(net, rng);
  const train = patchTestImages(rng, 4, false);
  const density = await fitPatchDensity(net, train, { patchSize, stride: STRIDE });
  const map: FittedMap = {
    method: "patch",
    options: { patch_size: patchSize, stride: STRIDE },
    pixelThreshold: 1,
    pixelAuroc: 0.5,
    auPro: 0.5,
    patchDensity: density,
  };
  return { net, patchSize, density, map, images: patchTestImages(rng, 3, true) };
}

/** A bundle folder with the fitted density (holding the patch map) and the patch model files. */
async function writeBundle(c: Case, format: "tfjs" | "onnx" | "all" = "all", fuse = false): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bundle_patch_" });
  const fitted: FittedModel = {
    category: "synthetic",
    imageSize: SIZE,
    density: c.density,
    threshold: 1,
    auroc: 0.5,
    maps: [c.map],
  };
  await saveFittedModel(join(dir, "density.json"), fitted);
  const written = await writePatchGraph(dir, c.net, c.map, {
    imageSize: SIZE,
    format,
    category: "synthetic",
    fuse,
  });
  assertEquals(written.outputs, ["embedding", "score"]);
  assertEquals(
    written.files[written.files.length - 1],
    join(dir, format === "onnx" ? PATCH_ONNX_FILE : PATCH_MODEL_FILE),
  );
  return dir;
}

async function rejectsUser(fn: () => Promise<unknown>, ...includes: string[]): Promise<void> {
  const err = await assertRejects(fn);
  assert(err instanceof UserError, `expected a UserError, got ${(err as Error).stack}`);
  for (const s of includes) assertStringIncludes(err.message, s);
}

const withSspcab = await makeCase(true, 40, 11);
const plain = await makeCase(false, 32, 21);

for (const [label, c] of [["SSPCAB, 40² patches", withSspcab], ["no SSPCAB, 32² patches", plain]] as const) {
  Deno.test({
    name: `bundle patch maps equal patchMaps (${label}, stride ${STRIDE}, 64² images)`,
    ...opts,
    fn: async () => {
      const expected = await patchMaps(c.net, c.density, c.images, {
        patchSize: c.patchSize,
        stride: STRIDE,
      });
      // Unfused convolutions (the default) with SSPCAB, fused ones without.
      const dir = await writeBundle(c, "all", c === plain);
      try {
        const before = tf.memory().numTensors;
        const bundle = await loadPatchMaps(dir, { imageSize: SIZE });
        assertEquals(bundle.settings, {
          imageSize: SIZE,
          patchSize: c.patchSize,
          stride: STRIDE,
          sigma: c.patchSize / 4,
        });
        const progress: number[] = [];
        for (const batchSize of [5, 64]) {
          const maps = await patchMapsFromBundle(bundle, c.images, {
            batchSize,
            onProgress: (done) => progress.push(done),
          });
          const rel = compareMaps(`tfjs, batch ${batchSize}`, maps, expected);
          console.log(`${label}: tfjs batch ${batchSize} worst |Δ| / max = ${rel.toExponential(2)}`);
        }
        assertEquals(progress, [1, 2, 3, 1, 2, 3]);
        await bundle.dispose();
        // The graph's own float32 `score` (what a browser reads) is the Mahalanobis distance of its embedding.
        const graph = await loadGraphModelFromDir(dir, PATCH_MODEL_FILE);
        const p = c.patchSize;
        const tops = patchOffsets(SIZE, p, STRIDE);
        const patches = cropPatchBatch(Float32Array.from(c.images[0].data), SIZE, tops, tops, p, 0, 6);
        const x = tf.tensor4d(patches, [6, p, p, 3]);
        const [e, s] = graph.execute({ image: x }, ["embedding", "score"]) as Tensor[];
        const want = scoreEmbeddings(c.density, await e.data(), 6);
        const got = await s.data();
        want.forEach((w, k) =>
          assert(Math.abs(got[k] - w) <= 1e-3 * w, `graph score ${k}: ${got[k]} vs ${w}`)
        );
        tf.dispose([x, e, s]);
        graph.dispose();
        assertEquals(tf.memory().numTensors, before, "tensors left behind");
        if (!ortMissing) {
          const onnx = await loadPatchMaps(dir, { imageSize: SIZE }, { engine: "onnxruntime" });
          try {
            const rel = compareMaps(
              "onnxruntime",
              await patchMapsFromBundle(onnx, c.images, { batchSize: 7 }),
              expected,
            );
            console.log(`${label}: onnxruntime worst |Δ| / max = ${rel.toExponential(2)}`);
          } finally {
            await onnx.dispose();
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "a bundle whose patch model is missing, damaged or from another export is a UserError naming the file",
  ...opts,
  fn: async () => {
    const c = withSspcab;
    const dir = await writeBundle(c);
    const meta = { imageSize: SIZE };
    try {
      // Missing files.
      const jsonPath = join(dir, PATCH_MODEL_FILE);
      const json = await Deno.readTextFile(jsonPath);
      await Deno.remove(jsonPath);
      await rejectsUser(() => loadPatchMaps(dir, meta), jsonPath, "not found");
      await Deno.writeTextFile(jsonPath, json);
      const weights = join(dir, PATCH_WEIGHTS_FILE);
      const bytes = await Deno.readFile(weights);
      await Deno.writeFile(weights, bytes.subarray(0, 1000));
      await rejectsUser(() => loadPatchMaps(dir, meta), weights, jsonPath);
      await Deno.remove(weights);
      await rejectsUser(() => loadPatchMaps(dir, meta), weights, "not found");
      await Deno.writeFile(weights, bytes);
      const onnxPath = join(dir, PATCH_ONNX_FILE);
      await Deno.rename(onnxPath, `${onnxPath}.away`);
      await rejectsUser(() => loadPatchMaps(dir, meta, { engine: "onnxruntime" }), onnxPath, "not found");
      await Deno.rename(`${onnxPath}.away`, onnxPath);

      // Not JSON, or not a patch model (the bundle's main graph model in its place).
      await Deno.writeTextFile(jsonPath, "{ not json");
      await rejectsUser(() => loadPatchMaps(dir, meta), jsonPath, "not valid JSON");
      const doc = JSON.parse(json);
      const foreign = structuredClone(doc);
      delete foreign.userDefinedMetadata.sspcab.user.patch_map;
      await Deno.writeTextFile(jsonPath, JSON.stringify(foreign));
      await rejectsUser(() => loadPatchMaps(dir, meta), jsonPath, "not a patch model");

      // Mismatches with density.json / metadata.json.
      const wrongInput = structuredClone(doc);
      wrongInput.signature.inputs.image.tensorShape.dim[1].size = "48";
      await Deno.writeTextFile(jsonPath, JSON.stringify(wrongInput));
      await rejectsUser(() => loadPatchMaps(dir, meta), jsonPath, "expected [-1, 40, 40, 3]");
      await Deno.writeTextFile(jsonPath, json);
      await rejectsUser(() => loadPatchMaps(dir, { imageSize: 128 }), jsonPath, "imageSize", "128");
      const densityPath = join(dir, "density.json");
      const fitted: FittedModel = {
        category: "synthetic",
        imageSize: SIZE,
        density: c.density,
        threshold: 1,
        auroc: 0.5,
        maps: [{ ...c.map, options: { patch_size: 40, stride: 4 } }],
      };
      await saveFittedModel(densityPath, fitted);
      await rejectsUser(() => loadPatchMaps(dir, meta), jsonPath, "stride", densityPath);
      await rejectsUser(() => loadPatchMaps(dir, meta, { engine: "onnxruntime" }), onnxPath, "stride");
      await saveFittedModel(densityPath, { ...fitted, maps: [{ ...c.map, method: "sspcab" }] });
      await rejectsUser(() => loadPatchMaps(dir, meta), densityPath, "no patch map");
      await saveFittedModel(densityPath, {
        ...fitted,
        maps: [{ ...c.map, options: { patch_size: 80, stride: 8 } }],
      });
      await rejectsUser(() => loadPatchMaps(dir, meta), densityPath, "larger than the image");

      // Export-side refusals: a patch too small for SSPCAB, or a map that is not the patch map.
      await rejectsUser(
        () =>
          writePatchGraph(dir, c.net, { ...c.map, options: { patch_size: 32, stride: 8 } }, {
            imageSize: SIZE,
          }),
        "at least 33",
      );
      await rejectsUser(
        () => writePatchGraph(dir, c.net, { ...c.map, method: "gradcam" }, { imageSize: SIZE }),
        'not "patch"',
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Assert that `infer`'s predictions print as `predict`'s: the same verdict, the same defect area, the score
 * and the map maximum within REL (relative).
 */
function compareLines(
  label: string,
  inferred: readonly Prediction[],
  predicted: readonly Prediction[],
): void {
  assertEquals(inferred.length, predicted.length, `${label}: predictions`);
  const parse = (line: string) => {
    const m =
      /^image_name: (.+), data is (\w+), score is ([0-9.]+), threshold is ([0-9.]+), map max ([0-9.]+), defect area ([0-9.]+)%$/
        .exec(line);
    assert(m, `${label}: unexpected line: ${line}`);
    return { head: `${m[1]} ${m[2]} ${m[4]}`, score: Number(m[3]), max: Number(m[5]), area: m[6] };
  };
  predicted.forEach((p, i) => {
    const [want, got] = [parse(formatPrediction(p)), parse(formatPrediction(inferred[i]))];
    assertEquals(got.head, want.head, `${label} ${i}: path, verdict, threshold`);
    assertEquals(got.area, want.area, `${label} ${i}: defect area`);
    assert(
      Math.abs(got.max - want.max) <= REL * want.max,
      `${label} ${i}: map max ${got.max} vs ${want.max}`,
    );
    assert(
      Math.abs(got.score - want.score) <= REL * want.score,
      `${label} ${i}: score ${got.score} vs ${want.score}`,
    );
  });
  assert(
    predicted.some((p) => p.defectArea! > 0 && p.defectArea! < 1),
    `${label}: no mask is neither empty nor full (the areas would prove little)`,
  );
}

for (
  const c of [
    { label: "SSPCAB, 40² patches", sspcab: true, patchSize: 40, seed: 41 },
    { label: "no SSPCAB, 32² patches", sspcab: false, patchSize: 32, seed: 42 },
  ]
) {
  Deno.test({
    name:
      `export → infer --heatmap of a patch model (${c.label}): maps and lines equal predict --map patch's`,
    ...opts,
    fn: async (t) => {
      const m = await patchModelOnDisk({ ...c, defaultMap: "patch" });
      try {
        // The pixel threshold sits in a gap wider than the tolerance: no pixel may cross it on rounding.
        const top = Math.max(...m.reference.map((r) => Math.max(...r)));
        assert(m.gap / 2 > REL * top, `gap ${m.gap} around the pixel threshold is within the tolerance`);
        const predicted = await predictImages({
          category: m.category,
          modelDir: m.modelDir,
          inputs: m.paths,
          heatmap: { dir: join(m.dir, "predict"), map: "patch" },
        });
        predicted.forEach((p, i) => assertEquals(p.mapMethod, "patch", `predict ${i}`));
        predicted.forEach((q, i) => {
          const max = Math.max(...m.reference[i]);
          assert(Math.abs(q.mapMax! - max) <= 1e-6 * max, `predict ${i}: map max ${q.mapMax} vs ${max}`);
        });

        // The fitted default map is the patch map: the bundle carries it without --map.
        const outDir = join(m.dir, "bundle");
        const result = await exportBundle({
          modelPath: m.modelPath,
          category: m.category,
          outDir,
          format: "all",
        });
        assertEquals(result.note, undefined);
        const p = c.patchSize;
        const wantPatchMap = {
          file: PATCH_MODEL_FILE,
          onnx: PATCH_ONNX_FILE,
          outputs: ["embedding", "score"],
          patchSize: p,
          stride: STRIDE,
          sigma: p / 4,
        };
        const wantMap = {
          method: "patch",
          options: m.patchMap.options,
          pixelThreshold: m.patchMap.pixelThreshold,
        };
        assertEquals(result.metadata.anomalyMap, wantMap);
        assertEquals(result.metadata.patchMap, wantPatchMap);
        assertEquals(result.metadata.outputs, ["embedding", "score"], "no anomaly_map in the main graph");
        const meta = await readBundleMetadata(outDir);
        assertEquals([meta.anomalyMap, meta.patchMap], [wantMap, wantPatchMap]);
        for (const f of [PATCH_MODEL_FILE, PATCH_WEIGHTS_FILE, PATCH_ONNX_FILE]) {
          assert(result.files.includes(join(outDir, f)), `${f} listed`);
        }
        assertEquals(result.files[result.files.length - 1], join(outDir, BUNDLE_FILES.metadata));
        const mainOnnx = onnxModelInfo(await Deno.readFile(join(outDir, "model.onnx")), "model.onnx");
        assertEquals(mainOnnx.outputs.includes("anomaly_map"), false);
        // density.json keeps the patch density the patch model's scores come from.
        const stored = await loadFittedModel(join(outDir, BUNDLE_FILES.density));
        assertEquals(stored.maps?.[0].patchDensity, m.patchMap.patchDensity);

        const before = tf.memory().numTensors;
        const bundle = await loadBundle(outDir);
        assertEquals(bundle.patch?.engine, "tfjs");
        const maps = await inferMaps(bundle, m.images);
        const rel = compareMaps("inferMaps (tfjs) vs predict", maps, m.reference);
        console.log(`${c.label}: infer (tfjs) map vs predict's: max |Δ| / max = ${rel.toExponential(2)}`);
        const heatDir = join(m.dir, "infer");
        const inferred = await inferImages(bundle, m.paths, { batchSize: 2, heatmap: heatDir });
        compareLines("infer (tfjs)", inferred, predicted);
        inferred.forEach((q, i) => assertEquals(q.heatmapPath, join(heatDir, `query_${i}.heatmap.png`)));
        const png = await loadRgb(inferred[0].heatmapPath!);
        assertEquals([png.width, png.height], [SIZE, SIZE]);
        await disposeBundle(bundle);
        assertEquals(tf.memory().numTensors, before, "disposeBundle frees the graph and the patch model");
        // metadata.json naming no ONNX patch model: the onnxruntime engine says so (before any session).
        const { onnx: _onnx, ...tfjsOnly } = meta.patchMap!;
        await writeBundleMetadata(outDir, { ...meta, patchMap: tfjsOnly });
        await rejectsUser(
          () => loadOnnxBundle(outDir),
          join(outDir, BUNDLE_FILES.metadata),
          "no ONNX file (patchMap.onnx)",
        );
        await writeBundleMetadata(outDir, meta);

        await t.step({
          name: "onnxruntime engine",
          ignore: ortMissing !== "",
          fn: async () => {
            const onnx = await loadOnnxBundle(outDir);
            try {
              assertEquals(onnx.patch?.engine, "onnxruntime");
              const got = await inferImagesOnnx(onnx, m.paths, { heatmap: join(m.dir, "onnx") });
              compareLines("infer (onnxruntime)", got, predicted);
              const packed = await packedPatchMaps(onnx.patch!, m.images);
              const per = SIZE * SIZE;
              const e = compareMaps(
                "onnxruntime vs predict",
                m.images.map((_, i) => packed.slice(i * per, (i + 1) * per)),
                m.reference,
              );
              console.log(
                `${c.label}: infer (onnxruntime) map vs predict's: max |Δ| / max = ${e.toExponential(2)}`,
              );
            } finally {
              await releaseOnnxBundle(onnx);
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
  name: "patch bundles: metadata that disagrees with the patch model, a missing patch file, bad exports",
  ...opts,
  fn: async () => {
    const m = await patchModelOnDisk({ seed: 43, sspcab: true, patchSize: 40, defaultMap: "sspcab" });
    try {
      // The fitted default is sspcab: the bundle carries it and no patch model, unless --map patch.
      const sspcabDir = join(m.dir, "sspcab");
      const plain = await exportBundle({ modelPath: m.modelPath, category: m.category, outDir: sspcabDir });
      assertEquals(plain.metadata.anomalyMap?.method, "sspcab");
      assertEquals(plain.metadata.patchMap, undefined);
      assert(!plain.files.some((f) => f.includes("patch_model")), "no patch model for an sspcab bundle");
      const sspcabBundle = await loadBundle(sspcabDir);
      assertEquals(sspcabBundle.patch, undefined);
      await disposeBundle(sspcabBundle);

      const outDir = join(m.dir, "bundle");
      const result = await exportBundle({
        modelPath: m.modelPath,
        category: m.category,
        outDir,
        map: "patch",
      });
      assertEquals(result.metadata.anomalyMap?.method, "patch");
      assertEquals(result.metadata.patchMap?.file, PATCH_MODEL_FILE);
      assertEquals(result.metadata.patchMap?.onnx, undefined, "format tfjs writes no patch_model.onnx");
      const metaPath = join(outDir, BUNDLE_FILES.metadata);
      const meta = await readBundleMetadata(outDir);

      // Loaded without the patch model (as the app does), the bundle scores but cannot draw the map.
      const scoresOnly = await loadBundle(outDir, { patchMap: false });
      assertEquals(scoresOnly.patch, undefined);
      await rejectsUser(
        () => inferImages(scoresOnly, m.paths, { heatmap: join(m.dir, "x") }),
        "needs its patch model",
      );
      const scored = await inferImages(scoresOnly, m.paths);
      assertEquals(scored.length, m.paths.length);
      await disposeBundle(scoresOnly);
      // The app's engine serves a patch bundle's scores with no map (and without loading the patch model).
      const before = tf.memory().numTensors;
      const engine = await loadScoringEngine(outDir);
      const out = await engine.score(m.images);
      assertEquals(out.maps, undefined);
      assertEquals(Array.from(out.scores), scored.map((p) => p.score));
      assertEquals(summarizeBundle("b", engine.metadata, []).has_anomaly_map, false);
      await engine.dispose();
      assertEquals(tf.memory().numTensors, before, "the app engine leaves no tensors");

      // metadata.json disagreeing with the patch model, or naming no tfjs patch file.
      await writeBundleMetadata(outDir, { ...meta, patchMap: { ...meta.patchMap!, stride: 4 } });
      await rejectsUser(
        () => loadBundle(outDir),
        metaPath,
        "patchMap.stride",
        join(outDir, PATCH_MODEL_FILE),
      );
      const { file: _file, ...noFile } = meta.patchMap!;
      await writeBundleMetadata(outDir, { ...meta, patchMap: { ...noFile, onnx: PATCH_ONNX_FILE } });
      await rejectsUser(() => loadBundle(outDir), metaPath, "no TensorFlow.js file");
      // A patch record without the patch model (an older bundle): infer --heatmap says to export again.
      const { patchMap: _p, ...older } = meta;
      assertThrows(() => heatmapSource(older, outDir), UserError, "no patch model");
      assertEquals(heatmapSource(meta, outDir), meta.anomalyMap);

      // Export refusals, before anything is written.
      const densityPath = fittedModelPath(m.modelDir, m.category);
      const exportTo = (name: string) =>
        exportBundle({
          modelPath: m.modelPath,
          category: m.category,
          outDir: join(m.dir, name),
          map: "patch",
        });
      await saveFittedModel(densityPath, { ...m.fitted, maps: [m.fitted.maps![0]] });
      await rejectsUser(() => exportTo("a"), "no patch map", "deno task eval --localization patch");
      await saveFittedModel(densityPath, {
        ...m.fitted,
        maps: [{ ...m.patchMap, options: { patch_size: 32, stride: STRIDE } }],
      });
      await rejectsUser(() => exportTo("c"), "at least 33");
      await saveFittedModel(densityPath, {
        ...m.fitted,
        maps: [{ ...m.patchMap, options: { patch_size: 40, stride: 0 } }],
      });
      await rejectsUser(() => exportTo("d"), densityPath, "options.stride");
      for (const name of ["a", "c", "d"]) {
        const written = await Deno.stat(join(m.dir, name)).then(() => true, () => false);
        assert(!written, `a refused export wrote ${name}/`);
      }
    } finally {
      await Deno.remove(m.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bundle patch test: free the nets",
  ...opts,
  fn: () => {
    disposeParams(withSspcab.net.params);
    disposeParams(plain.net.params);
  },
});
