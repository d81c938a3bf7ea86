/**
 * Random square crops for patch-level training (the CutPaste paper's patch model: CutPaste is applied inside
 * a random `patchSize²` crop of each training image).
 * @module
 */
import type { RgbImage } from "../data/rgb_image.ts";
import type { Rng } from "../util/rng.ts";
import { cropRgb } from "./cutpaste.ts";

/**
 * A uniformly placed `size × size` crop of `img`: top drawn first, then left, each `rng.int(0, side − size)`.
 * Throws a RangeError when the crop does not fit.
 */
export function randomSquareCrop(img: RgbImage, size: number, rng: Rng): RgbImage {
  if (!Number.isInteger(size) || size < 1 || size > img.width || size > img.height) {
    throw new RangeError(
      `patch size ${size} must be a whole number of pixels between 1 and the image side (${img.width}×${img.height})`,
    );
  }
  const top = rng.int(0, img.height - size);
  const left = rng.int(0, img.width - size);
  return cropRgb(img, left, top, size, size);
}
