/**
 * Inference from an exported bundle only — no training code: load the graph model, the density and the
 * metadata, resize images as the metadata says, run the graph to the embedding, score it with the bundle's
 * density and compare the score with the threshold. The anomaly map is the graph's `anomaly_map` output
 * (`sspcab`, `gradcam`) or, for a `patch` bundle, drawn by the bundle's patch model (`patch_maps.ts`: the
 * grid of patches cropped into batches, each patch scored, the scores spread over the pixels).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { loadGraphModelFromDir } from "./bundle_io.ts";
import {
  BUNDLE_FILES,
  type BundleAnomalyMap,
  type BundleMetadata,
  readBundleMetadata,
} from "./bundle_metadata.ts";
import { heatmapPaths, summarizeMap, writeHeatmap } from "../pipeline/heatmap.ts";
import { type FittedModel, loadFittedModel } from "../eval/fitted_model.ts";
import { scoreEmbeddings } from "../eval/density.ts";
import { loadRgb, type RgbImage } from "../data/images.ts";
import { expandImagePaths } from "../data/image_paths.ts";
import type { Prediction } from "../pipeline/predict.ts";
import { UserError } from "../util/errors.ts";
import type { GraphModel, Tensor } from "../util/tensor_types.ts";
import { ANOMALY_MAP_OUTPUT } from "./graph_model.ts";
import { loadPatchMaps, type PatchMapBundle, patchMapsFromBundle } from "./patch_maps.ts";
import { PATCH_MODEL_FILE, PATCH_ONNX_FILE } from "./patch_graph.ts";
import type { OnnxSessionOptions } from "./onnx_engine.ts";

/** The engines that run a bundle: the TensorFlow.js graph model (`model.json`) or ONNX Runtime (`model.onnx`). */
export const INFERENCE_ENGINES = ["tfjs", "onnxruntime"] as const;

/** A loaded bundle. */
export interface InferenceBundle {
  /** The graph model. */
  model: GraphModel;
  /** Its metadata. */
  metadata: BundleMetadata;
  /** The fitted density (for KDE bundles, where the graph outputs only embeddings). */
  fitted: FittedModel;
  /** The bundle's folder (for messages). */
  dir?: string;
  /** The patch model (`patch_model.json`) of a bundle whose map is `patch`, loaded by {@link loadBundle}. */
  patch?: PatchMapBundle;
}

/** Options of {@link loadBundle}. */
export interface LoadBundleOptions {
  /**
   * Load the patch model of a `patch` bundle (default true). Without it the bundle scores images but
   * draws no map (the app server, which shows only graph-output maps, leaves it out).
   */
  patchMap?: boolean;
}

/**
 * Load a bundle folder written by `export`, with clear errors for missing or foreign files; a bundle whose
 * map is `patch` also gets its patch model (see {@link loadBundlePatchMap}). Free it with
 * {@link disposeBundle}.
 */
export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<InferenceBundle> {
  const metadata = await readBundleMetadata(dir);
  if (metadata.formats && !metadata.formats.includes("tfjs")) {
    throw new UserError(
      `${join(dir, BUNDLE_FILES.metadata)}: this bundle holds only ${metadata.formats.join(", ")} models`,
      "run it with the onnxruntime engine, or export again with --format tfjs (or all)",
    );
  }
  const fitted = await loadFittedModel(join(dir, BUNDLE_FILES.density));
  const patch = (options.patchMap ?? true)
    ? await loadBundlePatchMap(dir, metadata, fitted, { engine: "tfjs" })
    : undefined;
  try {
    const model = await loadGraphModelFromDir(dir);
    return { model, metadata, fitted, dir, ...(patch ? { patch } : {}) };
  } catch (err) {
    await patch?.dispose();
    throw err;
  }
}

/** Free a bundle loaded by {@link loadBundle}: the graph model's weights and the patch model's. */
export async function disposeBundle(bundle: InferenceBundle): Promise<void> {
  bundle.model.dispose();
  await bundle.patch?.dispose();
}

/**
 * The patch model of the bundle in `dir` for `engine` (`patch_model.json` for tfjs, `patch_model.onnx` for
 * onnxruntime, with the session `options.onnx`), when the bundle's map is `patch` and its metadata names
 * the patch model (`patchMap`); `undefined` for any other bundle. A patch bundle without the engine's patch
 * file, or whose `metadata.json` geometry differs from the patch model's and `density.json`'s, is a
 * {@link UserError} naming the file.
 */
