/**
 * Colour jitter with the semantics of torchvision's `ColorJitter` applied to a PIL image, which is what the
 * CutPaste reference code does (on the whole image before CutPaste, and on every cut patch):
 *
 * - factors are drawn U[max(0, 1 − p), 1 + p] for brightness, contrast and saturation and the hue shift
 *   U[−p, p]; an op whose parameter is 0 is skipped (torchvision sets it to `None`);
 * - the four ops run in a random order (torchvision's `randperm(4)`);
 * - brightness blends with black, contrast with the rounded mean of the grayscale image, saturation with the
 *   grayscale image (PIL `ImageEnhance`, grayscale `L = 0.299 R + 0.587 G + 0.114 B` in PIL's fixed point),
 *   and hue adds `trunc(shift · 255)` (mod 256) to the 8-bit H channel of PIL's HSV.
 *
 * Blends truncate to 8 bits like PIL's `Image.blend`. The code works on typed arrays without per-pixel
 * allocation, folds brightness/contrast into lookup tables applied inside the saturation/hue passes, and does
 * the HSV round trip in exact arithmetic (PIL's float32 differs by one 8-bit hue step on ~0.4 % of colours;
 * see {@link adjustHue}).
 * @module
 */

import type { RgbImage } from "../data/rgb_image.ts";
import type { Rng } from "../util/rng.ts";

/** Jitter strengths, as torchvision's `ColorJitter(brightness, contrast, saturation, hue)`; 0 disables an op. */
export interface JitterParams {
  /** Brightness factor range is U[max(0, 1 − brightness), 1 + brightness]. */
  brightness: number;
  /** Contrast factor range is U[max(0, 1 − contrast), 1 + contrast]. */
  contrast: number;
  /** Saturation factor range is U[max(0, 1 − saturation), 1 + saturation]. */
  saturation: number;
  /** Hue shift range is U[−hue, hue] (a fraction of a full turn; at most 0.5). */
  hue: number;
}

/** The jitter used by CutPaste and its training pipeline: 0.1 for each of the four ops. */
export const DEFAULT_JITTER: Readonly<JitterParams> = Object.freeze({
  brightness: 0.1,
  contrast: 0.1,
  saturation: 0.1,
  hue: 0.1,
});

/** One of the four jitter operations. */
export type JitterOp = "brightness" | "contrast" | "saturation" | "hue";

/** A fully drawn jitter: the op order and the factor of each op that is enabled (`null` = skipped). */
export interface JitterDraw {
  /** The order in which the ops are applied (a permutation of all four; skipped ops are no-ops). */
  order: JitterOp[];
  /** Brightness blend factor, or `null`. */
  brightness: number | null;
  /** Contrast blend factor, or `null`. */
  contrast: number | null;
  /** Saturation blend factor, or `null`. */
  saturation: number | null;
  /** Hue shift as a fraction of a turn in [−0.5, 0.5], or `null`. */
  hue: number | null;
}

const OPS: readonly JitterOp[] = ["brightness", "contrast", "saturation", "hue"];

/**
 * Draw the op order and factors like torchvision's `ColorJitter.get_params`: a permutation of the four ops,
 * then the factor of each enabled op in the order brightness, contrast, saturation, hue.
 */
export function drawJitter(params: JitterParams, rng: Rng): JitterDraw {
  const order = OPS.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const factor = (p: number) => (p > 0 ? rng.uniform(Math.max(0, 1 - p), 1 + p) : null);
  const brightness = factor(params.brightness);
  const contrast = factor(params.contrast);
  const saturation = factor(params.saturation);
  if (params.hue > 0.5) throw new RangeError(`hue jitter must be in [0, 0.5], got ${params.hue}`);
  const hue = params.hue > 0 ? rng.uniform(-params.hue, params.hue) : null;
  return { order, brightness, contrast, saturation, hue };
}

