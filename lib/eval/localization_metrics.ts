/**
 * Pixel-level localisation metrics of anomaly maps against ground-truth masks, in one exact pass over all test
 * pixels pooled:
 *
 * - **pixel AUROC** — the ROC AUC of every pixel's score against its mask bit (the pooled convention anomalib
 *   follows), with scikit-learn's tie semantics (tied scores form one operating point, so ties count one half:
 *   the same number {@link rocAuc} gives, computed here with integer counts);
 * - **AU-PRO** — MVTec AD's official definition: regions are the 8-connected components of each mask (3×3
 *   structuring element, {@link labelComponents}), each region of each image weighs the same; the PRO at a
 *   threshold is the mean over regions of the fraction of the region's pixels at or above it; the FPR is over
 *   all defect-free pixels of all images; the curve (one point per distinct score, from (0, 0), ending at
 *   (1, 1)) is integrated with the trapezoid rule up to the FPR limit, interpolating linearly at the limit,
 *   and divided by the limit (0.3 by default; any limit in (0, 1]);
 * - **pixel F1-max** — the best F1 over all thresholds of the pooled pixels (anomalib's pixel `F1Max`, i.e. the
 *   maximum over scikit-learn's `precision_recall_curve`) and the threshold that attains it;
 * - **image AUROC** of the maps' maxima (an image is anomalous when its mask has a defect pixel).
 *
 * Exactness and cost: the official script sorts all pixels; so do we, with an LSD radix sort of the scores'
 * IEEE-754 bits (11-bit digits, 3 passes for float32 maps, up to 6 for float64), which is exact, O(pixels), and
 * needs no comparator. Memory: the pooled scores (in the maps' own precision: a `Float32Array` when every map
 * is one, otherwise `Float64Array`), one `Int32Array` of region ids, two `Uint32Array` index buffers and one
 * `Uint16Array` of digits — 18 bytes per pixel with float32 maps: about 100 MB for 83 maps of 256² (5.4 M
 * pixels), 1.2 GB for 83 of 900² (67 M), so resize maps to the evaluation size first. Counts are integers, so the AUROC is exact up to its final division; the
 * PRO sums region weights in float64 in the official order. The FPR is kept in float64 (the official script
 * rounds it to float32, which moves AU-PRO by a few 1e-9).
 * @module
 */

import { labelComponents } from "./connected_components.ts";
import { rocAuc } from "./roc.ts";
import { UserError } from "../util/errors.ts";

/** Anomaly maps and masks of a test set, all `height × width`, row-major, one pair per image. */
export interface LocalizationInput {
  /** One anomaly map per image (higher = more anomalous); `Float32Array`s keep the memory low. */
  maps: readonly ArrayLike<number>[];
  /** One mask per image, same size; any non-zero value marks a defect pixel. All-zero for a good image. */
  masks: readonly ArrayLike<number | boolean>[];
  /** Map and mask height in pixels. */
  height: number;
  /** Map and mask width in pixels. */
  width: number;
  /** Names of the images (file paths), used in error messages; default `image <i>`. */
  names?: readonly string[];
  /**
   * Image labels (0 good, 1 defective), when known: then a defective image with an empty mask, or a good image
   * whose mask marks defects, is an error naming the file, and the image AUROC uses these labels. Without
   * them an image is defective when its mask has a defect pixel.
   */
  labels?: readonly number[];
}

/** Options of {@link localizationMetrics}. */
export interface LocalizationMetricsOptions {
  /** FPR limits to compute AU-PRO at (each in (0, 1]); default `[0.3]`. */
  proLimits?: readonly number[];
  /** Also return the PRO curve (one point per distinct score; as large as the number of pixels). */
  curve?: boolean;
}

