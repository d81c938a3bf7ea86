/**
 * The pure part of patch-level localisation, shared by the library (`patch.ts`, which embeds the patches with
 * the network) and the export bundle (`lib/export/patch_maps.ts`, which embeds them with an exported graph):
 * the patch grid, cropping the grid into a batch, and spreading the grid of patch scores over the pixels with
 * a Gaussian-weighted receptive field. No model, tensor or training code.
 *
 * The grid: offsets `0, stride, 2·stride, …` on each axis, plus `side − patchSize` when the last step does not
 * land there, so every pixel is covered. The map: `map(y, x) = Σ_k w_k(y, x) · s_k / Σ_k w_k(y, x)` over the
 * patches `k` that contain (y, x), `w_k(y, x) = exp(−((y − cy_k)² + (x − cx_k)²) / 2σ²)` centred on the patch
 * (σ = patchSize / 4 by default), computed as two small matrix products because the weights factor.
 * @module
 */
import { UserError } from "../util/errors.ts";

/** Patch size and grid stride, in pixels. */
export interface PatchGeometry {
  /** Side of the square patches. */
  patchSize: number;
  /** Step between neighbouring patches on the grid. */
  stride: number;
}

/** Default patch geometry for images of side `side`: patch `round(side / 4)`, stride `max(1, round(side / 64))`. */
export function defaultPatchGeometry(side: number): PatchGeometry {
  return { patchSize: Math.max(1, Math.round(side / 4)), stride: Math.max(1, Math.round(side / 64)) };
}

/**
 * Throw a {@link UserError} unless the patch size and stride are positive whole numbers and the patch fits in
 * a `width × height` image.
 */
export function checkPatchGeometry(g: PatchGeometry, height: number, width: number): void {
  const ok = (v: number) => Number.isInteger(v) && v >= 1;
  if (!ok(g.patchSize) || !ok(g.stride)) {
    throw new UserError(
      `patch size ${g.patchSize} and stride ${g.stride} must be positive whole numbers of pixels`,
    );
  }
  if (g.patchSize > height || g.patchSize > width) {
    throw new UserError(
      `patch size ${g.patchSize} is larger than the image (${width}×${height})`,
      "choose a patch size no larger than the image side",
    );
  }
}

/** Patch offsets along an axis of `length` pixels: `0, stride, …` and `length − patchSize` if not reached. */
export function patchOffsets(length: number, patchSize: number, stride: number): Int32Array {
  const last = length - patchSize;
  const offsets: number[] = [];
  for (let o = 0; o <= last; o += stride) offsets.push(o);
  if (offsets[offsets.length - 1] !== last) offsets.push(last);
  return Int32Array.from(offsets);
}

/**
 * Copy `count` patches of one image's grid, starting at grid cell `start` (row-major over `tops × lefts`),
 * into one NHWC batch `[count, patchSize, patchSize, 3]`: the patch at cell k is the `patchSize²` crop of
 * `pixels` (one `height × width × 3` image, any values) at (`tops[⌊k / lefts.length⌋]`, `lefts[k mod
 * lefts.length]`).
 */
export function cropPatchBatch(
  pixels: Float32Array,
  width: number,
  tops: Int32Array,
  lefts: Int32Array,
  patchSize: number,
  start: number,
  count: number,
): Float32Array {
  const p = patchSize;
  const per = p * p * 3;
  const rowFloats = p * 3;
  const batch = new Float32Array(count * per);
  for (let b = 0; b < count; b++) {
    const k = start + b;
    const top = tops[Math.floor(k / lefts.length)];
    const left = lefts[k % lefts.length];
    for (let r = 0; r < p; r++) {
      const from = ((top + r) * width + left) * 3;
      batch.set(pixels.subarray(from, from + rowFloats), b * per + r * rowFloats);
    }
  }
  return batch;
}

/** The anomaly scores of one image's patch grid. */
export interface PatchScoreGrid {
  /** Patch size in pixels. */
  patchSize: number;
  /** Row offsets (patch tops). */
  tops: Int32Array;
  /** Column offsets (patch lefts). */
  lefts: Int32Array;
  /** Score of each patch, row-major over the grid (`tops.length × lefts.length`). */
  scores: Float64Array;
}

/**
 * Spread a grid of patch scores over the pixels: the Gaussian-weighted average of the scores of the patches
 * covering each pixel (see the module doc), weights centred on each patch with standard deviation `sigma`
 * (default `patchSize / 4`). Returns a `height × width` map.
 */
export function patchScoresToMap(
  grid: PatchScoreGrid,
  height: number,
  width: number,
  sigma = grid.patchSize / 4,
): Float32Array {
  const { tops, lefts, scores, patchSize: p } = grid;
  const gh = tops.length;
  const gw = lefts.length;
  if (scores.length !== gh * gw) {
    throw new RangeError(`patchScoresToMap: ${scores.length} scores for a ${gh}×${gw} grid`);
  }
  if (!(sigma > 0)) throw new RangeError(`patchScoresToMap: sigma must be > 0, got ${sigma}`);
  // Receptive-field weights per axis: g[pixel, patch] = exp(−(pixel − centre)² / 2σ²) inside the patch, else 0.
  const axisWeights = (offsets: Int32Array, n: number) => {
    const g = new Float64Array(n * offsets.length);
    const inv = 1 / (2 * sigma * sigma);
    offsets.forEach((o, k) => {
      const c = o + (p - 1) / 2;
      for (let t = o; t < o + p && t < n; t++) g[t * offsets.length + k] = Math.exp(-((t - c) ** 2) * inv);
    });
    return g;
  };
  const gy = axisWeights(tops, height);
  const gx = axisWeights(lefts, width);
  // T = Gy · S  (height × gw), then map = (T · Gxᵀ) / ((Gy · 1)(Gx · 1)ᵀ).
  const t = new Float64Array(height * gw);
  const wy = new Float64Array(height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < gh; i++) {
      const a = gy[y * gh + i];
      if (a === 0) continue;
      wy[y] += a;
      for (let j = 0; j < gw; j++) t[y * gw + j] += a * scores[i * gw + j];
    }
  }
  const wx = new Float64Array(width);
  for (let x = 0; x < width; x++) for (let j = 0; j < gw; j++) wx[x] += gx[x * gw + j];
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let j = 0; j < gw; j++) {
        const b = gx[x * gw + j];
        if (b !== 0) s += t[y * gw + j] * b;
      }
      out[y * width + x] = s / (wy[y] * wx[x]);
    }
  }
  return out;
}
