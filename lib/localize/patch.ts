/**
 * The CutPaste paper's patch-level localisation: every `patchSize²` patch on a grid with `stride` is embedded
 * on its own (in batches) by a model trained on patches (`patchSize` in the batch plan); one Gaussian is fitted
 * on the patch embeddings of the training images; every test patch gets its Mahalanobis score; and the grid of
 * scores becomes a pixel map by spreading each score over its patch with a Gaussian-weighted receptive field:
 *
 * `map(y, x) = Σ_k w_k(y, x) · s_k / Σ_k w_k(y, x)`, over the patches `k` that contain (y, x), with
 * `w_k(y, x) = exp(−((y − cy_k)² + (x − cx_k)²) / 2σ²)` centred on the patch (σ = patchSize / 4 by default) —
 * a weighted average of the overlapping patch scores, which is the paper's "upsampling with Gaussian
 * smoothing" restricted to each patch's receptive field. Because the weights factor into a row and a column
 * part, the map is two small matrix products (`Gy · S · Gxᵀ`), not a loop over patches and pixels.
 *
 * The grid: offsets `0, stride, 2·stride, …` on each axis, plus `side − patchSize` when the last step does not
 * land there, so every pixel is covered. Defaults scale with the image: `patchSize = side / 4` and `stride =
 * side / 64` (64 and 4 at 256², as the paper; 32 and 2 at 128²), i.e. 49 × 49 patches. A model with SSPCAB
 * needs patches of at least 33 px ({@link minPatchSize}): below that its layer3 map is under 3×3 and SSPCAB's
 * masked kernels read only padding, so every patch would get the same embedding.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type ProjectionNet, type ProjectionNetConfig, projectionNetEmbed } from "../model/projection_net.ts";
import { resnetLayer3Side } from "../model/resnet18.ts";
import { sspcabSeesContext } from "../model/sspcab.ts";
import { type Density, fitGaussianDensity, type GaussianDensity, scoreRows } from "../eval/density.ts";
import { createMatrix, type Matrix } from "../eval/linalg.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { toNormalizedFloat32 } from "../data/normalize.ts";
import { UserError } from "../util/errors.ts";
import { commonSize } from "./trunk.ts";
import {
  checkPatchGeometry,
  cropPatchBatch,
  defaultPatchGeometry,
  type PatchGeometry,
  patchOffsets,
  type PatchScoreGrid,
  patchScoresToMap,
} from "./patch_grid.ts";

export {
  checkPatchGeometry,
  cropPatchBatch,
  defaultPatchGeometry,
  type PatchGeometry,
  patchOffsets,
  type PatchScoreGrid,
  patchScoresToMap,
};

/**
 * The smallest patch side a model can use: with SSPCAB (zero padding) its layer3 map must be at least
 * `dilation + 2` wide, or SSPCAB sees only padding and every patch gets the same embedding (33 px for the
 * default k = 1, d = 1). 1 for a model without SSPCAB.
 */
export function minPatchSize(config: ProjectionNetConfig): number {
  const block = config.sspcab;
  if (!block) return 1;
  let side = 1;
  while (!sspcabSeesContext(block, resnetLayer3Side(side))) side++;
  return side;
}

/** Throw a {@link UserError} when `patchSize` is too small for the model (see {@link minPatchSize}). */
export function checkPatchSizeForModel(config: ProjectionNetConfig, patchSize: number): void {
  const min = minPatchSize(config);
  if (patchSize < min) {
    throw new UserError(
      `patch size ${patchSize} is too small for a model with SSPCAB: its layer3 map would be ` +
        `${resnetLayer3Side(patchSize)}×${resnetLayer3Side(patchSize)}, where SSPCAB sees only padding and ` +
        "every patch gets the same embedding",
      `use a patch size of at least ${min} px, or a model without SSPCAB`,
    );
  }
}

/** Options of the patch embedding functions. */
export interface PatchEmbedOptions {
  /** Patches per forward pass (default 64). */
  batchSize?: number;
}

/** The patch embeddings of one image on its grid. */
export interface PatchEmbeddings {
  /** Row offsets of the grid (patch tops). */
  tops: Int32Array;
  /** Column offsets of the grid (patch lefts). */
  lefts: Int32Array;
  /** One embedding per patch, row-major over the grid (`tops.length · lefts.length` rows). */
  rows: Matrix;
}

/**
 * Embed every patch of one image on the grid of `geometry` (eval mode, batched): the patch at grid cell
 * (i, j) is the image's `patchSize²` crop at (`tops[i]`, `lefts[j]`), ImageNet-normalised like a whole image.
 */
