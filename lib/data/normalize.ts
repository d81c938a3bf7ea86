/**
 * ImageNet normalisation of 8-bit RGB images into NHWC float32 batches. Kept apart from image decoding so the
 * batch-building worker does not load the native image library.
 * @module
 */
import type { RgbImage } from "./rgb_image.ts";

/** ImageNet channel means (RGB, on 0…1 values). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB, on 0…1 values). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * ImageNet-normalise a batch of equally sized RGB images into one NHWC `Float32Array`
 * (`(x / 255 - mean[c]) / std[c]`), ready to wrap in a tensor of shape `[n, height, width, 3]`.
 * `mean`/`std` default to {@link IMAGENET_MEAN}/{@link IMAGENET_STD}.
 */
export function toNormalizedFloat32(
  images: readonly RgbImage[],
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
): Float32Array {
  if (images.length === 0) return new Float32Array(0);
  const { width, height } = images[0];
  const per = width * height * 3;
  const lut = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  const out = new Float32Array(per * images.length);
  for (let n = 0; n < images.length; n++) {
    const img = images[n];
    if (img.width !== width || img.height !== height || img.data.length !== per) {
      throw new Error(
        `toNormalizedFloat32: image ${n} is ${img.width}x${img.height}, expected ${width}x${height} like image 0`,
      );
    }
    const src = img.data;
    const base = n * per;
    for (let i = 0; i < per; i += 3) {
      out[base + i] = lut[src[i]];
      out[base + i + 1] = lut[256 + src[i + 1]];
      out[base + i + 2] = lut[512 + src[i + 2]];
    }
  }
  return out;
}