/**
 * Colour-jitter an image: draw the op order and factors from `rng` ({@link drawJitter}) and apply them
 * ({@link applyJitter}). Returns a new image; the input is not modified. With all parameters 0 the result
 * is an exact copy and no random numbers beyond the op permutation are drawn.
 */
export function colorJitter(img: RgbImage, params: JitterParams, rng: Rng): RgbImage {
  return applyJitter(img, drawJitter(params, rng));
}

/** Apply an already drawn jitter to a copy of `img` (deterministic; see {@link drawJitter}). */
export function applyJitter(img: RgbImage, draw: JitterDraw): RgbImage {
  const data = img.data.slice();
  applyJitterInPlace(data, draw);
  return { width: img.width, height: img.height, data };
}

/**
 * Apply an already drawn jitter in place to interleaved RGB bytes. The result equals applying the enabled ops
 * one after the other in `draw.order`; internally, consecutive per-value ops (brightness, contrast) are
 * folded into one lookup table that is applied while reading the next per-pixel pass (saturation, hue), and
 * the grayscale mean that contrast needs is accumulated by the pass before it, so the image is traversed at
 * most once per op.
 */
export function applyJitterInPlace(data: Uint8Array, draw: JitterDraw): void {
  const order = draw.order.filter((op) => draw[op] !== null);
  let lut: Uint8Array | null = null; // pending per-value map not yet applied to `data`
  let mean = -1; // grayscale mean of `data` when known and `lut` is null
  for (let k = 0; k < order.length; k++) {
    const op = order[k];
    const f = draw[op] as number;
    const contrastLater = order.indexOf("contrast", k + 1) > k;
    switch (op) {
      case "brightness":
        lut = composeLut(lut, blendLut(0, f));
        mean = -1;
        break;
      case "contrast": {
        const m = lut ? grayMeanLut(data, lut) : mean >= 0 ? mean : grayMean(data);
        lut = composeLut(lut, blendLut(m, f));
        mean = -1;
        break;
      }
      case "saturation":
        mean = saturationPass(data, f, lut ?? IDENTITY_LUT, contrastLater);
        lut = null;
        break;
      case "hue":
        mean = huePass(data, f, lut ?? IDENTITY_LUT, contrastLater);
        lut = null;
        break;
    }
  }
  if (lut) applyLut(data, lut);
}

const IDENTITY_LUT = Uint8Array.from({ length: 256 }, (_, i) => i);

/** The LUT of PIL `Image.blend(c, x, alpha)` against a constant c: `c + alpha (x − c)`, truncated, clipped. */
function blendLut(c: number, alpha: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const t = c + alpha * (v - c);
    lut[v] = t <= 0 ? 0 : t >= 255 ? 255 : t | 0;
  }
  return lut;
}

/** `second ∘ first` (first applied first); `first = null` is the identity. */
function composeLut(first: Uint8Array | null, second: Uint8Array): Uint8Array {
  if (!first) return second;
  const out = new Uint8Array(256);
  for (let v = 0; v < 256; v++) out[v] = second[first[v]];
  return out;
}

function applyLut(data: Uint8Array, lut: Uint8Array): void {
  for (let i = 0, n = data.length; i < n; i++) data[i] = lut[data[i]];
}

/** PIL's `int(mean + 0.5)` of a sum of n luma values. */
function roundedMean(sum: number, n: number): number {
  return n > 0 ? Math.floor(sum / n + 0.5) : 0;
}

/** Brightness: blend with black by `factor` (PIL `ImageEnhance.Brightness`), in place. */
export function adjustBrightness(data: Uint8Array, factor: number): void {
  if (factor !== 1) applyLut(data, blendLut(0, factor));
}

/** Grayscale mean of RGB bytes rounded like PIL's `int(ImageStat.Stat(L).mean + 0.5)`. */
export function grayMean(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0, n = data.length; i < n; i += 3) {
    sum += (data[i] * 19595 + data[i + 1] * 38470 + data[i + 2] * 7471 + 0x8000) >>> 16;
  }
  return roundedMean(sum, data.length / 3);
}