/** The PRO curve: parallel arrays, thresholds decreasing. */
export interface ProCurve {
  /** FPR over all defect-free pixels; starts at 0, non-decreasing, ends at 1. */
  fpr: Float64Array;
  /** Per-region overlap, mean over all regions; starts at 0, non-decreasing, ends at 1 (up to rounding). */
  pro: Float64Array;
  /** Score threshold of each point (`score >= threshold` is predicted defective); `+Infinity` for (0, 0). */
  thresholds: Float64Array;
}

/** Everything {@link localizationMetrics} computes. */
export interface LocalizationMetrics {
  /** Pooled pixel AUROC. */
  pixelAuroc: number;
  /** AU-PRO at the first requested limit (0.3 by default), normalised by the limit. */
  auPro: number;
  /** AU-PRO at each requested limit, normalised by the limit, in the order requested. */
  auProAt: { limit: number; auPro: number }[];
  /** The best pixel F1 over all thresholds. */
  pixelF1Max: number;
  /** The threshold where the best pixel F1 is reached (`score >= threshold` is defective). */
  pixelF1Threshold: number;
  /** Image AUROC of the map maxima; NaN when the masks do not contain both good and defective images. */
  imageAuroc: number;
  /** The image score of each map: its maximum. */
  imageScores: Float64Array;
  /** Number of ground-truth regions (8-connected components) over all masks. */
  regionCount: number;
  /** Number of defect pixels. */
  defectPixels: number;
  /** Number of defect-free pixels. */
  normalPixels: number;
  /** The PRO curve, when {@link LocalizationMetricsOptions.curve} was set. */
  proCurve?: ProCurve;
}

/** The FPR limit of the standard AU-PRO (MVTec AD). */
export const DEFAULT_PRO_LIMIT = 0.3;

function imageName(input: LocalizationInput, i: number): string {
  return input.names?.[i] ?? `image ${i}`;
}

function checkLimit(limit: number): void {
  if (!(limit > 0 && limit <= 1)) {
    throw new RangeError(`AU-PRO limit must lie in (0, 1], got ${limit}`);
  }
}

/** The maximum of each map: the image score of a map. Throws a {@link UserError} on a NaN or empty map. */
export function mapMaxima(maps: readonly ArrayLike<number>[], names?: readonly string[]): Float64Array {
  const out = new Float64Array(maps.length);
  maps.forEach((m, i) => {
    if (m.length === 0) throw new UserError(`anomaly map of ${names?.[i] ?? `image ${i}`} is empty`);
    let max = -Infinity;
    for (let k = 0; k < m.length; k++) {
      const v = m[k];
      if (v !== v) {
        throw new UserError(
          `anomaly map of ${names?.[i] ?? `image ${i}`} contains NaN (pixel ${k})`,
          "the model or its density produced a non-finite score; check the model file and the input image",
        );
      }
      if (v > max) max = v;
    }
    out[i] = max;
  });
  return out;
}

// Pool the maps into one typed array (float32 when every map is float32), checking sizes and values.
function poolScores(input: LocalizationInput): Float32Array | Float64Array {
  const { maps, masks, height, width } = input;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(
      `localization metrics: height and width must be positive integers, got ${height}×${width}`,
    );
  }
  if (maps.length !== masks.length) {
    throw new UserError(
      `localization metrics: ${maps.length} anomaly maps but ${masks.length} masks; they must pair up`,
    );
  }
  if (maps.length === 0) throw new UserError("localization metrics: no images");
  const hw = height * width;
  const allF32 = maps.every((m) => m instanceof Float32Array);
  const pooled = allF32 ? new Float32Array(maps.length * hw) : new Float64Array(maps.length * hw);
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (m.length !== hw) {
      throw new UserError(
        `anomaly map of ${imageName(input, i)} has ${m.length} pixels, expected ${height}×${width} = ${hw}`,
        "resize every map to the evaluation size first",
      );
    }
    if (masks[i].length !== hw) {
      throw new UserError(
        `mask of ${imageName(input, i)} has ${masks[i].length} pixels, expected ${height}×${width} = ${hw}`,
        "resize the masks to the map size with nearest neighbour (resizeMaskNearest)",
      );
    }
    const o = i * hw;
    if (allF32) pooled.set(m as Float32Array, o);
    else for (let k = 0; k < hw; k++) pooled[o + k] = m[k];
    for (let k = 0; k < hw; k++) {
      const v = pooled[o + k];
      if (!Number.isFinite(v)) {
        throw new UserError(
          `anomaly map of ${imageName(input, i)} contains ${v} at pixel ${k} (row ${
            Math.floor(k / width)
          }, ` +
            `column ${k % width})`,
          "the model or its density produced a non-finite score; check the model file and the input image",
        );
      }
    }
  }
  return pooled;
}

