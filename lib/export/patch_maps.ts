/**
 * Patch-level anomaly maps from an export bundle only — no training code: every image's patch grid is cropped
 * into batches of raw RGB patches, the bundle's patch model (`patch_model.json`, or `patch_model.onnx` with
 * ONNX Runtime; see `patch_graph.ts`) embeds them, each embedding is scored in float64 under the patch density
 * of `density.json` (as the library and the bundle's image scores are), and the grid of scores is spread over
 * the pixels with the Gaussian-weighted receptive field of `lib/localize/patch_grid.ts` — the map
 * `patchMaps` (`lib/localize/patch.ts`) draws.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { type Density, scoreEmbeddings } from "../eval/density.ts";
import { fittedMap, type FittedModel, loadFittedModel } from "../eval/fitted_model.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { cropPatchBatch, patchOffsets, patchScoresToMap } from "../localize/patch_grid.ts";
import { UserError } from "../util/errors.ts";
import type { GraphModel, Tensor } from "../util/tensor_types.ts";
import { loadGraphModelFromDir, readGraphModelJson } from "./bundle_io.ts";
import { BUNDLE_FILES, type BundleMetadata } from "./bundle_metadata.ts";
import type { GraphModelJson } from "./graph_model.ts";
import { onnxModelInfo, readOnnxFile } from "./onnx/model_file.ts";
import { createOnnxSession, type OnnxSessionOptions, runOnnxBatch } from "./onnx_engine.ts";
import {
  PATCH_MAP_KIND,
  PATCH_MODEL_FILE,
  PATCH_ONNX_FILE,
  type PatchMapInfo,
  type PatchMapSettings,
  patchMapSettings,
} from "./patch_graph.ts";

/** A bundle's patch model, loaded for one engine. */
export interface PatchMapBundle {
  /** The engine that runs the patch model. */
  engine: "tfjs" | "onnxruntime";
  /** Path of the patch model file. */
  modelPath: string;
  /** The map's geometry. */
  settings: PatchMapSettings;
  /** The patch density of `density.json` (the embeddings are scored under it in float64). */
  density: Density;
  /**
   * Embed `count` raw RGB patches (`count × p × p × 3`, 0…255, NHWC) in one call of the model: `count × 512`
   * float32 values, row-major.
   */
  embed(patches: Float32Array, count: number): Promise<Float32Array>;
  /** Free the model (tfjs weights or the onnxruntime session). */
  dispose(): Promise<void>;
}

/** Options of {@link loadPatchMaps}. */
export interface LoadPatchMapsOptions {
  /** Engine (default `tfjs`: `patch_model.json`; `onnxruntime`: `patch_model.onnx`). */
  engine?: "tfjs" | "onnxruntime";
  /** The bundle's fitted density, when already loaded (default: read `density.json`). */
  fitted?: FittedModel;
  /** onnxruntime session options (engine `onnxruntime`). */
  onnx?: OnnxSessionOptions;
}

const REEXPORT = "the bundle's files come from different exports — export the bundle again with " +
  "`deno task export`";

/** Compare the `patch_map` metadata of a patch model with the density's map; a mismatch names `path`. */
function checkInfo(path: string, info: unknown, want: PatchMapSettings, densityPath: string): void {
  const got = info as Partial<PatchMapInfo> | undefined;
  if (typeof got !== "object" || got === null || got.kind !== PATCH_MAP_KIND) {
    throw new UserError(
      `${path} is not a patch model of this tool (no patch_map metadata of kind "${PATCH_MAP_KIND}")`,
      REEXPORT,
    );
  }
  for (const key of ["imageSize", "patchSize", "stride", "sigma"] as const) {
    if (got[key] !== want[key]) {
      throw new UserError(
        `${path}: patch_map.${key} is ${JSON.stringify(got[key])}, but ${densityPath} and the bundle's ` +
          `metadata give ${want[key]}`,
        REEXPORT,
      );
    }
  }
}

async function assertFile(path: string, what: string, format: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${what} ${path} not found`,
        `export the bundle again with \`deno task export\`${format} (the patch map needs it)`,
      );
    }
    throw new UserError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

async function loadTfjs(dir: string, settings: PatchMapSettings, densityPath: string) {
  const path = join(dir, PATCH_MODEL_FILE);
  await assertFile(path, "patch model", "");
  const json: GraphModelJson = await readGraphModelJson(dir, PATCH_MODEL_FILE);
  checkInfo(
    path,
    (json.userDefinedMetadata?.sspcab?.user as { patch_map?: unknown })?.patch_map,
    settings,
    densityPath,
  );
  const input = json.signature?.inputs?.image?.tensorShape?.dim?.map((d) => Number(d.size));
  const p = settings.patchSize;
  if (!input || input.join() !== [-1, p, p, 3].join()) {
    throw new UserError(
      `${path}: input "image" is [${
        input ?? "missing"
      }], expected [-1, ${p}, ${p}, 3] for ${p}-pixel patches`,
      REEXPORT,
    );
  }
  if (!json.signature.outputs?.embedding) {
    throw new UserError(`${path} has no "embedding" output`, REEXPORT);
  }
  const model: GraphModel = await loadGraphModelFromDir(dir, PATCH_MODEL_FILE);
  const embed = async (patches: Float32Array, count: number): Promise<Float32Array> => {
    const x = tf.tensor4d(patches, [count, p, p, 3]);
    try {
      const e = model.execute({ image: x }, "embedding") as Tensor;
      try {
        return await e.data() as Float32Array;
      } finally {
        e.dispose();
      }
    } finally {
      x.dispose();
    }
  };
  return { modelPath: path, embed, dispose: () => Promise.resolve(model.dispose()) };
}

