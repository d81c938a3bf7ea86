/**
 * The whitening matrix of a Gaussian density, computed once at export in float64, so that the exported graph
 * scores with a norm instead of a quadratic form: with `P = W Wᵀ`, the Mahalanobis distance is
 * `sqrt(dᵀ P d) = ‖dᵀ W‖₂`. A sum of squares has no cancellation, so float32 keeps the score's relative
 * accuracy where `dᵀ P d` in float32 would lose digits (and can even turn negative) for an ill-conditioned P.
 * @module
 */
import { cholesky, createMatrix, type Matrix, symmetricEigen } from "../../eval/linalg.ts";

/** A whitening matrix `W` (`dim × dim`, row-major, float64) with `W Wᵀ = P`, and how it was found. */
export interface Whitening {
  /** `W`, row-major. */
  matrix: Matrix;
  /** `cholesky` (P positive definite: W = L, lower triangular) or `eigen` (P only semi-definite). */
  method: "cholesky" | "eigen";
}

/**
 * Factor a symmetric positive (semi-)definite precision matrix `P = W Wᵀ` in float64: the Cholesky factor
 * when P is positive definite, else `W = V·diag(√max(λ, 0))` from its eigendecomposition (a pseudo-inverse
 * precision from a singular covariance is only semi-definite; tiny negative rounding eigenvalues become 0).
 */
export function whiteningMatrix(precision: Matrix): Whitening {
  if (precision.rows !== precision.cols) {
    throw new RangeError(`whiteningMatrix: precision is ${precision.rows}×${precision.cols}, not square`);
  }
  const n = precision.rows;
  // Symmetrise (JSON round trips keep symmetry, but a caller's matrix may be off by rounding).
  const sym = createMatrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      sym.data[i * n + j] = 0.5 * (precision.data[i * n + j] + precision.data[j * n + i]);
    }
  }
  const l = cholesky(sym);
  if (l) return { matrix: l, method: "cholesky" };
  const { values, vectors } = symmetricEigen(sym);
  const w = createMatrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      w.data[i * n + k] = vectors.data[i * n + k] * Math.sqrt(Math.max(0, values[k]));
    }
  }
  return { matrix: w, method: "eigen" };
}
