/**
 * Density models over embedding rows, and anomaly scores from them, as in the CutPaste evaluation:
 *
 * - a Gaussian with the sample mean and the Ledoit–Wolf shrunk covariance (exactly scikit-learn's
 *   `LedoitWolf().fit`, `assume_centered=False`), scored by the Mahalanobis distance
 *   `sqrt((x − μ)ᵀ Σ⁻¹ (x − μ))`;
 * - a Gaussian-kernel density estimate, scored by the negative log density (scikit-learn's
 *   `-KernelDensity(kernel="gaussian", bandwidth=h).fit(train).score_samples(x)`).
 *
 * Both carry `kind`, so {@link scoreRows} scores with either, and both serialise to plain JSON
 * ({@link densityToJson} / {@link densityFromJson}) for prediction and export — never to code or pickles.
 * A density fitted with `l2Normalize: true` L2-normalises rows itself, before fitting and before scoring.
 * @module
 */

import { UserError } from "../util/errors.ts";
import {
  asMatrix,
  columnMean,
  createMatrix,
  gram,
  type Matrix,
  type MatrixLike,
  quadraticForm,
  subtractRowVector,
  symmetricInverse,
  toRows,
} from "./linalg.ts";

/** A Gaussian density: mean and Ledoit–Wolf shrunk covariance, with its (pseudo-)inverse. */
export interface GaussianDensity {
  /** Discriminates the density kinds. */
  kind: "gaussian";
  /** Embedding dimension. */
  dim: number;
  /** Whether rows are L2-normalised before fitting and scoring. */
  l2Normalize: boolean;
  /** Number of training rows the density was fitted on. */
  nTrain: number;
  /** The mean of the training rows (sklearn `location_`). */
  location: Float64Array;
  /** The shrunk covariance, `dim × dim` (sklearn `covariance_`). */
  covariance: Matrix;
  /** Its inverse (pseudo-inverse when singular), `dim × dim` (sklearn `precision_`). */
  precision: Matrix;
  /** The Ledoit–Wolf shrinkage coefficient in [0, 1] (sklearn `shrinkage_`). */
  shrinkage: number;
}

/** A Gaussian kernel density estimate: the training rows and the bandwidth. */
export interface KdeDensity {
  /** Discriminates the density kinds. */
  kind: "kde";
  /** Embedding dimension. */
  dim: number;
  /** Whether rows are L2-normalised before fitting and scoring. */
  l2Normalize: boolean;
  /** Number of training rows (the kernel centres). */
  nTrain: number;
  /** The kernel bandwidth h (> 0). */
  bandwidth: number;
  /** The kernel centres, `nTrain × dim` (already normalised when `l2Normalize`). */
  points: Matrix;
}

/** Either density model. */
export type Density = GaussianDensity | KdeDensity;

/** Options shared by the density fitters. */
export interface FitDensityOptions {
  /** L2-normalise rows before fitting, and store that so {@link scoreRows} normalises too (default false). */
  l2Normalize?: boolean;
}

/** The JSON form of a {@link GaussianDensity} (see {@link densityToJson}). */
export interface GaussianDensityJson {
  /** Always `"sspcab-density"`. */
  format: typeof DENSITY_FORMAT;
  /** Format version, currently 1. */
  version: number;
  /** `"gaussian"`. */
  kind: "gaussian";
  /** Embedding dimension. */
  dim: number;
  /** Whether rows are L2-normalised before scoring. */
  l2Normalize: boolean;
  /** Number of training rows. */
  nTrain: number;
  /** Ledoit–Wolf shrinkage. */
  shrinkage: number;
  /** Mean vector (`dim`). */
  location: number[];
  /** Covariance rows (`dim × dim`). */
  covariance: number[][];
  /** Precision rows (`dim × dim`). */
  precision: number[][];
}

