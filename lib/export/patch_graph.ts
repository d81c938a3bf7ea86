/**
 * The patch-level anomaly map in an export bundle: a second, small model file — the same network at input
 * `patchSize × patchSize` — that embeds a batch of patches and scores each under the Gaussian of the training
 * images' patch embeddings (the `patchDensity` that `eval --localization patch` stores). The bundle's runtime
 * (`patch_maps.ts`) crops every image's patch grid into batches, runs this model and spreads the patch scores
 * over the pixels exactly as `lib/localize/patch.ts` does, so a bundle draws the patch map without the training
 * code.
 *
 * Files, next to the bundle's main model:
 * - `patch_model.json` + `patch_model.weights.bin`: a TensorFlow.js graph model (`buildGraphModel` at the
 *   patch size, no `anomaly_map`, convolutions unfused), input `image` `[-1, p, p, 3]` raw RGB 0…255,
 *   outputs `embedding` `[-1, 512]` and, for a Gaussian patch density, `score` `[-1]` (the float32
 *   Mahalanobis distance, for a browser);
 * - `patch_model.onnx` (format `onnx` or `all`): the same as an ONNX model (`buildOnnxModel` at the patch
 *   size).
 *
 * Both record the map's geometry (image size, patch size, stride, σ) in their metadata (`patch_map`), so the
 * runtime can refuse a patch model from another export.
 * @module
 */
import { join } from "node:path";
import type { ProjectionNet } from "../model/projection_net.ts";
import type { Density } from "../eval/density.ts";
import type { FittedMap } from "../eval/fitted_model.ts";
import { checkPatchSizeForModel } from "../localize/patch.ts";
import { checkPatchGeometry } from "../localize/patch_grid.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic_write.ts";
import { UserError } from "../util/errors.ts";
import { buildGraphModel, type GraphDensity, type GraphModelArtifacts } from "./graph_model.ts";
import { buildOnnxModel } from "./onnx/export.ts";
import type { BundleFormat } from "./bundle_metadata.ts";

/** File name of the patch graph model's topology and manifest. */
export const PATCH_MODEL_FILE = "patch_model.json";
/** File name of the patch graph model's weight shard. */
export const PATCH_WEIGHTS_FILE = "patch_model.weights.bin";
/** File name of the patch model as ONNX. */
export const PATCH_ONNX_FILE = "patch_model.onnx";
/** Value of `kind` in the patch models' `patch_map` metadata. */
export const PATCH_MAP_KIND = "patch-embedding";

/** The geometry of a bundle's patch map: what `patchMaps` was called with at evaluation. */
export interface PatchMapSettings {
  /** Side of the images the map is drawn on (the bundle's image size). */
  imageSize: number;
  /** Patch side in pixels (the patch model's input side). */
  patchSize: number;
  /** Grid stride in pixels. */
  stride: number;
  /** Receptive-field Gaussian σ in pixels. */
  sigma: number;
}

/** The `patch_map` metadata both patch model files carry. */
export interface PatchMapInfo extends PatchMapSettings {
  /** Always {@link PATCH_MAP_KIND}. */
  kind: typeof PATCH_MAP_KIND;
  /** Whether the graph's `score` output exists (a Gaussian patch density). */
  score: boolean;
}

/**
 * The patch map's geometry and density from a fitted map (`maps[i]` of `density.json`): its `options`
 * `patch_size`, `stride` and optional `sigma` (default `patch_size / 4`, as `patchMaps`). A map of another
 * method, without `patchDensity` or with bad options is a {@link UserError} naming `source` (the file it came
 * from).
 */
export function patchMapSettings(
  map: FittedMap,
  imageSize: number,
  source: string,
): { settings: PatchMapSettings; density: Density } {
  const fix = "run `deno task eval --localization patch` again, then export again";
  if (map.method !== "patch") {
    throw new UserError(`${source}: the map is "${map.method}", not "patch"`, fix);
  }
  if (!map.patchDensity) throw new UserError(`${source}: the patch map has no patchDensity`, fix);
  const option = (key: string, fallback?: number): number => {
    const v = map.options[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new UserError(
        `${source}: the patch map's options.${key} must be a positive number, got ${JSON.stringify(v)}`,
        fix,
      );
    }
    return v;
  };
  const patchSize = option("patch_size");
  const settings = {
    imageSize,
    patchSize,
    stride: option("stride"),
    sigma: option("sigma", patchSize / 4),
  };
  try {
    checkPatchGeometry(settings, imageSize, imageSize);
  } catch (err) {
    throw new UserError(`${source}: ${(err as Error).message.split("\n")[0]} (image side ${imageSize})`, fix);
  }
  return { settings, density: map.patchDensity };
}

function graphDensity(density: Density): GraphDensity | undefined {
  return density.kind === "gaussian"
    ? { mean: density.location, precision: density.precision.data, l2Normalize: density.l2Normalize }
    : undefined;
}

function patchMapInfo(settings: PatchMapSettings, density: Density): PatchMapInfo {
  return { kind: PATCH_MAP_KIND, ...settings, score: density.kind === "gaussian" };
}

