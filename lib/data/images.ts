/**
 * Image loading and saving with sharp (libvips): PNG/JPEG in, 8-bit RGB out (grayscale, RGBA and 16-bit
 * inputs are converted; alpha is dropped as PIL's `convert("RGB")` does), bicubic resizing like PIL, a
 * decompression-bomb guard, ImageNet normalisation into an NHWC `Float32Array`, an in-memory cache of
 * resized images and a bounded-concurrency bulk loader.
 * @module
 */

import sharp from "sharp";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { Mask, RgbImage } from "./rgb_image.ts";

// ImageNet normalisation lives in normalize.ts (no native image library there, so batch-building workers can
// use it); it is re-exported here for convenience.
export { IMAGENET_MEAN, IMAGENET_STD, toNormalizedFloat32 } from "./normalize.ts";
export type { Mask, RgbImage } from "./rgb_image.ts";

/** Default decompression-bomb guard: images with more pixels than this are refused (100 megapixels). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Target size: a side length for a square image, or explicit width and height. */
export type ImageSize = number | { width: number; height: number };

/** Options of {@link loadRgb} and {@link loadMask}. */
export interface LoadOptions {
  /** Refuse images with more pixels than this (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
}

function sizeOf(size: ImageSize): { width: number; height: number } {
  const s = typeof size === "number" ? { width: size, height: size } : size;
  if (
    !Number.isInteger(s.width) || !Number.isInteger(s.height) || s.width <= 0 || s.height <= 0
  ) {
    throw new UserError(
      `invalid image size ${JSON.stringify(size)}`,
      "use a positive integer side length (e.g. 256) or {width, height}",
    );
  }
  return s;
}

function sizeKey(size: ImageSize | undefined): string {
  if (size === undefined) return "orig";
  const s = sizeOf(size);
  return `${s.width}x${s.height}`;
}

async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`image file not found: ${path}`, "check the path (and the data folder)");
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(`expected an image file but found a folder: ${path}`, "check the path");
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot read image file ${path}: permission denied`, "check the file permissions");
    }
    throw err;
  }
}

/** Width × height from the image header (no decoding), or null when the header is unreadable. */
async function headerPixels(bytes: Uint8Array): Promise<number | null> {
  try {
    const m = await sharp(bytes, { limitInputPixels: false }).metadata();
    return m.width && m.height ? m.width * m.height : null;
  } catch {
    return null;
  }
}

async function decodeError(
  path: string,
  bytes: Uint8Array,
  err: unknown,
  maxPixels: number,
): Promise<UserError> {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) {
    const pixels = await headerPixels(bytes);
    const n = (v: number) => v.toLocaleString("en-US");
    return new UserError(
      `image ${path} has ${pixels ? `${n(pixels)} pixels, more than the limit of ` : "more than "}` +
        `${n(maxPixels)} pixels; refused as a possible decompression bomb`,
      `if the image is genuine, raise the limit with \`--max_pixels ${pixels ?? maxPixels * 4}\` ` +
        "(the `maxPixels` option in code)",
    );
  }
  return new UserError(
    `cannot decode image ${path}: ${msg}`,
    "the file is corrupt, truncated or not a PNG/JPEG; replace it (re-extract the data set)",
  );
}

async function decode(
  path: string,
  size: ImageSize | undefined,
  channels: 1 | 3,
  options: LoadOptions,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  return await decodeBytes(await readImageFile(path), path, size, channels, options);
}

async function decodeBytes(
  bytes: Uint8Array,
  path: string,
  size: ImageSize | undefined,
  channels: 1 | 3,
  options: LoadOptions,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: "error" });
    if (channels === 3) pipeline = pipeline.removeAlpha().toColourspace("srgb");
    else pipeline = pipeline.removeAlpha().toColourspace("b-w");
    if (size !== undefined) {
      const s = sizeOf(size);
      pipeline = pipeline.resize(s.width, s.height, {
        fit: "fill",
        kernel: channels === 3 ? "cubic" : "nearest",
        fastShrinkOnLoad: false, // no JPEG DCT-domain pre-shrink: stay close to PIL's resize
      });
    }
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      throw new Error(`decoded to ${info.channels} channels instead of ${channels}`);
    }
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    throw await decodeError(path, bytes, err, maxPixels);
  }
}

/**
 * Load an image as 8-bit RGB (grayscale is replicated, alpha dropped, 16-bit reduced to 8-bit), optionally
 * resized to `size` with a bicubic kernel (`fit: fill`, i.e. aspect ratio not kept, as `Resize((s, s))`).
 * Throws a {@link UserError} naming the file when it is missing, corrupt, or larger than `maxPixels`.
 */
export async function loadRgb(path: string, size?: ImageSize, options: LoadOptions = {}): Promise<RgbImage> {
  return await decode(path, size, 3, options);
}

/**
 * Decode encoded image bytes (PNG/JPEG, e.g. an upload) exactly as {@link loadRgb} decodes a file; `name`
 * labels the image in errors.
 */
export async function decodeRgb(
  bytes: Uint8Array,
  name: string,
  size?: ImageSize,
  options: LoadOptions = {},
): Promise<RgbImage> {
  return await decodeBytes(bytes, name, size, 3, options);
}

/**
 * Load a ground-truth mask as a single-channel {@link Mask} with values 0 / 255 (any value > 127 becomes
 * 255), optionally resized with nearest-neighbour interpolation. Errors as in {@link loadRgb}.
 */