/** The JSON form of a {@link KdeDensity} (see {@link densityToJson}). */
export interface KdeDensityJson {
  /** Always `"sspcab-density"`. */
  format: typeof DENSITY_FORMAT;
  /** Format version, currently 1. */
  version: number;
  /** `"kde"`. */
  kind: "kde";
  /** Embedding dimension. */
  dim: number;
  /** Whether rows are L2-normalised before scoring. */
  l2Normalize: boolean;
  /** Number of kernel centres. */
  nTrain: number;
  /** Kernel bandwidth. */
  bandwidth: number;
  /** Kernel centres (`nTrain × dim`). */
  points: number[][];
}

/** The JSON form of either density. */
export type DensityJson = GaussianDensityJson | KdeDensityJson;

/** The `format` tag written into every density JSON document. */
export const DENSITY_FORMAT = "sspcab-density" as const;
/** The density JSON format version this module writes and reads. */
export const DENSITY_FORMAT_VERSION = 1;

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Divide every row by its Euclidean norm (`a / ‖a‖₂` row-wise, as the reference evaluation does). A row of
 * zeros is left as zeros (as `sklearn.preprocessing.normalize`), rather than becoming NaN.
 */
export function l2NormalizeRows(rows: MatrixLike): Matrix {
  const m = asMatrix(rows);
  const out = createMatrix(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[o + j] * m.data[o + j];
    const norm = Math.sqrt(s);
    if (norm === 0) continue;
    for (let j = 0; j < m.cols; j++) out.data[o + j] = m.data[o + j] / norm;
  }
  return out;
}

/**
 * The Ledoit–Wolf shrinkage coefficient of `x`, exactly as `sklearn.covariance.ledoit_wolf_shrinkage`
 * (rows are centred first unless `assumeCentered`). A single feature gives 0.
 */
export function ledoitWolfShrinkage(x: MatrixLike, opts: { assumeCentered?: boolean } = {}): number {
  const m = asMatrix(x);
  if (m.cols === 1) return 0;
  const xc = opts.assumeCentered ? m : subtractRowVector(m, columnMean(m));
  return ledoitWolfFromCentred(xc, gram(xc)).shrinkage;
}

/**
 * The Ledoit–Wolf shrunk covariance of `x` and its shrinkage, as `sklearn.covariance.ledoit_wolf`
 * (maximum-likelihood covariance `(1 − s)·S + s·μ·I` with `μ = trace(S) / d`).
 */