/**
 * The indices of `values` in ascending order of value (a stable LSD radix sort of the IEEE-754 bits, 11-bit
 * digits; passes whose digit is constant are skipped). `-0` sorts just before `+0`; values must not be NaN.
 */
export function radixArgsort(values: Float32Array | Float64Array): Uint32Array {
  const n = values.length;
  if (n === 0) return new Uint32Array(0);
  const words = values instanceof Float32Array ? 1 : 2;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n * words);
  const keyWord = new Uint16Array(n);
  let idx = new Uint32Array(n);
  let tmp = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const RADIX = 2048;
  const count = new Uint32Array(RADIX);
  // Passes (word, shift, bits), least significant first; 11 + 11 + 10 bits per 32-bit word.
  const passes: Array<[number, number, number]> = [];
  for (let word = 0; word < words; word++) passes.push([word, 0, 11], [word, 11, 11], [word, 22, 10]);
  for (const [word, shift, span] of passes) {
    const mask = (1 << span) - 1;
    // This pass's digit of every element, in the current order. Sortable transform of the IEEE bits:
    // negatives have all bits flipped, the rest only the sign bit (for float64 the low word of a negative is
    // flipped too, that of a positive is kept).
    for (let j = 0; j < n; j++) {
      const e = idx[j];
      let w: number;
      if (words === 1) {
        const b = bits[e];
        w = (b & 0x80000000) ? ~b : (b | 0x80000000);
      } else {
        const hi = bits[2 * e + 1];
        const neg = (hi & 0x80000000) !== 0;
        if (word === 1) w = neg ? ~hi : (hi | 0x80000000);
        else w = neg ? ~bits[2 * e] : bits[2 * e];
      }
      keyWord[j] = (w >>> shift) & mask;
    }
    count.fill(0);
    for (let j = 0; j < n; j++) count[keyWord[j]]++;
    let first = 0;
    while (count[first] === 0) first++;
    if (count[first] === n) continue; // every element has the same digit
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let j = 0; j < n; j++) tmp[count[keyWord[j]]++] = idx[j];
    const swap = idx;
    idx = tmp;
    tmp = swap;
  }
  return idx;
}

/**
 * Area under a PRO (or any non-decreasing) curve up to `limit`, divided by `limit`, exactly as MVTec AD's
 * official `trapezoid(fprs, pros, x_max=limit) / limit`: the trapezoid rule over the points with `x ≤ limit`,
 * plus, when `limit` is not itself a point, the trapezoid from the last such point to `limit` with `y`
 * interpolated linearly towards the next point. `x` must be non-decreasing; a curve that stops short of the
 * limit is extended to (1, 1) as the official curve is.
 */
export function auProFromCurve(
  fpr: ArrayLike<number>,
  pro: ArrayLike<number>,
  limit = DEFAULT_PRO_LIMIT,
): number {
  checkLimit(limit);
  if (fpr.length !== pro.length) {
    throw new RangeError(`auProFromCurve: ${fpr.length} FPRs but ${pro.length} PROs`);
  }
  if (fpr.length === 0) throw new RangeError("auProFromCurve: the curve is empty");
  const acc = createAreaAccumulator(limit);
  acc.add(0, 0);
  for (let i = 0; i < fpr.length; i++) acc.add(Math.min(fpr[i], 1), Math.min(pro[i], 1));
  acc.add(1, 1);
  return acc.area() / limit;
}

