/**
 * Inference from an exported bundle only — no training code: load the graph model, the density and the
 * metadata, resize images as the metadata says, run the graph to the embedding, score it with the bundle's
 * density and compare the score with the threshold.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { loadGraphModelFromDir } from "./bundle_io.ts";
import { BUNDLE_FILES, type BundleMetadata, readBundleMetadata } from "./bundle_metadata.ts";
import { type FittedModel, loadFittedModel } from "../eval/fitted_model.ts";
import { scoreRows } from "../eval/density.ts";
import { createMatrix } from "../eval/linalg.ts";
import { loadRgb, type RgbImage } from "../data/images.ts";
import { expandImagePaths } from "../data/image_paths.ts";
import type { Prediction } from "../pipeline/predict.ts";
import { UserError } from "../util/errors.ts";
import type { GraphModel, Tensor2D, Tensor3D } from "../util/tensor_types.ts";
import { ANOMALY_MAP_OUTPUT } from "./graph_model.ts";

/** A loaded bundle. */
export interface InferenceBundle {
  /** The graph model. */
  model: GraphModel;
  /** Its metadata. */
  metadata: BundleMetadata;
  /** The fitted density (for KDE bundles, where the graph outputs only embeddings). */
  fitted: FittedModel;
}

/** Load a bundle folder written by `export`, with clear errors for missing or foreign files. */
export async function loadBundle(dir: string): Promise<InferenceBundle> {
  const metadata = await readBundleMetadata(dir);
  if (metadata.formats && !metadata.formats.includes("tfjs")) {
    throw new UserError(
      `${join(dir, BUNDLE_FILES.metadata)}: this bundle holds only ${metadata.formats.join(", ")} models`,
      "run it with the onnxruntime engine, or export again with --format tfjs (or all)",
    );
  }
  const fitted = await loadFittedModel(join(dir, BUNDLE_FILES.density));
  const model = await loadGraphModelFromDir(dir);
  return { model, metadata, fitted };
}

/**
 * Score RGB images already resized to the bundle's side, in one forward pass: the graph runs to the embedding
 * and the embedding is scored in float64 with the bundle's density. Every tensor made here is disposed.
 */
export async function scoreRgbImages(bundle: InferenceBundle, images: RgbImage[]): Promise<Float64Array> {
  const x = inputTensor(bundle, images, "scoreRgbImages");
  try {
    // The graph's own `score` output is float32 (what a browser gets); here the embedding is scored in float64
    // with the bundle's density, exactly as `predict` does, which stays accurate for near-singular densities.
    const e = bundle.model.execute({ image: x }, "embedding") as Tensor2D;
    try {
      const rows = createMatrix(e.shape[0], e.shape[1], Float64Array.from(await e.data()));
      return scoreRows(bundle.fitted.density, rows);
    } finally {
      e.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** The `[n, size, size, 3]` input of images already resized to the bundle's side. */
function inputTensor(bundle: InferenceBundle, images: RgbImage[], what: string) {
  const size = bundle.metadata.imageSize;
  const pixels = new Float32Array(images.length * size * size * 3);
  images.forEach((img, i) => {
    if (img.width !== size || img.height !== size) {
      throw new RangeError(`${what}: image ${i} is ${img.width}x${img.height}, expected ${size}x${size}`);
    }
    pixels.set(img.data, i * size * size * 3);
  });
  return tf.tensor4d(pixels, [images.length, size, size, 3]);
}

/** Whether the bundle's graph outputs a per-pixel anomaly map (models with SSPCAB). */
export function hasAnomalyMap(bundle: InferenceBundle): boolean {
  return bundle.metadata.outputs.includes(ANOMALY_MAP_OUTPUT);
}

/**
 * The per-pixel anomaly maps (SSPCAB's reconstruction error, `size × size` row-major, one per image) of RGB
 * images already resized to the bundle's side, in one forward pass. A bundle without the map output (a model
 * without SSPCAB, or exported before the map existed) is a {@link UserError}.
 */
export async function inferMaps(bundle: InferenceBundle, images: RgbImage[]): Promise<Float32Array[]> {
  if (!hasAnomalyMap(bundle)) {
    throw new UserError(
      `this bundle (${bundle.metadata.category}) has no ${ANOMALY_MAP_OUTPUT} output: its model has no SSPCAB ` +
        "block, or it was exported before the map existed",
      "export a model trained with SSPCAB again with `deno task export`",
    );
  }
  if (images.length === 0) return [];
  const x = inputTensor(bundle, images, "inferMaps");
  try {
    const m = bundle.model.execute({ image: x }, ANOMALY_MAP_OUTPUT) as Tensor3D;
    try {
      const [n, h, w] = m.shape;
      const data = await m.data() as Float32Array;
      return Array.from({ length: n }, (_, i) => data.slice(i * h * w, (i + 1) * h * w));
    } finally {
      m.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** Score images with a loaded bundle, `batchSize` at a time; `maxPixels` is the decompression-bomb limit. */
export async function inferImages(
  bundle: InferenceBundle,
  inputs: string[],
  options: { batchSize?: number; maxPixels?: number } = {},
): Promise<Prediction[]> {
  const paths = await expandImagePaths(inputs);
  const size = bundle.metadata.imageSize;
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const out: Prediction[] = [];
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const images = await Promise.all(chunk.map((p) => loadRgb(p, size, { maxPixels: options.maxPixels })));
    const scores = await scoreRgbImages(bundle, images);
    chunk.forEach((path, i) => {
      const score = scores[i];
      out.push({
        path,
        score,
        threshold: bundle.metadata.threshold,
        anomalous: score >= bundle.metadata.threshold,
      });
    });
  }
  return out;
}