export async function loadBundlePatchMap(
  dir: string,
  metadata: BundleMetadata,
  fitted: FittedModel,
  options: { engine: "tfjs" | "onnxruntime"; onnx?: OnnxSessionOptions },
): Promise<PatchMapBundle | undefined> {
  const recorded = metadata.patchMap;
  if (metadata.anomalyMap?.method !== "patch" || !recorded) return undefined;
  const where = join(dir, BUNDLE_FILES.metadata);
  const tfjs = options.engine === "tfjs";
  const field = tfjs ? "file" : "onnx";
  const expected = tfjs ? PATCH_MODEL_FILE : PATCH_ONNX_FILE;
  if (recorded[field] !== expected) {
    throw new UserError(
      recorded[field] === undefined
        ? `${where}: this bundle's patch model has no ${
          tfjs ? "TensorFlow.js" : "ONNX"
        } file (patchMap.${field})`
        : `${where}: patchMap.${field} is ${JSON.stringify(recorded[field])}, expected "${expected}"`,
      `export the bundle again with \`deno task export --format ${tfjs ? "tfjs" : "onnx"}\` (or all)` +
        (tfjs ? ", or run it with the onnxruntime engine" : ", or run it with the tfjs engine"),
    );
  }
  const patch = await loadPatchMaps(dir, metadata, { engine: options.engine, fitted, onnx: options.onnx });
  for (const key of ["patchSize", "stride", "sigma"] as const) {
    if (patch.settings[key] !== recorded[key]) {
      await patch.dispose();
      throw new UserError(
        `${where}: patchMap.${key} is ${recorded[key]}, but ${patch.modelPath} and ${
          join(dir, BUNDLE_FILES.density)
        } give ${patch.settings[key]}`,
        "the bundle's files come from different exports — export the bundle again with `deno task export`",
      );
    }
  }
  return patch;
}

/** What {@link runBundleBatch} gives for a batch. */
export interface BundleBatchOutput {
  /** Anomaly scores, one per image (the embedding scored in float64 with the bundle's density), unless not asked for. */
  scores?: Float64Array;
  /** The anomaly maps, `n × size × size` row-major, when asked for (and the bundle has them). */
  maps?: Float32Array;
}

/**
 * Run the graph once on RGB images already resized to the bundle's side, fetching only what is asked for: the
 * `embedding` scored in float64 with the bundle's density (`scores`, default true — exactly as `predict` does;
 * the graph's own float32 `score` is what a browser gets, and this stays accurate for near-singular densities)
 * and the `anomaly_map` (`maps`, default false; only when the bundle has it), both from the same forward pass.
 * Every tensor made here is disposed.
 */
export async function runBundleBatch(
  bundle: InferenceBundle,
  images: RgbImage[],
  options: { scores?: boolean; maps?: boolean } = {},
): Promise<BundleBatchOutput> {
  const withScores = options.scores ?? true;
  const withMaps = (options.maps ?? false) && hasAnomalyMap(bundle);
  const names = [...(withScores ? ["embedding"] : []), ...(withMaps ? [ANOMALY_MAP_OUTPUT] : [])];
  if (names.length === 0) return {};
  const size = bundle.metadata.imageSize;
  const x = tf.tensor4d(packImages(images, size, "runBundleBatch"), [images.length, size, size, 3]);
  try {
    const out = bundle.model.execute({ image: x }, names);
    const tensors = (Array.isArray(out) ? out : [out]) as Tensor[];
    try {
      const result: BundleBatchOutput = {};
      let next = 0;
      if (withScores) {
        result.scores = scoreEmbeddings(bundle.fitted.density, await tensors[next++].data(), images.length);
      }
      if (withMaps) result.maps = await tensors[next].data() as Float32Array;
      return result;
    } finally {
      tf.dispose(tensors);
    }
  } finally {
    x.dispose();
  }
}

/** Score RGB images already resized to the bundle's side, in one forward pass (see {@link runBundleBatch}). */
export async function scoreRgbImages(bundle: InferenceBundle, images: RgbImage[]): Promise<Float64Array> {
  return (await runBundleBatch(bundle, images)).scores!;
}