/** {@link grayMean} of the bytes after mapping them through `lut`, without writing them. */
function grayMeanLut(data: Uint8Array, lut: Uint8Array): number {
  let sum = 0;
  for (let i = 0, n = data.length; i < n; i += 3) {
    sum += (lut[data[i]] * 19595 + lut[data[i + 1]] * 38470 + lut[data[i + 2]] * 7471 + 0x8000) >>> 16;
  }
  return roundedMean(sum, data.length / 3);
}

/** Contrast: blend with the rounded grayscale mean by `factor` (PIL `ImageEnhance.Contrast`), in place. */
export function adjustContrast(data: Uint8Array, factor: number): void {
  if (factor !== 1) applyLut(data, blendLut(grayMean(data), factor));
}

/** Saturation: blend with the per-pixel grayscale by `factor` (PIL `ImageEnhance.Color`), in place. */
export function adjustSaturation(data: Uint8Array, factor: number): void {
  if (factor !== 1) saturationPass(data, factor, IDENTITY_LUT, false);
}

/**
 * Map each byte through `lut`, then blend each pixel with its luma by `factor`. Returns the rounded
 * grayscale mean of the result when `wantMean`, otherwise −1.
 */
function saturationPass(data: Uint8Array, factor: number, lut: Uint8Array, wantMean: boolean): number {
  // PIL's truncated blend trunc(l + f (c − l)) equals l + floor(f (c − l)) wherever it is ≥ 0; the floor comes
  // from a table over c − l ∈ [−255, 255] and the clamped store clips to [0, 255].
  const delta = new Int32Array(511);
  for (let d = -255; d <= 255; d++) delta[d + 255] = Math.floor(factor * d);
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  let sum = 0;
  for (let i = 0, n = data.length; i < n; i += 3) {
    const r = lut[data[i]], g = lut[data[i + 1]], b = lut[data[i + 2]];
    const l = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    const o = 255 - l;
    out[i] = l + delta[r + o];
    out[i + 1] = l + delta[g + o];
    out[i + 2] = l + delta[b + o];
    if (wantMean) sum += (out[i] * 19595 + out[i + 1] * 38470 + out[i + 2] * 7471 + 0x8000) >>> 16;
  }
  return wantMean ? roundedMean(sum, data.length / 3) : -1;
}

// Tables for the HSV round trip, shared by all calls. Divisions by small integers are replaced by products
// with reciprocals nudged up by a relative 1e-11: every quotient below is a ratio of integers below 256 whose
// fractional part is either 0 or at least 1/130050, so `floor(x · r')` equals the exact floor.
const NUDGE = 1 + 1e-11;
/** R255[m] = 255 / m (m ≥ 1; R255[0] = 0): `s = floor(cr · R255[maxc])`. */
const R255 = new Float64Array(256);
/** R6[c] = 255 / (6 c) (c ≥ 1; R6[0] = 0): `h = floor(num · R6[cr])`. */
const R6 = new Float64Array(256);
for (let m = 1; m < 256; m++) {
  R255[m] = (255 / m) * NUDGE;
  R6[m] = (255 / (6 * m)) * NUDGE;
}
const INV255 = NUDGE / 255;
const INV65025 = NUDGE / 65025;
/**
 * For each 8-bit hue h (sector i = floor(6 h / 255) mod 6, remainder fr = 6 h − 255 floor(6 h / 255)):
 * HUE_K[h] is the weight k of the one non-trivial channel m = round(v (65025 − k s) / 65025) — PIL's `q`
 * (k = fr) in odd sectors, `t` (k = 255 − fr) in even ones — and HUE_SV/HUE_SM/HUE_SP[h] are the bit shifts
 * (0 = R, 8 = G, 16 = B) that place v, m and p = round(v (255 − s) / 255) in a packed 0xBBGGRR word.
 */
