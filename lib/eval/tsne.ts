/**
 * t-SNE projection of embedding rows to 2-D (for the evaluation plots) and the trustworthiness score of a
 * projection. This is exact t-SNE written to follow scikit-learn's `TSNE(method="exact")`: perplexity
 * calibration by binary search on squared Euclidean distances, symmetrised joint probabilities, Student-t
 * (one degree of freedom) similarities, gradient descent with gains, early exaggeration 12 for the first
 * 250 iterations with momentum 0.5, then momentum 0.8, learning rate `"auto"` = max(n / 12 / 4, 50), PCA
 * initialisation scaled to a first-coordinate standard deviation of 1e-4, and the same stopping rules.
 * It is deterministic: PCA initialisation uses no randomness and `init: "random"` uses a seeded generator.
 * Cost is O(n²) per iteration — fine for the few hundred to few thousand images of an MVTec category.
 * @module
 */

import { createRng } from "../util/rng.ts";
import {
  asMatrix,
  columnMean,
  createMatrix,
  gram,
  type Matrix,
  type MatrixLike,
  symmetricEigen,
} from "./linalg.ts";

/** Options of {@link tsne}; the defaults are scikit-learn's. */
export interface TsneOptions {
  /** Output dimension (default 2). */
  nComponents?: number;
  /** Perplexity, the effective number of neighbours (default 30; must be below the number of rows). */
  perplexity?: number;
  /** Factor on the joint probabilities during the first 250 iterations (default 12). */
  earlyExaggeration?: number;
  /** Gradient-descent step, or `"auto"` = max(n / earlyExaggeration / 4, 50) (default `"auto"`). */
  learningRate?: number | "auto";
  /** Total iterations, at least 250 (default 1000). */
  maxIter?: number;
  /** Stop after this many iterations without improvement of the KL divergence (default 300). */
  nIterWithoutProgress?: number;
  /** Stop when the gradient norm falls below this (default 1e-7). */
  minGradNorm?: number;
  /** Initial embedding: `"pca"` (default) or `"random"` (N(0, 1e-4²), seeded). */
  init?: "pca" | "random";
  /** Seed for `init: "random"` (default 0). */
  seed?: number;
}

/** The result of {@link tsne}. */
export interface TsneResult {
  /** The embedding, `n × nComponents`. */
  embedding: Matrix;
  /** The final Kullback–Leibler divergence between the joint probabilities P and Q. */
  klDivergence: number;
  /** Number of iterations run. */
  iterations: number;
}

const MACHINE_EPSILON = 2.220446049250313e-16;
const EXPLORATION_N_ITER = 250;
const N_ITER_CHECK = 50;

/**
 * Conditional probabilities p(j|i) with the Gaussian width of each row chosen by binary search so that its
 * perplexity matches (sklearn `_binary_search_perplexity`), from squared distances `n × n`. Row-major.
 */
export function conditionalProbabilities(sqDist: Matrix, perplexity: number): Float64Array {
  const n = sqDist.rows;
  const P = new Float64Array(n * n);
  const desiredEntropy = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    const o = i * n;
    let betaMin = -Infinity;
    let betaMax = Infinity;
    let beta = 1;
    for (let step = 0; step < 100; step++) {
      let sumP = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) {
          P[o + j] = 0;
          continue;
        }
        const v = Math.exp(-sqDist.data[o + j] * beta);
        P[o + j] = v;
        sumP += v;
      }
      if (sumP === 0) sumP = 1e-8;
      let sumDistP = 0;
      for (let j = 0; j < n; j++) {
        P[o + j] /= sumP;
        sumDistP += sqDist.data[o + j] * P[o + j];
      }
      const entropyDiff = Math.log(sumP) + beta * sumDistP - desiredEntropy;
      if (Math.abs(entropyDiff) <= 1e-5) break;
      if (entropyDiff > 0) {
        betaMin = beta;
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2;
      } else {
        betaMax = beta;
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2;
      }
    }
  }
  return P;
}

