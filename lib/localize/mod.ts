/**
 * Localisation: anomaly maps that say where the defect is. Three methods, one file each, every one returning
 * a `Float32Array` of the input's `height × width` per image whose maximum is the image score:
 *
 * - {@link gradcamMaps} — GradCAM of the Mahalanobis score of an image-level model w.r.t. a trunk layer;
 * - {@link patchMaps} — the CutPaste paper's patch-level model: dense patch scores spread over pixels;
 * - {@link sspcabMaps} — SSPCAB's reconstruction error at layer3.
 *
 * Resampling helpers (bilinear upsampling, Gaussian smoothing, nearest-neighbour mask resizing) are shared
 * with the metrics in `lib/eval/localization_metrics.ts`.
 *
 * @example SSPCAB's reconstruction-error map of an image: one float32 value per input pixel; its maximum is the image score
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createProjectionNet, defaultProjectionNetConfig, disposeParams } from "../model/mod.ts";
 * import { createRgbImage } from "../data/mod.ts";
 * import { mapScore, sspcabMaps } from "./mod.ts";
 * await tf.setBackend("cpu");
 * const net = createProjectionNet(defaultProjectionNetConfig(), 0);
 * const image = createRgbImage(64, 64);
 * image.data.fill(100);
 * const [map] = await sspcabMaps(net, [image]);
 * assert.equal(map.length, 64 * 64);
 * console.log(mapScore(map));
 * disposeParams(net.params);
 * ```
 * @module
 */

export {
  GRADCAM_SIGMA,
  gradcamMaps,
  type GradCamOptions,
  type GradCamRaw,
  gradcamRaw,
  mahalanobisScoreTensor,
} from "./gradcam.ts";
export {
  checkPatchSizeForModel,
  defaultPatchGeometry,
  embedPatches,
  fitPatchDensity,
  type FitPatchDensityOptions,
  minPatchSize,
  type PatchEmbeddings,
  type PatchEmbedOptions,
  type PatchGeometry,
  type PatchMapOptions,
  patchMaps,
  patchOffsets,
  type PatchScoreGrid,
  patchScoreGrid,
  patchScoresToMap,
} from "./patch.ts";
export { sspcabErrorGrid, type SspcabMapOptions, sspcabMaps } from "./sspcab_map.ts";
export { gaussianBlur, gaussianKernel1d, resizeBilinear, resizeMaskNearest } from "./resample.ts";
export { commonSize, imagesToTensor, TRUNK_LAYERS, trunkFrom, type TrunkLayer, trunkTo } from "./trunk.ts";
export { mapScore } from "./map_score.ts";

// Types and values the API above refers to, defined in other areas.
export type { Density } from "../eval/density.ts";
export type { GaussianDensity } from "../eval/density.ts";
export type { Matrix } from "../eval/linalg.ts";
export type { ProjectionNet } from "../model/projection_net.ts";
export type { ProjectionNetConfig } from "../model/projection_net.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { Tensor1D } from "../util/tensor_types.ts";
export type { Tensor2D } from "../util/tensor_types.ts";
export type { Tensor3D } from "../util/tensor_types.ts";
export type { Tensor4D } from "../util/tensor_types.ts";
export type { KdeDensity } from "../eval/density.ts";
export type { ParamSpec } from "../model/params.ts";
export type { ParamStore } from "../model/params.ts";
export type { SspcabConfig } from "../model/sspcab.ts";
export type { ParamInit } from "../model/params.ts";
export type { ParamKind } from "../model/params.ts";
export type { Variable } from "../util/tensor_types.ts";
export type { StemConv } from "../model/stem.ts";
