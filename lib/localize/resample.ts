/**
 * Resampling of single-channel float maps (row-major `height × width` `Float32Array`s), shared by the
 * localisation methods and the metrics:
 *
 * - {@link resizeBilinear}: bilinear interpolation with half-pixel centres, as PyTorch's
 *   `F.interpolate(mode="bilinear", align_corners=False)` and tfjs `resizeBilinear(…, halfPixelCenters=true)`
 *   (edge samples clamped);
 * - {@link gaussianBlur}: separable Gaussian smoothing, kernel radius `round(4σ)` with scipy's `reflect` border
 *   (`d c b a | a b c d | d c b a`), as `scipy.ndimage.gaussian_filter(x, σ, mode="reflect", truncate=4)`;
 * - {@link resizeMaskNearest}: nearest-neighbour resizing of ground-truth masks (PyTorch `mode="nearest"`:
 *   source index `floor(dst · in / out)`), any non-zero pixel a defect → 0/1.
 * @module
 */

function checkSize(what: string, data: ArrayLike<number>, height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`${what}: size must be positive integers, got ${height}×${width}`);
  }
  if (data.length !== height * width) {
    throw new RangeError(`${what}: ${data.length} values for a ${height}×${width} map`);
  }
}

/**
 * Bilinear resize of a `height × width` map to `outHeight × outWidth` (half-pixel centres, no antialiasing,
 * source coordinates clamped at the borders — PyTorch `align_corners=False`).
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Float32Array {
  checkSize("resizeBilinear", src, height, width);
  checkSize("resizeBilinear (output)", { length: outHeight * outWidth }, outHeight, outWidth);
  const out = new Float32Array(outHeight * outWidth);
  const axis = (outN: number, inN: number) => {
    const i0 = new Int32Array(outN);
    const i1 = new Int32Array(outN);
    const f = new Float64Array(outN);
    const scale = inN / outN;
    for (let o = 0; o < outN; o++) {
      const s = Math.max(0, (o + 0.5) * scale - 0.5);
      const lo = Math.min(Math.floor(s), inN - 1);
      i0[o] = lo;
      i1[o] = Math.min(lo + 1, inN - 1);
      f[o] = s - lo;
    }
    return { i0, i1, f };
  };
  const ya = axis(outHeight, height);
  const xa = axis(outWidth, width);
  for (let y = 0; y < outHeight; y++) {
    const r0 = ya.i0[y] * width;
    const r1 = ya.i1[y] * width;
    const fy = ya.f[y];
    for (let x = 0; x < outWidth; x++) {
      const a = xa.i0[x];
      const b = xa.i1[x];
      const fx = xa.f[x];
      const top = src[r0 + a] + (src[r0 + b] - src[r0 + a]) * fx;
      const bottom = src[r1 + a] + (src[r1 + b] - src[r1 + a]) * fx;
      out[y * outWidth + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

/** The normalised 1-D Gaussian kernel of standard deviation `sigma`, radius `round(truncate · σ)`. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`Gaussian sigma must be > 0, got ${sigma}`);
  }
  const radius = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

// scipy "reflect": the edge sample is repeated (half-sample symmetric), periodic with period 2n.
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/**
 * Gaussian smoothing of a `height × width` map with standard deviation `sigma` pixels (separable, rows then
 * columns, `reflect` border, radius `round(4σ)`). `sigma <= 0` returns a copy.
 */
export function gaussianBlur(
  src: ArrayLike<number>,
  height: number,
  width: number,
  sigma: number,
): Float32Array {
  checkSize("gaussianBlur", src, height, width);
  if (!(sigma > 0)) return Float32Array.from(src);
  const k = gaussianKernel1d(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(height * width);
  const line = new Float64Array(Math.max(height, width) + 2 * r);
  // Rows.
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let i = -r; i < width + r; i++) line[i + r] = src[o + reflectIndex(i, width)];
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let t = 0; t < k.length; t++) s += k[t] * line[x + t];
      tmp[o + x] = s;
    }
  }
  // Columns.
  const out = new Float32Array(height * width);
  for (let x = 0; x < width; x++) {
    for (let i = -r; i < height + r; i++) line[i + r] = tmp[reflectIndex(i, height) * width + x];
    for (let y = 0; y < height; y++) {
      let s = 0;
      for (let t = 0; t < k.length; t++) s += k[t] * line[y + t];
      out[y * width + x] = s;
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize of a mask to `outHeight × outWidth` (source pixel `floor(dst · in / out)` on each
 * axis, PyTorch `mode="nearest"`); any non-zero source value becomes 1. Same size returns a 0/1 copy.
 */
export function resizeMaskNearest(
  mask: ArrayLike<number>,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Uint8Array {
  checkSize("resizeMaskNearest", mask, height, width);
  checkSize("resizeMaskNearest (output)", { length: outHeight * outWidth }, outHeight, outWidth);
  const out = new Uint8Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor((y * height) / outHeight));
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(width - 1, Math.floor((x * width) / outWidth));
      out[y * outWidth + x] = mask[sy * width + sx] ? 1 : 0;
    }
  }
  return out;
}
