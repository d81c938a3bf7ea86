/**
 * Data: the MVTec AD layout (listing, validation, counts), image decoding and resizing with sharp (bicubic,
 * RGB, pixel limit), ImageNet normalisation, streaming extraction of the official archive, the embedded
 * synthetic MVTec-like generator, and the in-memory image types.
 *
 * @example Generate the synthetic MVTec-like set and count a category's images
 * ```ts
 * import assert from "node:assert/strict";
 * import { categoryCounts, generateSyntheticDataset, listCategory, loadRgb } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const info = await generateSyntheticDataset(dir, { size: 32 });
 * const records = await listCategory(dir, info.categories[0]);
 * console.log(categoryCounts(records)); // train, testGood, testDefective, byDefectType
 * const image = await loadRgb(records[0].path, 32); // decoded, RGB, resized to 32×32 (bicubic)
 * assert.ok(image.data.length === 32 * 32 * 3);
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
export { type CategoryImages, loadCategoryImages } from "./category_images.ts";
export {
  extractMvtec,
  type ExtractOptions,
  type ExtractResult,
  readTar,
  safeArchivePath,
  type TarEntry,
  type TarEntryType,
  type TarItem,
  type XzDecoder,
} from "./extract.ts";
export { expandImagePaths } from "./image_paths.ts";
export {
  createImageCache,
  decodeRgb,
  DEFAULT_MAX_PIXELS,
  type ImageCache,
  type ImageCacheOptions,
  type ImageSize,
  loadMany,
  type LoadManyOptions,
  loadMask,
  type LoadOptions,
  loadRgb,
  type RawPixels,
  savePng,
  type SavePngOptions,
  saveRgbPng,
} from "./images.ts";
export {
  type CategoryCounts,
  categoryCounts,
  type CategorySummaryRow,
  countCategoryImages,
  datasetSummary,
  type ExpectedCount,
  type ExpectedCounts,
  IMAGE_EXTENSIONS,
  type ImageRecord,
  isMvtecCategory,
  listCategory,
  MVTEC_CATEGORIES,
  MVTEC_EXPECTED_COUNTS,
  MVTEC_OFFICIAL,
  type MvtecCategory,
  type OfficialCategoryInfo,
  presentCategories,
  resolveCategories,
  sortCategories,
} from "./mvtec.ts";
export { IMAGENET_MEAN, IMAGENET_STD, toNormalizedFloat32 } from "./normalize.ts";
export { cloneRgbImage, createMask, createRgbImage, type Mask, type RgbImage } from "./rgb_image.ts";
export {
  generateSyntheticDataset,
  renderSyntheticSample,
  SYNTHETIC_CATEGORIES,
  SYNTHETIC_DEFECT_TYPES,
  SYNTHETIC_MARKER,
  type SyntheticCategory,
  type SyntheticDatasetInfo,
  type SyntheticDefectType,
  type SyntheticOptions,
  type SyntheticSample,
} from "./synthetic.ts";