/** The joint probabilities P = (P_cond + P_condᵀ) / Σ, floored at machine epsilon (sklearn `_joint_probabilities`). */
export function jointProbabilities(sqDist: Matrix, perplexity: number): Float64Array {
  const n = sqDist.rows;
  const C = conditionalProbabilities(sqDist, perplexity);
  const P = new Float64Array(n * n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = C[i * n + j] + C[j * n + i];
      P[i * n + j] = v;
      sum += v;
    }
  }
  sum = Math.max(sum, MACHINE_EPSILON);
  for (let k = 0; k < n * n; k++) P[k] = Math.max(P[k] / sum, MACHINE_EPSILON);
  for (let i = 0; i < n; i++) P[i * n + i] = 0;
  return P;
}

function pairwiseSquared(x: Matrix): Matrix {
  const n = x.rows;
  const d = x.cols;
  const out = createMatrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = x.data[i * d + k] - x.data[j * d + k];
        s += t * t;
      }
      out.data[i * n + j] = s;
      out.data[j * n + i] = s;
    }
  }
  return out;
}

/**
 * The first `k` principal-component scores of the rows (exact, through the eigendecomposition of the smaller
 * of the covariance and Gram matrices), each signed so that its largest-magnitude score is positive.
 */
export function pcaScores(rows: MatrixLike, k: number): Matrix {
  const x = asMatrix(rows);
  const n = x.rows;
  const d = x.cols;
  const mean = columnMean(x);
  const xc = createMatrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc.data[i * d + j] = x.data[i * d + j] - mean[j];
  const out = createMatrix(n, k);
  if (d <= n) {
    const { vectors } = symmetricEigen(gram(xc));
    for (let c = 0; c < k && c < d; c++) {
      const col = d - 1 - c;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += xc.data[i * d + j] * vectors.data[j * d + col];
        out.data[i * k + c] = s;
      }
    }
  } else {
    // X Xᵀ = U Λ Uᵀ; the scores are U · sqrt(Λ).
    const g = createMatrix(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += xc.data[i * d + t] * xc.data[j * d + t];
        g.data[i * n + j] = s;
        g.data[j * n + i] = s;
      }
    }
    const { values, vectors } = symmetricEigen(g);
    for (let c = 0; c < k && c < n; c++) {
      const col = n - 1 - c;
      const sv = Math.sqrt(Math.max(0, values[col]));
      for (let i = 0; i < n; i++) out.data[i * k + c] = vectors.data[i * n + col] * sv;
    }
  }
  for (let c = 0; c < k; c++) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      if (Math.abs(out.data[i * k + c]) > Math.abs(out.data[best * k + c])) best = i;
    }
    if (out.data[best * k + c] < 0) {
      for (let i = 0; i < n; i++) out.data[i * k + c] = -out.data[i * k + c];
    }
  }
  return out;
}

// KL(P‖Q) and its gradient for the Student-t kernel with one degree of freedom (sklearn `_kl_divergence`).
// With w_ij = 1 / (1 + ‖y_i − y_j‖²), Z = Σ_{i≠j} w_ij and q_ij = w_ij / Z, the gradient
// 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j) is accumulated in one pass as 4 (A_i − B_i / Z) with
// A_i = Σ_j p_ij w_ij (y_i − y_j) and B_i = Σ_j w_ij² (y_i − y_j). (sklearn floors q at 2.2e-16 inside the
// gradient too; that changes nothing above rounding.) The KL value needs a second pass and is only computed
// when asked for.
function klGradient(
  Y: Float64Array,
  P: Float64Array,
  n: number,
  dims: number,
  grad: Float64Array,
  B: Float64Array,
  computeError: boolean,
): number {
  grad.fill(0);
  B.fill(0);
  let sumW = 0;
  for (let i = 0; i < n; i++) {
    const oi = i * dims;
    const pi = i * n;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dims;
      let s = 0;
      for (let c = 0; c < dims; c++) {
        const t = Y[oi + c] - Y[oj + c];
        s += t * t;
      }
      const w = 1 / (1 + s);
      sumW += w;
      const fa = P[pi + j] * w;
      const fb = w * w;
      for (let c = 0; c < dims; c++) {
        const t = Y[oi + c] - Y[oj + c];
        grad[oi + c] += fa * t;
        grad[oj + c] -= fa * t;
        B[oi + c] += fb * t;
        B[oj + c] -= fb * t;
      }
    }
  }
  const z = 2 * sumW;
  for (let k = 0; k < grad.length; k++) grad[k] = 4 * (grad[k] - B[k] / z);
  if (!computeError) return NaN;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let c = 0; c < dims; c++) {
        const t = Y[i * dims + c] - Y[j * dims + c];
        s += t * t;
      }
      const q = Math.max(1 / (1 + s) / z, MACHINE_EPSILON);
      const p = P[i * n + j];
      kl += p * Math.log(Math.max(p, MACHINE_EPSILON) / q);
    }
  }
  return 2 * kl;
}