/**
 * The pixels of images already resized to `size × size`, packed as one `[n, size, size, 3]` float32 array
 * (the input of both model files); an image of another size is a `RangeError` naming `what`.
 */
export function packImages(images: readonly RgbImage[], size: number, what: string): Float32Array {
  const per = size * size * 3;
  const pixels = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    if (img.width !== size || img.height !== size) {
      throw new RangeError(`${what}: image ${i} is ${img.width}x${img.height}, expected ${size}x${size}`);
    }
    pixels.set(img.data, i * per);
  });
  return pixels;
}

/** Whether the bundle's graph outputs a per-pixel anomaly map (models with SSPCAB). */
export function hasAnomalyMap(bundle: InferenceBundle): boolean {
  return bundle.metadata.outputs.includes(ANOMALY_MAP_OUTPUT);
}

/**
 * The patch model of a `patch` bundle, loaded; a bundle loaded without it is a {@link UserError}.
 * `dir` names the bundle in the message.
 */
export function requirePatchMap(bundle: { patch?: PatchMapBundle }, dir: string): PatchMapBundle {
  if (!bundle.patch) {
    throw new UserError(
      `the patch map of this bundle (${dir}) needs its patch model, which was not loaded`,
      "load the bundle with loadBundle / loadOnnxBundle (they load it for a bundle whose map is patch), " +
        "or export the bundle again with `deno task export`",
    );
  }
  return bundle.patch;
}

/** The patch maps of `images` from the bundle's patch model, packed `n × size × size` row-major. */
export async function packedPatchMaps(
  patch: PatchMapBundle,
  images: readonly RgbImage[],
): Promise<Float32Array> {
  const maps = await patchMapsFromBundle(patch, images);
  const per = patch.settings.imageSize ** 2;
  const out = new Float32Array(images.length * per);
  maps.forEach((m, i) => out.set(m, i * per));
  return out;
}

/**
 * The per-pixel anomaly maps (`size × size` row-major, one per image) of RGB images already resized to the
 * bundle's side: the graph's `anomaly_map` (SSPCAB's reconstruction error or GradCAM) in one forward pass,
 * or, for a `patch` bundle, the patch model's map (`patchMapsFromBundle`). A bundle with neither (a model
 * without SSPCAB, or exported before the map existed) is a {@link UserError}.
 */
export async function inferMaps(bundle: InferenceBundle, images: RgbImage[]): Promise<Float32Array[]> {
  if (bundleAnomalyMap(bundle.metadata)?.method === "patch") {
    const patch = requirePatchMap(bundle, bundle.dir ?? ".");
    return images.length ? await patchMapsFromBundle(patch, images) : [];
  }
  if (!hasAnomalyMap(bundle)) {
    throw new UserError(
      `this bundle (${bundle.metadata.category}) has no ${ANOMALY_MAP_OUTPUT} output: its model has no SSPCAB ` +
        "block, or it was exported before the map existed",
      "export a model trained with SSPCAB again with `deno task export`",
    );
  }
  if (images.length === 0) return [];
  const { maps } = await runBundleBatch(bundle, images, { scores: false, maps: true });
  const per = bundle.metadata.imageSize ** 2;
  return images.map((_, i) => maps!.slice(i * per, (i + 1) * per));
}

/**
 * The map a bundle's `anomaly_map` output carries, as its metadata records it; a bundle from before the
 * record with the output carries the sspcab map (no pixel threshold); `null` when it has no map.
 */
export function bundleAnomalyMap(metadata: BundleMetadata): BundleAnomalyMap | null {
  if (metadata.anomalyMap) return metadata.anomalyMap;
  return metadata.outputs.includes(ANOMALY_MAP_OUTPUT)
    ? { method: "sspcab", options: { sigma: 0, layer: "layer3" }, pixelThreshold: null }
    : null;
}

/**
 * The map `infer --heatmap` draws from a bundle, checked: the graph computes `sspcab` and `gradcam` maps
 * itself, the bundle's patch model (`metadata.patchMap`) the `patch` map; a patch map without a recorded
 * patch model, an unknown method, or a bundle without a map is a {@link UserError} naming the bundle.
 */