export function ledoitWolf(
  x: MatrixLike,
  opts: { assumeCentered?: boolean } = {},
): { covariance: Matrix; shrinkage: number } {
  const m = asMatrix(x);
  if (m.rows === 0) throw new RangeError("ledoitWolf needs at least one row");
  const xc = opts.assumeCentered ? m : subtractRowVector(m, columnMean(m));
  const g = gram(xc);
  if (m.cols === 1) {
    return { covariance: createMatrix(1, 1, Float64Array.of(g.data[0] / m.rows)), shrinkage: 0 };
  }
  const { shrinkage } = ledoitWolfFromCentred(xc, g);
  const n = m.rows;
  const d = m.cols;
  const cov = createMatrix(d, d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += g.data[i * d + i] / n;
  const mu = trace / d;
  for (let k = 0; k < d * d; k++) cov.data[k] = (1 - shrinkage) * (g.data[k] / n);
  for (let i = 0; i < d; i++) cov.data[i * d + i] += shrinkage * mu;
  return { covariance: cov, shrinkage };
}

// sklearn's ledoit_wolf_shrinkage on centred rows, given their Gram matrix XᵀX.
function ledoitWolfFromCentred(xc: Matrix, g: Matrix): { shrinkage: number } {
  const n = xc.rows;
  const d = xc.cols;
  // emp_cov_trace[j] = Σ_k X[k,j]² / n; mu = Σ_j emp_cov_trace[j] / d.
  let traceSum = 0;
  for (let j = 0; j < d; j++) traceSum += g.data[j * d + j] / n;
  const mu = traceSum / d;
  // delta_ = Σ (XᵀX)² / n²;  beta_ = Σ (X²)ᵀ(X²) = Σ_k ‖x_k‖⁴.
  let delta_ = 0;
  for (let k = 0; k < d * d; k++) delta_ += g.data[k] * g.data[k];
  delta_ /= n * n;
  let beta_ = 0;
  for (let k = 0; k < n; k++) {
    let s = 0;
    const o = k * d;
    for (let j = 0; j < d; j++) s += xc.data[o + j] * xc.data[o + j];
    beta_ += s * s;
  }
  let beta = (1 / (d * n)) * (beta_ / n - delta_);
  let delta = delta_ - 2 * mu * traceSum + d * mu * mu;
  delta /= d;
  beta = Math.min(beta, delta);
  // In exact arithmetic 0 ≤ β ≤ δ; rounding on (near-)degenerate data can push β a hair below 0.
  return { shrinkage: beta === 0 ? 0 : Math.min(1, Math.max(0, beta / delta)) };
}

/**
 * Fit a Gaussian to the training rows: location = mean, covariance = Ledoit–Wolf shrunk covariance and
 * precision = its inverse (Cholesky, or the pseudo-inverse when the covariance is singular, as sklearn's
 * `pinvh`). Matches `sklearn.covariance.LedoitWolf().fit(rows)`.
 */
export function fitGaussianDensity(trainRows: MatrixLike, opts: FitDensityOptions = {}): GaussianDensity {
  const l2Normalize = opts.l2Normalize ?? false;
  const x = prepareTrainRows(trainRows, l2Normalize, "fitGaussianDensity");
  const location = columnMean(x);
  const { covariance, shrinkage } = ledoitWolf(subtractRowVector(x, location), { assumeCentered: true });
  const { inverse } = symmetricInverse(covariance);
  return {
    kind: "gaussian",
    dim: x.cols,
    l2Normalize,
    nTrain: x.rows,
    location,
    covariance,
    precision: inverse,
    shrinkage,
  };
}

/** Mahalanobis distances `sqrt((x − μ)ᵀ P (x − μ))` of the rows to a {@link GaussianDensity}. */
export function mahalanobisScores(density: GaussianDensity, rows: MatrixLike): Float64Array {
  const x = prepareQueryRows(density, rows, "mahalanobisScores");
  const d = density.dim;
  const out = new Float64Array(x.rows);
  const diff = new Float64Array(d);
  for (let i = 0; i < x.rows; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) diff[j] = x.data[o + j] - density.location[j];
    // A PSD quadratic form can round to a tiny negative number; clamp it so the root is defined.
    out[i] = Math.sqrt(Math.max(0, quadraticForm(density.precision, diff)));
  }
  return out;
}

/**
 * Fit a Gaussian kernel density estimate (sklearn `KernelDensity(kernel="gaussian", bandwidth)`). The
 * bandwidth is a positive number (default 1) or a rule of thumb: `"scott"` = n^(−1/(d+4)), `"silverman"` =
 * (n·(d+2)/4)^(−1/(d+4)), as in sklearn.
 */
export function fitKde(
  trainRows: MatrixLike,
  bandwidth: number | "scott" | "silverman" = 1,
  opts: FitDensityOptions = {},
): KdeDensity {
  const l2Normalize = opts.l2Normalize ?? false;
  const points = prepareTrainRows(trainRows, l2Normalize, "fitKde", 1);
  const n = points.rows;
  const d = points.cols;
  let h: number;
  if (bandwidth === "scott") h = Math.pow(n, -1 / (d + 4));
  else if (bandwidth === "silverman") h = Math.pow((n * (d + 2)) / 4, -1 / (d + 4));
  else h = bandwidth;
  if (typeof h !== "number" || !(h > 0) || !Number.isFinite(h)) {
    throw new RangeError(
      `fitKde: bandwidth must be a positive finite number, "scott" or "silverman", got ${bandwidth}`,
    );
  }
  return { kind: "kde", dim: d, l2Normalize, nTrain: n, bandwidth: h, points };
}

/**
 * Log density of each row under a {@link KdeDensity}, as sklearn's `KernelDensity.score_samples`:
 * `logsumexp_j(−‖x − x_j‖² / 2h²) − log n − (d/2)·log(2π) − d·log h`.
 */