const HUE_K = new Uint8Array(256);
const HUE_SV = new Uint8Array(256);
const HUE_SM = new Uint8Array(256);
const HUE_SP = new Uint8Array(256);
// Sector → channels of [v, m, p], from PIL hsv2rgb: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
const SECTOR_CHANNELS = [[0, 1, 2], [1, 0, 2], [1, 2, 0], [2, 1, 0], [2, 0, 1], [0, 2, 1]];
for (let h = 0; h < 256; h++) {
  const i = Math.floor((h * 6) / 255);
  const fr = h * 6 - 255 * i;
  const sector = i % 6;
  HUE_K[h] = sector % 2 === 1 ? fr : 255 - fr;
  const [cv, cm, cp] = SECTOR_CHANNELS[sector];
  HUE_SV[h] = 8 * cv;
  HUE_SM[h] = 8 * cm;
  HUE_SP[h] = 8 * cp;
}

/**
 * Hue: shift the 8-bit H channel of PIL's HSV by `trunc(shift · 255)` (mod 256) and convert back, in place
 * (torchvision `adjust_hue` on a PIL image). The RGB → HSV → RGB conversion follows PIL's `Convert.c`
 * (`colorsys` formulas, H and S truncated to 8 bits, p/q/t rounded half up) in exact arithmetic, where PIL
 * computes in float32: for about 0.4 % of colours PIL's H lands one 8-bit step lower (a quotient that is
 * exactly an integer comes out just below it). As in PIL, the round trip quantises colours even for a zero
 * shift; grays are unchanged.
 */
export function adjustHue(data: Uint8Array, shift: number): void {
  huePass(data, shift, IDENTITY_LUT, false);
}

/** Map each byte through `lut`, then shift the hue; returns the result's rounded gray mean when `wantMean`. */
function huePass(data: Uint8Array, shift: number, lut: Uint8Array, wantMean: boolean): number {
  if (!(shift >= -0.5 && shift <= 0.5)) {
    throw new RangeError(`hue shift must be in [-0.5, 0.5], got ${shift}`);
  }
  const dh = Math.trunc(shift * 255) & 255;
  let sum = 0;
  for (let i = 0, n = data.length; i < n; i += 3) {
    const r = lut[data[i]], g = lut[data[i + 1]], b = lut[data[i + 2]];
    const v = Math.max(r, g, b);
    const cr = v - Math.min(r, g, b);
    // colorsys hue · 6 · cr in [0, 6 cr), branch-free: PIL tests r == max first, then g. For a gray
    // (cr = 0) the tables give s = 0 and h = dh, which maps back to (v, v, v).
    const rm = (r - v) >> 31, gm = (g - v) >> 31; // 0 where the channel is the max, −1 elsewhere
    let num = ((g - b) & ~rm) | ((2 * cr + b - r) & rm & ~gm) | ((4 * cr + r - g) & rm & gm);
    num += (6 * cr) & (num >> 31);
    const s = (cr * R255[v]) | 0;
    const h = (((num * R6[cr]) | 0) + dh) & 255;
    const m = (v * (65025 - HUE_K[h] * s) * INV65025 + 0.5) | 0;
    const p = (v * (255 - s) * INV255 + 0.5) | 0;
    const w = (v << HUE_SV[h]) | (m << HUE_SM[h]) | (p << HUE_SP[h]);
    const r2 = w & 255, g2 = (w >> 8) & 255, b2 = w >> 16;
    data[i] = r2;
    data[i + 1] = g2;
    data[i + 2] = b2;
    if (wantMean) sum += (r2 * 19595 + g2 * 38470 + b2 * 7471 + 0x8000) >>> 16;
  }
  return wantMean ? roundedMean(sum, data.length / 3) : -1;
}

/** PIL's RGB → L conversion (ITU-R 601-2 luma `0.299 R + 0.587 G + 0.114 B` in 16-bit fixed point). */
export function pilLuma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}