/**
 * The patch graph model in memory: {@link buildGraphModel} of `net` at the patch size with the patch density
 * (no `anomaly_map`; unfused unless `fuse`, see {@link WritePatchGraphOptions}), its weight shard named
 * {@link PATCH_WEIGHTS_FILE}, and the map's geometry under `userDefinedMetadata.sspcab.user.patch_map`.
 */
export async function buildPatchGraph(
  net: ProjectionNet,
  map: FittedMap,
  options: Pick<WritePatchGraphOptions, "imageSize" | "category" | "fuse">,
): Promise<{ artifacts: GraphModelArtifacts; info: PatchMapInfo }> {
  const { settings, density } = patchMapSettings(map, options.imageSize, "the fitted patch map");
  checkPatchSizeForModel(net.config, settings.patchSize);
  const info = patchMapInfo(settings, density);
  const artifacts = await buildGraphModel(net, {
    imageSize: settings.patchSize,
    density: graphDensity(density),
    anomalyMap: false,
    fuse: options.fuse ?? false,
    metadata: { ...(options.category ? { category: options.category } : {}), patch_map: info },
  });
  artifacts.modelJson.weightsManifest[0].paths = [PATCH_WEIGHTS_FILE];
  return { artifacts, info };
}

/** Options of {@link writePatchGraph}. */
export interface WritePatchGraphOptions {
  /** The bundle's image side (the maps are `imageSize × imageSize`). */
  imageSize: number;
  /** Model files to write, as the bundle's (default `tfjs`). */
  format?: BundleFormat;
  /** Element type of the ONNX model's `image` input (default float32). */
  onnxInput?: "float32" | "uint8";
  /** Category, recorded in the metadata. */
  category?: string;
  /**
   * Fused `_FusedConv2D` / `_FusedMatMul` nodes in the graph model (see `buildGraphModel`). Default false:
   * plain `Conv2D` + `BiasAdd` + `Relu` runs on this library's own wasm convolution kernels (GEMM, Winograd),
   * while TensorFlow.js's fused kernel does not, and the patch map is nearly all convolutions (in our runs
   * at 256² on the wasm backend the fused graph was slower than the library's `patchMaps`, the unfused one
   * faster).
   */
  fuse?: boolean;
}

/** What {@link writePatchGraph} wrote. */
export interface WrittenPatchGraph {
  /** Paths written, the graph model's `patch_model.json` last. */
  files: string[];
  /** Outputs of the patch model(s): `embedding`, and `score` for a Gaussian patch density. */
  outputs: string[];
  /** The map geometry recorded in the model files (what `metadata.json` may repeat). */
  info: PatchMapInfo;
}

/**
 * Write the patch model of a bundle into `dir`: for format `tfjs`/`all` the graph model
 * ({@link PATCH_WEIGHTS_FILE} first, then {@link PATCH_MODEL_FILE}), for `onnx`/`all` {@link PATCH_ONNX_FILE},
 * each atomically, so a reader never sees a `patch_model.json` whose weights are missing or half written. The
 * map must be the `patch` map of the model's fitted density (with `patchDensity` and `options.patch_size`,
 * `options.stride`); a patch size too small for the model is a {@link UserError}.
 */
export async function writePatchGraph(
  dir: string,
  net: ProjectionNet,
  map: FittedMap,
  options: WritePatchGraphOptions,
): Promise<WrittenPatchGraph> {
  const format = options.format ?? "tfjs";
  if (!["tfjs", "onnx", "all"].includes(format)) {
    throw new UserError(`unknown export format "${format}"`, "use tfjs, onnx or all");
  }
  const { settings, density } = patchMapSettings(map, options.imageSize, "the fitted patch map");
  checkPatchSizeForModel(net.config, settings.patchSize);
  const info = patchMapInfo(settings, density);
  const files: string[] = [];
  let outputs: string[] = [];
  if (format === "onnx" || format === "all") {
    const built = await buildOnnxModel(net, {
      imageSize: settings.patchSize,
      inputType: options.onnxInput,
      density: graphDensity(density),
      anomalyMap: false,
      category: options.category,
      metadata: { patch_map: info },
    });
    const path = join(dir, PATCH_ONNX_FILE);
    await writeFileAtomic(path, built.bytes);
    files.push(path);
    outputs = built.outputs;
  }
  if (format === "tfjs" || format === "all") {
    const { artifacts } = await buildPatchGraph(net, map, options);
    const weightsPath = join(dir, PATCH_WEIGHTS_FILE);
    const jsonPath = join(dir, PATCH_MODEL_FILE);
    await writeFileAtomic(weightsPath, new Uint8Array(artifacts.weightData));
    await writeJsonAtomic(jsonPath, artifacts.modelJson);
    files.push(weightsPath, jsonPath);
    const graphOutputs = Object.keys(artifacts.modelJson.signature.outputs);
    if (outputs.length && graphOutputs.join() !== outputs.join()) {
      throw new Error(`writePatchGraph: the graph outputs ${graphOutputs}, the ONNX model ${outputs}`);
    }
    outputs = graphOutputs;
  }
  return { files, outputs, info };
}