export async function loadMask(path: string, size?: ImageSize, options: LoadOptions = {}): Promise<Mask> {
  const m = await decode(path, size, 1, options);
  const data = m.data;
  for (let i = 0; i < data.length; i++) data[i] = data[i] > 127 ? 255 : 0;
  return m;
}

/** Options of {@link savePng}. */
export interface SavePngOptions {
  /** zlib level 0–9 (default 6). */
  compressionLevel?: number;
}

/** Raw 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA) interleaved channels. */
export interface RawPixels {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel (1, 3 or 4). */
  channels: 1 | 3 | 4;
  /** Pixel bytes, `width * height * channels`. */
  data: Uint8Array;
}

/**
 * Write 8-bit pixels as a PNG (creating the parent folder). The channel count is inferred from the data
 * length when `image` is an {@link RgbImage} or {@link Mask} (3 or 1); pass {@link RawPixels} for RGBA.
 * The output is deterministic: the same pixels give the same bytes.
 */
export async function savePng(
  path: string,
  image: RgbImage | Mask | RawPixels,
  options: SavePngOptions = {},
): Promise<void> {
  const { width, height, data } = image;
  const channels = "channels" in image ? image.channels : data.length / (width * height);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new Error(
      `savePng: data length ${data.length} does not fit ${width}x${height} with 1, 3 or 4 channels`,
    );
  }
  if (data.length !== width * height * channels) {
    throw new Error(`savePng: data length ${data.length} != ${width}x${height}x${channels}`);
  }
  let pipeline = sharp(data, { raw: { width, height, channels } });
  if (channels === 1) pipeline = pipeline.toColourspace("b-w");
  const png = await pipeline.png({
    compressionLevel: options.compressionLevel ?? 6,
    adaptiveFiltering: false,
  })
    .toBuffer();
  // Atomic (a killed run leaves no half PNG) but not flushed one by one: data sets write thousands of them.
  await writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.byteLength), { sync: false });
}

/** Write an RGB image as an 8-bit RGB PNG (creating the parent folder). */
export async function saveRgbPng(path: string, image: RgbImage): Promise<void> {
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`saveRgbPng: data length ${image.data.length} != ${image.width}x${image.height}x3`);
  }
  await savePng(path, { width: image.width, height: image.height, channels: 3, data: image.data });
}

/** Options of {@link createImageCache}. */
export interface ImageCacheOptions {
  /** Keep at most this many images (least recently used are dropped first); default unlimited. */
  maxEntries?: number;
  /** Passed to {@link loadRgb}. */
  maxPixels?: number;
}

/** An in-memory cache of decoded, resized RGB images keyed by (path, size). */
export interface ImageCache {
  /** The image at `path` resized to `size` (loaded once; concurrent requests share one decode). */
  get(path: string, size?: ImageSize): Promise<RgbImage>;
  /** Whether an image is cached (or being loaded) for (path, size). */
  has(path: string, size?: ImageSize): boolean;
  /** Number of cached entries. */
  readonly size: number;
  /** Total pixel bytes held by finished entries. */
  readonly bytes: number;
  /** Drop every entry. */
  clear(): void;
}

/**
 * Create an {@link ImageCache}. Callers must not modify the returned images (they are shared); clone them
 * first (`cloneRgbImage`) when augmenting.
 */
export function createImageCache(options: ImageCacheOptions = {}): ImageCache {
  const maxEntries = options.maxEntries ?? Infinity;
  const entries = new Map<string, Promise<RgbImage>>();
  const sizes = new Map<string, number>();
  let bytes = 0;
  const keyOf = (path: string, size?: ImageSize) => `${sizeKey(size)}\u0000${path}`;
  const drop = (key: string) => {
    entries.delete(key);
    bytes -= sizes.get(key) ?? 0;
    sizes.delete(key);
  };
  return {
    get(path, size) {
      const key = keyOf(path, size);
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key); // refresh LRU position
        entries.set(key, hit);
        return hit;
      }
      const p = loadRgb(path, size, { maxPixels: options.maxPixels });
      entries.set(key, p);
      p.then((img) => {
        if (entries.get(key) === p) {
          sizes.set(key, img.data.byteLength);
          bytes += img.data.byteLength;
        }
      }, () => {
        if (entries.get(key) === p) drop(key); // do not cache failures
      });
      while (entries.size > maxEntries) drop(entries.keys().next().value!);
      return p;
    },
    has(path, size) {
      return entries.has(keyOf(path, size));
    },
    get size() {
      return entries.size;
    },
    get bytes() {
      return bytes;
    },
    clear() {
      entries.clear();
      sizes.clear();
      bytes = 0;
    },
  };
}

/** Options of {@link loadMany}. */
export interface LoadManyOptions {
  /** Images decoded at the same time (default 4). */
  concurrency?: number;
  /** Called after each image with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Serve and store images through this cache. */
  cache?: ImageCache;
  /** Passed to {@link loadRgb} when no cache is given. */
  maxPixels?: number;
}

/**
 * Load many images as RGB at `size`, at most `concurrency` at a time, returning them in the order of
 * `paths`. The first failure (e.g. a {@link UserError} for a corrupt file) rejects the whole call.
 */
export async function loadMany(
  paths: readonly string[],
  size?: ImageSize,
  options: LoadManyOptions = {},
): Promise<RgbImage[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const out: RgbImage[] = new Array(paths.length);
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < paths.length) {
      const i = next++;
      try {
        out[i] = options.cache
          ? await options.cache.get(paths[i], size)
          : await loadRgb(paths[i], size, { maxPixels: options.maxPixels });
      } catch (err) {
        failed = true;
        throw err;
      }
      done++;
      options.onProgress?.(done, paths.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return out;
}