export async function embedPatches(
  net: ProjectionNet,
  image: RgbImage,
  geometry: PatchGeometry,
  options: PatchEmbedOptions = {},
): Promise<PatchEmbeddings> {
  const { height, width } = commonSize([image], "embedPatches");
  checkPatchGeometry(geometry, height, width);
  checkPatchSizeForModel(net.config, geometry.patchSize);
  const p = geometry.patchSize;
  const tops = patchOffsets(height, p, geometry.stride);
  const lefts = patchOffsets(width, p, geometry.stride);
  const total = tops.length * lefts.length;
  const batchSize = Math.max(1, options.batchSize ?? 64);
  const pixels = toNormalizedFloat32([image]);
  let data: Float64Array | undefined;
  let dim = 0;
  for (let start = 0; start < total; start += batchSize) {
    const count = Math.min(batchSize, total - start);
    const batch = cropPatchBatch(pixels, width, tops, lefts, p, start, count);
    const x = tf.tensor4d(batch, [count, p, p, 3]);
    const e = projectionNetEmbed(net, x);
    const values = await e.data();
    dim = e.shape[1];
    tf.dispose([x, e]);
    data ??= new Float64Array(total * dim);
    data.set(values, start * dim);
  }
  return { tops, lefts, rows: createMatrix(total, dim, data!) };
}

/** Options of {@link fitPatchDensity}. */
export interface FitPatchDensityOptions extends PatchEmbedOptions {
  /** Patch size (default `side / 4`). */
  patchSize?: number;
  /**
   * Grid stride on the training images (default `patchSize / 2`: the density needs varied patches, not every
   * 4-pixel shift, and the Ledoit–Wolf fit costs O(rows · 512²)).
   */
  stride?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Fit one Gaussian (mean + Ledoit–Wolf covariance of L2-normalised rows, as the image-level evaluation) on the
 * patch embeddings of the training images.
 */
export async function fitPatchDensity(
  net: ProjectionNet,
  trainImages: readonly RgbImage[],
  options: FitPatchDensityOptions = {},
): Promise<GaussianDensity> {
  const { height, width } = commonSize(trainImages, "fitPatchDensity");
  const patchSize = options.patchSize ?? defaultPatchGeometry(Math.min(height, width)).patchSize;
  const stride = options.stride ?? Math.max(1, Math.round(patchSize / 2));
  const parts: Matrix[] = [];
  for (let i = 0; i < trainImages.length; i++) {
    parts.push((await embedPatches(net, trainImages[i], { patchSize, stride }, options)).rows);
    options.onProgress?.(i + 1, trainImages.length);
  }
  const rows = parts.reduce((s, m) => s + m.rows, 0);
  const dim = parts[0].cols;
  const all = new Float64Array(rows * dim);
  let o = 0;
  for (const m of parts) {
    all.set(m.data, o);
    o += m.data.length;
  }
  return fitGaussianDensity(createMatrix(rows, dim, all), { l2Normalize: true });
}

/** Score every patch of one image's grid under the patch density (Mahalanobis distance for a Gaussian). */
export async function patchScoreGrid(
  net: ProjectionNet,
  density: Density,
  image: RgbImage,
  geometry: PatchGeometry,
  options: PatchEmbedOptions = {},
): Promise<PatchScoreGrid> {
  const { tops, lefts, rows } = await embedPatches(net, image, geometry, options);
  return { patchSize: geometry.patchSize, tops, lefts, scores: scoreRows(density, rows) };
}

/** Options of {@link patchMaps}. */
export interface PatchMapOptions extends PatchEmbedOptions {
  /** Patch size (default `side / 4`; must match the patch density's). */
  patchSize?: number;
  /** Grid stride (default `side / 64`, 4 px at 256²). */
  stride?: number;
  /** Receptive-field Gaussian σ in pixels (default `patchSize / 4`). */
  sigma?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Patch-level anomaly maps of equally sized images under a patch density ({@link fitPatchDensity}): one
 * `height × width` `Float32Array` per image; its maximum is the image score.
 */
export async function patchMaps(
  net: ProjectionNet,
  density: Density,
  images: readonly RgbImage[],
  options: PatchMapOptions = {},
): Promise<Float32Array[]> {
  const { height, width } = commonSize(images, "patchMaps");
  const defaults = defaultPatchGeometry(Math.min(height, width));
  const geometry = {
    patchSize: options.patchSize ?? defaults.patchSize,
    stride: options.stride ?? defaults.stride,
  };
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i++) {
    const grid = await patchScoreGrid(net, density, images[i], geometry, options);
    out.push(patchScoresToMap(grid, height, width, options.sigma));
    options.onProgress?.(i + 1, images.length);
  }
  return out;
}
