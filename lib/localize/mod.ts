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