export function heatmapSource(metadata: BundleMetadata, dir: string): BundleAnomalyMap {
  const map = bundleAnomalyMap(metadata);
  const where = join(dir, BUNDLE_FILES.metadata);
  if (!map) {
    throw new UserError(
      `this bundle (${where}) has no ${ANOMALY_MAP_OUTPUT}: its model has no SSPCAB block and eval stored no map`,
      "evaluate with `deno task eval --localization gradcam` and export again",
    );
  }
  switch (map.method) {
    case "sspcab":
    case "gradcam":
      if (!metadata.outputs.includes(ANOMALY_MAP_OUTPUT)) {
        throw new UserError(
          `${where} records the ${map.method} map but lists no ${ANOMALY_MAP_OUTPUT} output`,
          "export the bundle again with `deno task export`",
        );
      }
      return map;
    case "patch":
      if (!metadata.patchMap) {
        throw new UserError(
          `${where} records the patch map but no patch model (patchMap): the bundle was exported before ` +
            "the patch model existed",
          "export the bundle again with `deno task export`",
        );
      }
      return map;
    default:
      throw new UserError(
        `${where}: unknown anomaly map method "${(map as { method: string }).method}"`,
        "export the bundle again with `deno task export`",
      );
  }
}

/** Options of {@link inferImages} and `inferImagesOnnx`. */
export interface InferOptions {
  /** Images per forward pass (default 8). */
  batchSize?: number;
  /** Decompression-bomb limit. */
  maxPixels?: number;
  /**
   * Also write `<stem>.heatmap.png` per image into this folder (the bundle's map over the image with the
   * predicted-mask outline at its pixel threshold); each prediction then carries the map's maximum and
   * defect area.
   */
  heatmap?: string;
}

/**
 * The map fields of a batch's predictions (and their heatmap PNGs): `maps` is `n × side²` row-major, the
 * bundle's map for `images` (its graph's `anomaly_map`, or the patch model's map).
 */
export async function heatmapFields(
  map: BundleAnomalyMap,
  dir: string,
  paths: readonly string[],
  names: readonly string[],
  images: readonly RgbImage[],
  maps: Float32Array,
): Promise<Array<Pick<Prediction, "heatmapPath" | "mapMax" | "defectArea" | "mapMethod">>> {
  const per = maps.length / images.length;
  const out = [];
  for (let i = 0; i < images.length; i++) {
    const m = maps.subarray(i * per, (i + 1) * per);
    const summary = summarizeMap(m, map.pixelThreshold, `the ${map.method} map of ${paths[i]}`);
    const file = join(dir, names[i]);
    await writeHeatmap(file, images[i], m, map.pixelThreshold);
    out.push({ heatmapPath: file, mapMethod: map.method, ...summary });
  }
  return out;
}

/**
 * Score images with a loaded bundle, `batchSize` at a time; `maxPixels` is the decompression-bomb limit;
 * `heatmap` also draws the bundle's map (see {@link heatmapSource}) per image.
 */
export async function inferImages(
  bundle: InferenceBundle,
  inputs: string[],
  options: InferOptions = {},
): Promise<Prediction[]> {
  const paths = await expandImagePaths(inputs);
  const size = bundle.metadata.imageSize;
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const map = options.heatmap !== undefined ? heatmapSource(bundle.metadata, bundle.dir ?? ".") : null;
  const patch = map?.method === "patch" ? requirePatchMap(bundle, bundle.dir ?? ".") : undefined;
  const names = options.heatmap !== undefined ? heatmapPaths("", paths) : [];
  const out: Prediction[] = [];
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const images = await Promise.all(chunk.map((p) => loadRgb(p, size, { maxPixels: options.maxPixels })));
    const res = await runBundleBatch(bundle, images, { maps: map !== null && !patch });
    const scores = res.scores!;
    const maps = patch ? await packedPatchMaps(patch, images) : res.maps;
    const fields = map
      ? await heatmapFields(map, options.heatmap!, chunk, names.slice(start), images, maps!)
      : [];
    chunk.forEach((path, i) => {
      const score = scores[i];
      out.push({
        path,
        score,
        threshold: bundle.metadata.threshold,
        anomalous: score >= bundle.metadata.threshold,
        ...(fields[i] ?? {}),
      });
    });
  }
  return out;
}
