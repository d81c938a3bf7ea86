/**
 * Training augmentations: torchvision-style colour jitter, the CutPaste variants (normal, scar, 3-way, union)
 * with their geometry, and the random square crops of patch-level training.
 *
 * @example The three views of one image that 3-way training sees
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRgbImage } from "../data/mod.ts";
 * import { cutPaste3Way } from "./mod.ts";
 * import { createRng } from "../util/rng.ts";
 * const image = createRgbImage(64, 64);
 * image.data.fill(128);
 * const { original, normal, scar } = cutPaste3Way(image, createRng(0));
 * assert.ok(original === image && normal.image.width === 64 && scar.image.height === 64);
 * ```
 * @module
 */
export {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyJitter,
  applyJitterInPlace,
  colorJitter,
  DEFAULT_JITTER,
  drawJitter,
  grayMean,
  type JitterDraw,
  type JitterOp,
  type JitterParams,
  pilLuma,
} from "./color_jitter.ts";
export {
  type AugmentedItem,
  augmentForVariant,
  type AugmentOptions,
  augmentTrainingItem,
  cropRgb,
  cutPaste3Way,
  CUTPASTE_NORMAL_DEFAULTS,
  CUTPASTE_SCAR_DEFAULTS,
  CUTPASTE_VARIANTS,
  type CutPasteBox,
  cutPasteNormal,
  type CutPasteNormalOptions,
  type CutPasteNormalParams,
  type CutPasteOptions,
  type CutPasteResult,
  cutPasteScar,
  type CutPasteScarOptions,
  type CutPasteScarParams,
  type CutPasteTriple,
  cutPasteUnion,
  type CutPasteVariant,
  rotatedCanvasSize,
  type RotatedPatch,
  rotatePatch,
  variantClassCount,
} from "./cutpaste.ts";
export { randomSquareCrop } from "./patch_crop.ts";

// Types and values the API above refers to, defined in other areas.
export type { Mask } from "../data/rgb_image.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { Rng } from "../util/rng.ts";