interface DescentState {
  it: number;
  maxIter: number;
  momentum: number;
  learningRate: number;
  nIterWithoutProgress: number;
  minGradNorm: number;
}

// sklearn `_gradient_descent` (update and gains start afresh in each phase).
function gradientDescent(
  Y: Float64Array,
  P: Float64Array,
  n: number,
  dims: number,
  s: DescentState,
): { kl: number; it: number } {
  const update = new Float64Array(Y.length);
  const gains = new Float64Array(Y.length).fill(1);
  const grad = new Float64Array(Y.length);
  const B = new Float64Array(Y.length);
  let error = Number.MAX_VALUE;
  let bestError = Number.MAX_VALUE;
  let bestIter = s.it;
  let last = s.it - 1;
  for (let i = s.it; i < s.maxIter; i++) {
    last = i;
    const check = (i + 1) % N_ITER_CHECK === 0;
    const e = klGradient(Y, P, n, dims, grad, B, check);
    if (check) error = e;
    let gradNorm2 = 0;
    for (let k = 0; k < Y.length; k++) {
      if (update[k] * grad[k] < 0) gains[k] += 0.2;
      else gains[k] *= 0.8;
      if (gains[k] < 0.01) gains[k] = 0.01;
      const g = grad[k] * gains[k];
      gradNorm2 += g * g;
      update[k] = s.momentum * update[k] - s.learningRate * g;
      Y[k] += update[k];
    }
    if (check) {
      if (error < bestError) {
        bestError = error;
        bestIter = i;
      } else if (i - bestIter > s.nIterWithoutProgress) break;
      if (Math.sqrt(gradNorm2) <= s.minGradNorm) break;
    }
  }
  return { kl: error, it: last };
}

/**
 * Project the rows to `nComponents` (default 2) dimensions with exact t-SNE, following scikit-learn's
 * `TSNE(method="exact", init="pca", learning_rate="auto")`. Deterministic for given rows and options.
 */
