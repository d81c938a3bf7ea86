/**
 * The in-memory image type shared by the data loader, CutPaste and the batch builder: 8-bit RGB, row-major,
 * interleaved (HWC), plus single-channel masks.
 * @module
 */

/** An 8-bit RGB image, row-major HWC (`data.length === width * height * 3`). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Pixel bytes, R G B interleaved. */
  data: Uint8Array;
}

/** A single-channel 8-bit mask (0 = background, 255 = region), row-major (`data.length === width * height`). */
export interface Mask {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Mask bytes. */
  data: Uint8Array;
}

/** A new black RGB image of the given size. */
export function createRgbImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** A deep copy of an RGB image. */
export function cloneRgbImage(image: RgbImage): RgbImage {
  return { width: image.width, height: image.height, data: image.data.slice() };
}

/** A new empty mask of the given size. */
export function createMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}