async function loadOnnx(
  dir: string,
  settings: PatchMapSettings,
  densityPath: string,
  options: OnnxSessionOptions,
) {
  const path = join(dir, PATCH_ONNX_FILE);
  await assertFile(path, "patch model", " --format onnx (or all)");
  const bytes = await readOnnxFile(path);
  const info = onnxModelInfo(bytes, path);
  let meta: unknown;
  try {
    meta = JSON.parse(info.metadata.patch_map ?? "null");
  } catch {
    meta = null;
  }
  checkInfo(path, meta, settings, densityPath);
  const p = settings.patchSize;
  if (info.height !== p || info.width !== p) {
    throw new UserError(
      `${path} takes ${info.height}x${info.width} images, expected ${p}x${p} patches`,
      REEXPORT,
    );
  }
  if (!info.outputs.includes("embedding")) throw new UserError(`${path} has no "embedding" output`, REEXPORT);
  const session = await createOnnxSession(bytes, options);
  const embed = async (patches: Float32Array, count: number): Promise<Float32Array> =>
    (await runOnnxBatch({ session, info }, patches, count, { anomalyMap: false })).embedding;
  return { modelPath: path, embed, dispose: () => session.release() };
}

/**
 * Load the patch model of the bundle in `dir` for the patch map: the map's geometry and patch density come
 * from `density.json` (its `patch` map; `options.fitted` when already loaded), the image side from `meta`
 * (the bundle's `metadata.json`). A missing `patch_model.json` / `patch_model.onnx`, a damaged one, or one
 * whose patch size, stride, σ or image size differ from `density.json`'s is a {@link UserError} naming the file.
 */
export async function loadPatchMaps(
  dir: string,
  meta: Pick<BundleMetadata, "imageSize">,
  options: LoadPatchMapsOptions = {},
): Promise<PatchMapBundle> {
  const densityPath = join(dir, BUNDLE_FILES.density);
  const fitted = options.fitted ?? await loadFittedModel(densityPath);
  const map = fittedMap(fitted, "patch");
  if (!map) {
    throw new UserError(
      `${densityPath} has no patch map: the model was not evaluated with --localization patch`,
      "run `deno task eval --localization patch`, then export again",
    );
  }
  const { settings, density } = patchMapSettings(map, meta.imageSize, densityPath);
  const engine = options.engine ?? "tfjs";
  const loaded = engine === "onnxruntime"
    ? await loadOnnx(dir, settings, densityPath, options.onnx ?? {})
    : await loadTfjs(dir, settings, densityPath);
  return { engine, settings, density, ...loaded };
}

/** Options of {@link patchMapsFromBundle}. */
export interface PatchMapsFromBundleOptions {
  /** Patches per call of the patch model (default 64, as `patchMaps`). */
  batchSize?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The patch-level anomaly maps of RGB images already resized to the bundle's side: one `size × size`
 * `Float32Array` per image (its maximum is the image's map score), equal to `patchMaps(net, patchDensity,
 * images, { patchSize, stride })` up to float32 rounding in the exported network. An image of another size
 * is a `RangeError`.
 */
export async function patchMapsFromBundle(
  bundle: PatchMapBundle,
  images: readonly RgbImage[],
  options: PatchMapsFromBundleOptions = {},
): Promise<Float32Array[]> {
  const { imageSize: size, patchSize: p, stride, sigma } = bundle.settings;
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 64));
  const tops = patchOffsets(size, p, stride);
  const lefts = patchOffsets(size, p, stride);
  const total = tops.length * lefts.length;
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i++) {
    const img = images[i];
    if (img.width !== size || img.height !== size || img.data.length !== size * size * 3) {
      throw new RangeError(
        `patchMapsFromBundle: image ${i} is ${img.width}x${img.height}, expected ${size}x${size}`,
      );
    }
    const pixels = Float32Array.from(img.data);
    let embeddings: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < total; start += batchSize) {
      const count = Math.min(batchSize, total - start);
      const e = await bundle.embed(cropPatchBatch(pixels, size, tops, lefts, p, start, count), count);
      dim = e.length / count;
      embeddings ??= new Float32Array(total * dim);
      embeddings.set(e, start * dim);
    }
    const scores = scoreEmbeddings(bundle.density, embeddings!, total);
    out.push(patchScoresToMap({ patchSize: p, tops, lefts, scores }, size, size, sigma));
    options.onProgress?.(i + 1, images.length);
  }
  return out;
}