export function tsne(rows: MatrixLike, opts: TsneOptions = {}): TsneResult {
  const x = asMatrix(rows, "tsne rows");
  const n = x.rows;
  const dims = opts.nComponents ?? 2;
  const perplexity = opts.perplexity ?? 30;
  const exaggeration = opts.earlyExaggeration ?? 12;
  const maxIter = opts.maxIter ?? 1000;
  if (n < 2) throw new RangeError(`tsne needs at least 2 rows, got ${n}`);
  for (let k = 0; k < x.data.length; k++) {
    if (!Number.isFinite(x.data[k])) {
      throw new RangeError(`tsne: value ${k} of the rows is ${x.data[k]}; must be finite`);
    }
  }
  if (!(perplexity > 0) || perplexity >= n) {
    throw new RangeError(
      `tsne: perplexity (${perplexity}) must be positive and less than the number of rows (${n})`,
    );
  }
  if (!Number.isInteger(maxIter) || maxIter < EXPLORATION_N_ITER) {
    throw new RangeError(`tsne: maxIter must be an integer ≥ ${EXPLORATION_N_ITER}, got ${maxIter}`);
  }
  if (!(exaggeration >= 1)) throw new RangeError(`tsne: earlyExaggeration must be ≥ 1, got ${exaggeration}`);
  const lr = opts.learningRate ?? "auto";
  const learningRate = lr === "auto" ? Math.max(n / exaggeration / 4, 50) : lr;
  if (!(learningRate > 0)) throw new RangeError(`tsne: learningRate must be positive, got ${lr}`);

  const P = jointProbabilities(pairwiseSquared(x), perplexity);

  let Y: Float64Array;
  if ((opts.init ?? "pca") === "pca") {
    const pca = pcaScores(x, dims);
    let m = 0;
    for (let i = 0; i < n; i++) m += pca.data[i * dims];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (pca.data[i * dims] - m) ** 2;
    const std = Math.sqrt(v / n);
    Y = pca.data;
    const scale = std > 0 ? 1e-4 / std : 1;
    for (let k = 0; k < Y.length; k++) Y[k] *= scale;
  } else {
    const rng = createRng(opts.seed ?? 0);
    Y = new Float64Array(n * dims);
    for (let k = 0; k < Y.length; k++) Y[k] = 1e-4 * rng.normal();
  }

  const common = {
    learningRate,
    minGradNorm: opts.minGradNorm ?? 1e-7,
  };
  for (let k = 0; k < P.length; k++) P[k] *= exaggeration;
  let r = gradientDescent(Y, P, n, dims, {
    ...common,
    it: 0,
    maxIter: EXPLORATION_N_ITER,
    momentum: 0.5,
    nIterWithoutProgress: EXPLORATION_N_ITER,
  });
  for (let k = 0; k < P.length; k++) P[k] /= exaggeration;
  if (r.it < EXPLORATION_N_ITER || maxIter - EXPLORATION_N_ITER > 0) {
    r = gradientDescent(Y, P, n, dims, {
      ...common,
      it: r.it + 1,
      maxIter,
      momentum: 0.8,
      nIterWithoutProgress: opts.nIterWithoutProgress ?? 300,
    });
  }
  return { embedding: createMatrix(n, dims, Y), klDivergence: r.kl, iterations: r.it + 1 };
}

/**
 * How well a low-dimensional embedding keeps the local neighbourhoods of the original rows, in [0, 1], as
 * `sklearn.manifold.trustworthiness` (Euclidean metric): rows that become one of the k nearest neighbours in
 * the embedding without being so originally are penalised by their original rank. Needs k < n / 2.
 */
export function trustworthiness(high: MatrixLike, low: MatrixLike, k = 5): number {
  const X = asMatrix(high, "trustworthiness high");
  const Y = asMatrix(low, "trustworthiness low");
  const n = X.rows;
  if (Y.rows !== n) throw new RangeError(`trustworthiness: ${n} original rows but ${Y.rows} embedded rows`);
  if (!Number.isInteger(k) || k < 1 || k >= n / 2) {
    throw new RangeError(`trustworthiness: k (${k}) must be a positive integer less than n / 2 (${n / 2})`);
  }
  const dX = pairwiseSquared(X);
  const dY = pairwiseSquared(Y);
  const rank = new Int32Array(n); // rank[j] = 1-based rank of j among i's original neighbours
  const idx = new Int32Array(n - 1);
  let t = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    let c = 0;
    for (let j = 0; j < n; j++) if (j !== i) idx[c++] = j;
    const byX = Array.from(idx).sort((a, b) => (dX.data[o + a] - dX.data[o + b]) || (a - b));
    for (let r = 0; r < byX.length; r++) rank[byX[r]] = r + 1;
    const byY = Array.from(idx).sort((a, b) => (dY.data[o + a] - dY.data[o + b]) || (a - b));
    for (let r = 0; r < k; r++) {
      const excess = rank[byY[r]] - k;
      if (excess > 0) t += excess;
    }
  }
  return 1 - t * (2 / (n * k * (2 * n - 3 * k - 1)));
}