export function kdeLogDensity(density: KdeDensity, rows: MatrixLike): Float64Array {
  const x = prepareQueryRows(density, rows, "kdeLogDensity");
  const d = density.dim;
  const n = density.nTrain;
  const p = density.points.data;
  const h = density.bandwidth;
  const inv2h2 = 1 / (2 * h * h);
  const logNorm = -0.5 * d * LOG_2PI - d * Math.log(h) - Math.log(n);
  const out = new Float64Array(x.rows);
  const logk = new Float64Array(n);
  for (let i = 0; i < x.rows; i++) {
    const o = i * d;
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      const oj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = x.data[o + k] - p[oj + k];
        s += t * t;
      }
      const v = -s * inv2h2;
      logk[j] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(logk[j] - max);
    out[i] = max + Math.log(sum) + logNorm;
  }
  return out;
}

/** Anomaly scores under a {@link KdeDensity}: the negative log density (higher = more anomalous). */
export function kdeScores(density: KdeDensity, rows: MatrixLike): Float64Array {
  const out = kdeLogDensity(density, rows);
  for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/**
 * Anomaly scores of the rows under either density (higher = more anomalous): the Mahalanobis distance for
 * a Gaussian, the negative log density for a KDE.
 */
export function scoreRows(density: Density, rows: MatrixLike): Float64Array {
  switch (density.kind) {
    case "gaussian":
      return mahalanobisScores(density, rows);
    case "kde":
      return kdeScores(density, rows);
    default:
      throw new UserError(`unknown density kind ${JSON.stringify((density as { kind: unknown }).kind)}`);
  }
}

/**
 * Anomaly scores of `count` embeddings given as one flat row-major array (e.g. a float32 graph output),
 * scored in float64 with {@link scoreRows}: what every inference engine does with a model's `embedding`.
 */
export function scoreEmbeddings(density: Density, values: ArrayLike<number>, count: number): Float64Array {
  return scoreRows(density, createMatrix(count, values.length / count, Float64Array.from(values)));
}

/** A plain-JSON form of a density (numbers and arrays only), for `JSON.stringify` and export bundles. */
export function densityToJson(density: Density): DensityJson {
  const base = {
    format: DENSITY_FORMAT,
    version: DENSITY_FORMAT_VERSION,
    dim: density.dim,
    l2Normalize: density.l2Normalize,
    nTrain: density.nTrain,
  };
  if (density.kind === "gaussian") {
    return {
      ...base,
      kind: "gaussian",
      shrinkage: density.shrinkage,
      location: Array.from(density.location),
      covariance: toRows(density.covariance),
      precision: toRows(density.precision),
    };
  }
  return { ...base, kind: "kde", bandwidth: density.bandwidth, points: toRows(density.points) };
}

/**
 * Rebuild a density from its JSON form (an object or a JSON string), validating everything: the format tag
 * and version, the kind, the dimensions of every array and that all values are finite. Throws a
 * {@link UserError} naming the offending field.
 */
export function densityFromJson(json: unknown): Density {
  let doc: unknown = json;
  if (typeof json === "string") {
    try {
      doc = JSON.parse(json);
    } catch (err) {
      throw bad(`is not valid JSON (${(err as Error).message})`);
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("must be a JSON object");
  const o = doc as Record<string, unknown>;
  if (o.format !== DENSITY_FORMAT) {
    throw bad(
      `has format ${JSON.stringify(o.format)}, expected "${DENSITY_FORMAT}" (is this a density file?)`,
    );
  }
  if (o.version !== DENSITY_FORMAT_VERSION) {
    throw bad(`has version ${JSON.stringify(o.version)}; this build reads version ${DENSITY_FORMAT_VERSION}`);
  }
  const dim = positiveInt(o.dim, "dim");
  const nTrain = positiveInt(o.nTrain, "nTrain");
  if (typeof o.l2Normalize !== "boolean") throw bad(`field "l2Normalize" must be true or false`);
  const l2Normalize = o.l2Normalize;
  if (o.kind === "gaussian") {
    const shrinkage = finiteNumber(o.shrinkage, "shrinkage");
    if (shrinkage < 0 || shrinkage > 1) throw bad(`field "shrinkage" must lie in [0, 1], got ${shrinkage}`);
    const location = vector(o.location, "location", dim);
    const covariance = matrixField(o.covariance, "covariance", dim, dim);
    const precision = matrixField(o.precision, "precision", dim, dim);
    return { kind: "gaussian", dim, l2Normalize, nTrain, location, covariance, precision, shrinkage };
  }
  if (o.kind === "kde") {
    const bandwidth = finiteNumber(o.bandwidth, "bandwidth");
    if (!(bandwidth > 0)) throw bad(`field "bandwidth" must be positive, got ${bandwidth}`);
    const points = matrixField(o.points, "points", nTrain, dim);
    return { kind: "kde", dim, l2Normalize, nTrain, bandwidth, points };
  }
  throw bad(`has kind ${JSON.stringify(o.kind)}, expected "gaussian" or "kde"`);
}

function bad(what: string): UserError {
  return new UserError(
    `density JSON ${what}`,
    "re-run the evaluation to write a fresh density file, or check that the file was not edited or truncated",
  );
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw bad(`field "${name}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function finiteNumber(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw bad(`field "${name}" must be a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function vector(v: unknown, name: string, len: number): Float64Array {
  if (!Array.isArray(v)) throw bad(`field "${name}" must be an array of ${len} numbers`);
  if (v.length !== len) throw bad(`field "${name}" has ${v.length} values, expected ${len} (dim)`);
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw bad(`field "${name}"[${i}] must be a finite number, got ${JSON.stringify(x)}`);
    }
    out[i] = x;
  }
  return out;
}

function matrixField(v: unknown, name: string, rows: number, cols: number): Matrix {
  if (!Array.isArray(v)) throw bad(`field "${name}" must be a ${rows}×${cols} array of rows`);
  if (v.length !== rows) throw bad(`field "${name}" has ${v.length} rows, expected ${rows}`);
  const out = createMatrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    const r = v[i];
    if (!Array.isArray(r)) throw bad(`field "${name}" row ${i} must be an array of ${cols} numbers`);
    if (r.length !== cols) throw bad(`field "${name}" row ${i} has ${r.length} values, expected ${cols}`);
    for (let j = 0; j < cols; j++) {
      const x = r[j];
      if (typeof x !== "number" || !Number.isFinite(x)) {
        throw bad(`field "${name}"[${i}][${j}] must be a finite number, got ${JSON.stringify(x)}`);
      }
      out.data[i * cols + j] = x;
    }
  }
  return out;
}

function assertFinite(m: Matrix, what: string): void {
  for (let k = 0; k < m.data.length; k++) {
    if (!Number.isFinite(m.data[k])) {
      const i = Math.floor(k / m.cols);
      throw new UserError(
        `${what}: row ${i}, column ${k - i * m.cols} is ${m.data[k]}; embeddings must be finite numbers`,
        "check the model output (a diverged checkpoint gives NaN embeddings)",
      );
    }
  }
}

function prepareTrainRows(rows: MatrixLike, l2Normalize: boolean, what: string, minRows = 2): Matrix {
  const m = asMatrix(rows, `${what} training rows`);
  if (m.rows < minRows) {
    throw new UserError(
      `${what}: needs at least ${minRows} training rows, got ${m.rows}`,
      "embed more train/good images",
    );
  }
  if (m.cols < 1) throw new UserError(`${what}: training rows are empty (dimension 0)`);
  assertFinite(m, `${what} training rows`);
  return l2Normalize ? l2NormalizeRows(m) : m;
}

function prepareQueryRows(density: Density, rows: MatrixLike, what: string): Matrix {
  const m = asMatrix(rows, `${what} rows`);
  if (m.rows > 0 && m.cols !== density.dim) {
    throw new UserError(
      `${what}: rows have dimension ${m.cols}, but the density was fitted on dimension ${density.dim}`,
      "score embeddings from the same model the density was fitted with",
    );
  }
  assertFinite(m, `${what} rows`);
  return density.l2Normalize ? l2NormalizeRows(m) : m;
}