// Streams the points of a curve and integrates it up to `limit` with the official correction term.
function createAreaAccumulator(limit: number) {
  let area = 0;
  let px = NaN;
  let py = NaN;
  let done = false;
  return {
    add(x: number, y: number) {
      if (done) return;
      if (px !== px) {
        // The first point.
        if (x > limit) throw new RangeError("auProFromCurve: the curve starts beyond the limit");
        px = x;
        py = y;
        return;
      }
      if (x <= limit) {
        area += 0.5 * (y + py) * (x - px);
        px = x;
        py = y;
        return;
      }
      // First point beyond the limit: interpolate (the official correction term).
      if (px !== limit) {
        const yInterp = py + (y - py) * (limit - px) / (x - px);
        area += 0.5 * (yInterp + py) * (limit - px);
      }
      done = true;
    },
    area: () => area,
  };
}

/**
 * All localisation metrics of a test set in one exact pass (see the module doc): pixel AUROC, AU-PRO at each
 * requested limit, pixel F1-max and its threshold, the image AUROC of the map maxima, and optionally the PRO
 * curve. Good images (all-zero masks) count towards the FPR only. Throws a {@link UserError} when sizes do not
 * match, a map holds NaN or ±Infinity, no mask has a defect pixel, or every pixel is a defect.
 */
export function localizationMetrics(
  input: LocalizationInput,
  options: LocalizationMetricsOptions = {},
): LocalizationMetrics {
  const limits = [...(options.proLimits ?? [DEFAULT_PRO_LIMIT])];
  if (limits.length === 0) throw new RangeError("localizationMetrics: proLimits is empty");
  limits.forEach(checkLimit);
  const scores = poolScores(input);
  const hw = input.height * input.width;
  const nImages = input.maps.length;
  const total = scores.length;

  // Region id per pixel (0 = defect-free), global over images; weight of each region = 1 / its size.
  const region = new Int32Array(total);
  const regionSizes: number[] = [];
  let defectPixels = 0;
  const imageHasDefect = new Uint8Array(nImages);
  for (let i = 0; i < nImages; i++) {
    const { labels, count, sizes } = labelComponents(input.masks[i], input.height, input.width);
    const base = regionSizes.length;
    for (let k = 0; k < count; k++) regionSizes.push(sizes[k]);
    if (count > 0) imageHasDefect[i] = 1;
    const o = i * hw;
    for (let k = 0; k < hw; k++) {
      const l = labels[k];
      if (l) {
        region[o + k] = base + l;
        defectPixels++;
      }
    }
  }
  const regionCount = regionSizes.length;
  const normalPixels = total - defectPixels;
  if (regionCount === 0) {
    throw new UserError(
      "localization metrics: no mask has a defect pixel, so pixel AUROC and AU-PRO are undefined",
      "evaluate on a test set with defective images and their ground-truth masks",
    );
  }
  if (normalPixels === 0) {
    throw new UserError(
      "localization metrics: every pixel is marked defective, so the false-positive rate is undefined",
      "check the ground-truth masks (0 = good pixel, non-zero = defect)",
    );
  }
  if (input.labels) {
    if (input.labels.length !== nImages) {
      throw new UserError(`localization metrics: ${input.labels.length} image labels for ${nImages} images`);
    }
    for (let i = 0; i < nImages; i++) {
      const label = input.labels[i];
      if (label === 1 && !imageHasDefect[i]) {
        throw new UserError(
          `the ground-truth mask of defective image ${imageName(input, i)} is empty`,
          "check the mask file (defect pixels must be non-zero) or move the image to test/good",
        );
      }
      if (label === 0 && imageHasDefect[i]) {
        throw new UserError(
          `good image ${imageName(input, i)} has a mask with defect pixels`,
          "good images have no mask; check the folder layout",
        );
      }
      if (label !== 0 && label !== 1) {
        throw new UserError(
          `label of ${imageName(input, i)} is ${label}; labels must be 0 (good) or 1 (defective)`,
        );
      }
    }
  }
  const weight = new Float64Array(regionCount + 1);
  for (let r = 0; r < regionCount; r++) weight[r + 1] = 1 / regionSizes[r];

  const order = radixArgsort(scores);
  const wantCurve = options.curve ?? false;
  const curveFpr = new Float64Array(wantCurve ? total + 1 : 0);
  const curvePro = new Float64Array(wantCurve ? total + 1 : 0);
  const curveThr = new Float64Array(wantCurve ? total + 1 : 0);
  let points = 0;
  if (wantCurve) curveThr[points++] = Infinity;
  const accs = limits.map((l) => {
    const a = createAreaAccumulator(l);
    a.add(0, 0);
    return a;
  });
  let tp = 0;
  let fp = 0;
  let prevTp = 0;
  let prevFp = 0;
  // Twice the ROC area in units of one (positive, negative) pair: an exact integer below 2^53 for
  // any input that fits in memory.
  let rocTwiceArea = 0;
  let proSum = 0;
  let bestF1 = 0;
  let bestF1Threshold = Infinity;
  for (let j = total - 1; j >= 0; j--) {
    const e = order[j];
    const r = region[e];
    if (r) {
      tp++;
      proSum += weight[r];
    } else fp++;
    const s = scores[e];
    if (j > 0 && scores[order[j - 1]] === s) continue;
    // One operating point per distinct score.
    rocTwiceArea += (fp - prevFp) * (tp + prevTp);
    prevTp = tp;
    prevFp = fp;
    const fpr = fp / normalPixels;
    const pro = Math.min(1, proSum / regionCount);
    for (const a of accs) a.add(fpr, pro);
    const f1 = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + (defectPixels - tp));
    if (f1 > bestF1) {
      bestF1 = f1;
      bestF1Threshold = s;
    }
    if (wantCurve) {
      curveFpr[points] = fpr;
      curvePro[points] = proSum / regionCount;
      curveThr[points++] = s;
    }
  }
  for (const a of accs) a.add(1, 1);
  const auProAt = limits.map((limit, k) => ({ limit, auPro: accs[k].area() / limit }));

  const imageScores = mapMaxima(input.maps, input.names);
  const goodImages = imageHasDefect.reduce((c, d) => c + (d ? 0 : 1), 0);
  const imageAuroc = goodImages > 0 && goodImages < nImages ? rocAuc(imageHasDefect, imageScores) : NaN;

  const out: LocalizationMetrics = {
    pixelAuroc: rocTwiceArea / (2 * defectPixels * normalPixels),
    auPro: auProAt[0].auPro,
    auProAt,
    pixelF1Max: bestF1,
    pixelF1Threshold: bestF1Threshold,
    imageAuroc,
    imageScores,
    regionCount,
    defectPixels,
    normalPixels,
  };
  if (wantCurve) {
    out.proCurve = {
      fpr: curveFpr.slice(0, points),
      pro: curvePro.slice(0, points),
      thresholds: curveThr.slice(0, points),
    };
  }
  return out;
}

/** Pooled pixel AUROC of maps against masks (see {@link localizationMetrics}). */
export function pixelAuroc(input: LocalizationInput): number {
  return localizationMetrics(input).pixelAuroc;
}

/** MVTec AD's AU-PRO up to `limit` (default 0.3), normalised by the limit (see {@link localizationMetrics}). */
export function auPro(input: LocalizationInput, limit = DEFAULT_PRO_LIMIT): number {
  return localizationMetrics(input, { proLimits: [limit] }).auPro;
}

/** The best pooled pixel F1 over all thresholds, and its threshold (see {@link localizationMetrics}). */
export function pixelF1Max(input: LocalizationInput): { f1: number; threshold: number } {
  const m = localizationMetrics(input);
  return { f1: m.pixelF1Max, threshold: m.pixelF1Threshold };
}
