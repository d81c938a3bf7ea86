/**
 * Small dense float64 linear algebra on row-major `Float64Array` matrices: column means, covariance, Gram
 * matrices, Cholesky, the symmetric eigendecomposition (Householder tridiagonalisation + implicit QL, as in
 * EISPACK `tred2`/`tql2`), the pseudo-inverse of a symmetric matrix (like `scipy.linalg.pinvh`, which
 * scikit-learn's covariance estimators use for `precision_`) and matrix–vector products.
 *
 * Everything here is meant for the evaluation side of the pipeline (embedding dimension ≤ 512): a 512×512
 * inverse or eigendecomposition takes well under a second.
 * @module
 */

/** A dense row-major matrix of float64 values: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** The `rows × cols` values, row after row. */
  readonly data: Float64Array;
}

/** Anything accepted where a matrix of rows is expected: a {@link Matrix} or an array of equal-length rows. */
export type MatrixLike = Matrix | readonly ArrayLike<number>[];

/** The eigendecomposition of a symmetric matrix: `A = V · diag(values) · Vᵀ`, eigenvalues ascending. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order (as `numpy.linalg.eigh`). */
  values: Float64Array;
  /** Eigenvectors as the columns of an `n × n` matrix, in the order of `values`. */
  vectors: Matrix;
}

/** Machine epsilon of float64 (2⁻⁵²). */
export const EPSILON = 2.220446049250313e-16;

/** Create a `rows × cols` matrix, zero-filled or wrapping `data` (which must have `rows · cols` entries). */
export function createMatrix(rows: number, cols: number, data?: Float64Array): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`matrix shape must be non-negative integers, got ${rows}×${cols}`);
  }
  if (data && data.length !== rows * cols) {
    throw new RangeError(`matrix data has ${data.length} values, expected ${rows}×${cols} = ${rows * cols}`);
  }
  return { rows, cols, data: data ?? new Float64Array(rows * cols) };
}

/** True when `m` is a {@link Matrix} (rather than an array of rows). */
export function isMatrix(m: unknown): m is Matrix {
  return typeof m === "object" && m !== null && !Array.isArray(m) &&
    (m as Matrix).data instanceof Float64Array && Number.isInteger((m as Matrix).rows) &&
    Number.isInteger((m as Matrix).cols);
}

/**
 * Copy an array of rows into a new matrix. All rows must have the same length; `name` is used in the error.
 * An empty array gives a `0 × cols` matrix (cols = `emptyCols`, default 0).
 */
export function fromRows(rows: readonly ArrayLike<number>[], name = "rows", emptyCols = 0): Matrix {
  if (rows.length === 0) return createMatrix(0, emptyCols);
  const cols = rows[0].length;
  const out = createMatrix(rows.length, cols);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!r || r.length !== cols) {
      throw new RangeError(
        `${name}: row ${i} has length ${r?.length}, expected ${cols} (all rows must match)`,
      );
    }
    for (let j = 0; j < cols; j++) out.data[i * cols + j] = r[j];
  }
  return out;
}

/** View a {@link MatrixLike} as a {@link Matrix} (a matrix is returned as is, rows are copied). */
export function asMatrix(m: MatrixLike, name = "rows"): Matrix {
  return isMatrix(m) ? m : fromRows(m as readonly ArrayLike<number>[], name);
}

/** The rows of `m` as plain number arrays (e.g. for JSON). */
export function toRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/** Row `i` of `m` as a view (no copy). */
export function row(m: Matrix, i: number): Float64Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/** The `n × n` identity matrix. */
export function identity(n: number): Matrix {
  const m = createMatrix(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/** The transpose of `m` (a new matrix). */
export function transpose(m: Matrix): Matrix {
  const out = createMatrix(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) out.data[j * m.rows + i] = m.data[i * m.cols + j];
  }
  return out;
}

/** The mean of each column of `m` (length `cols`). Throws for a matrix without rows. */
export function columnMean(m: Matrix): Float64Array {
  if (m.rows === 0) throw new RangeError("cannot take the column mean of a matrix with no rows");
  const mean = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    for (let j = 0; j < m.cols; j++) mean[j] += m.data[o + j];
  }
  for (let j = 0; j < m.cols; j++) mean[j] /= m.rows;
  return mean;
}

/** `m` with `v` subtracted from every row (a new matrix). */
export function subtractRowVector(m: Matrix, v: ArrayLike<number>): Matrix {
  if (v.length !== m.cols) {
    throw new RangeError(`vector has length ${v.length}, matrix has ${m.cols} columns`);
  }
  const out = createMatrix(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    for (let j = 0; j < m.cols; j++) out.data[o + j] = m.data[o + j] - v[j];
  }
  return out;
}

/** The Gram matrix `Xᵀ X` (`cols × cols`, symmetric). */
export function gram(x: Matrix): Matrix {
  const d = x.cols;
  const out = createMatrix(d, d);
  const g = out.data;
  for (let r = 0; r < x.rows; r++) {
    const o = r * d;
    for (let i = 0; i < d; i++) {
      const xi = x.data[o + i];
      if (xi === 0) continue;
      const gi = i * d;
      for (let j = i; j < d; j++) g[gi + j] += xi * x.data[o + j];
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[i * d + j] = g[j * d + i];
  return out;
}

/**
 * The covariance of the rows of `x` (`cols × cols`). By default the maximum-likelihood estimate (divide by
 * n, as `sklearn.covariance.empirical_covariance`); `ddof: 1` gives the unbiased one. With
 * `assumeCentered` the rows are not centred first.
 */
export function covariance(x: Matrix, opts: { assumeCentered?: boolean; ddof?: number } = {}): Matrix {
  const ddof = opts.ddof ?? 0;
  if (x.rows - ddof <= 0) throw new RangeError(`covariance needs more than ${ddof} rows, got ${x.rows}`);
  const centred = opts.assumeCentered ? x : subtractRowVector(x, columnMean(x));
  const g = gram(centred);
  const s = 1 / (x.rows - ddof);
  for (let k = 0; k < g.data.length; k++) g.data[k] *= s;
  return g;
}

/** The matrix–vector product `A v`. */
export function matVec(a: Matrix, v: ArrayLike<number>): Float64Array {
  if (v.length !== a.cols) {
    throw new RangeError(`vector has length ${v.length}, matrix has ${a.cols} columns`);
  }
  const out = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    const o = i * a.cols;
    let s = 0;
    for (let j = 0; j < a.cols; j++) s += a.data[o + j] * v[j];
    out[i] = s;
  }
  return out;
}

/** The matrix product `A B`. */
export function matMul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new RangeError(`cannot multiply ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const out = createMatrix(a.rows, b.cols);
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    const oi = i * n;
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      const ok = k * n;
      for (let j = 0; j < n; j++) out.data[oi + j] += aik * b.data[ok + j];
    }
  }
  return out;
}

/** The dot product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors have lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The quadratic form `vᵀ A v` for a square `A`. */
export function quadraticForm(a: Matrix, v: ArrayLike<number>): number {
  if (a.rows !== a.cols || v.length !== a.cols) {
    throw new RangeError(
      `quadratic form needs a square matrix matching the vector: ${a.rows}×${a.cols}, ${v.length}`,
    );
  }
  const n = a.cols;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    let t = 0;
    for (let j = 0; j < n; j++) t += a.data[o + j] * v[j];
    s += v[i] * t;
  }
  return s;
}

/**
 * The lower-triangular Cholesky factor `L` with `A = L Lᵀ` of a symmetric positive-definite matrix, or
 * `null` when `A` is not (numerically) positive definite.
 */
export function cholesky(a: Matrix): Matrix | null {
  assertSquare(a, "cholesky");
  const n = a.rows;
  const l = createMatrix(n, n);
  const L = l.data;
  for (let j = 0; j < n; j++) {
    const oj = j * n;
    let s = a.data[oj + j];
    for (let k = 0; k < j; k++) s -= L[oj + k] * L[oj + k];
    if (!(s > 0) || !Number.isFinite(s)) return null;
    const d = Math.sqrt(s);
    L[oj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const oi = i * n;
      let t = a.data[oi + j];
      for (let k = 0; k < j; k++) t -= L[oi + k] * L[oj + k];
      L[oi + j] = t / d;
    }
  }
  return l;
}

/** The inverse `(L Lᵀ)⁻¹` from a lower Cholesky factor `L` (symmetric result). */
export function choleskyInverse(l: Matrix): Matrix {
  assertSquare(l, "choleskyInverse");
  const n = l.rows;
  const L = l.data;
  // W = L⁻¹ (lower triangular), by forward substitution column by column.
  const w = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    w[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const oi = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s -= L[oi + k] * w[k * n + j];
      w[oi + j] = s / L[oi + i];
    }
  }
  // A⁻¹ = Wᵀ W; entry (i, j) = Σ_{k ≥ max(i,j)} W[k,i] W[k,j].
  const out = createMatrix(n, n);
  const o = out.data;
  for (let k = 0; k < n; k++) {
    const ok = k * n;
    for (let i = 0; i <= k; i++) {
      const wki = w[ok + i];
      if (wki === 0) continue;
      const oi = i * n;
      for (let j = i; j <= k; j++) o[oi + j] += wki * w[ok + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) o[i * n + j] = o[j * n + i];
  return out;
}

/**
 * The eigendecomposition of a symmetric matrix (only the lower triangle is read): Householder reduction to
 * tridiagonal form and the implicit QL algorithm (EISPACK `tred2` + `tql2`). Eigenvalues come out ascending.
 */
export function symmetricEigen(a: Matrix): SymmetricEigen {
  const { values, rowsT } = eigenRows(a, "symmetricEigen");
  const n = a.rows;
  return { values, vectors: transpose(createMatrix(n, n, rowsT)) };
}

// Eigenvalues (ascending) and the eigenvectors as the *rows* of a row-major n×n array.
function eigenRows(a: Matrix, what: string): { values: Float64Array; rowsT: Float64Array } {
  assertSquare(a, what);
  const n = a.rows;
  // The EISPACK routines are written for column access; they run here on the transpose so that their
  // inner loops walk contiguous memory. The matrix is symmetric, so it is its own transpose.
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = a.data[i * n + j];
      T[i * n + j] = v;
      T[j * n + i] = v;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tred2(n, T, d, e);
    tql2(n, T, d, e);
  }
  return { values: d, rowsT: T };
}

/**
 * The pseudo-inverse of a symmetric matrix through its eigendecomposition, as `scipy.linalg.pinvh`:
 * eigenvalues with `|λ| ≤ atol + rtol · max|λ|` are treated as zero, with `atol = 0`, `rtol = n · ε` by
 * default.
 */
export function pinvh(a: Matrix, opts: { rtol?: number; atol?: number } = {}): Matrix {
  const n = a.rows;
  const { values, rowsT: U } = eigenRows(a, "pinvh");
  let maxAbs = 0;
  for (let i = 0; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  const cutoff = (opts.atol ?? 0) + (opts.rtol ?? n * EPSILON) * maxAbs;
  const out = createMatrix(n, n);
  const o = out.data;
  // out = Σ_k u_k u_kᵀ / λ_k over the kept eigenpairs (upper triangle, then mirrored).
  for (let k = 0; k < n; k++) {
    if (!(Math.abs(values[k]) > cutoff)) continue;
    const inv = 1 / values[k];
    const ok = k * n;
    for (let i = 0; i < n; i++) {
      const ai = inv * U[ok + i];
      if (ai === 0) continue;
      const oi = i * n;
      for (let j = i; j < n; j++) o[oi + j] += ai * U[ok + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) o[i * n + j] = o[j * n + i];
  return out;
}

/**
 * The inverse of a symmetric positive semi-definite matrix. Uses Cholesky when `A` is positive definite and
 * well conditioned, and otherwise falls back to {@link pinvh} (the pseudo-inverse that scikit-learn's
 * covariance estimators use), so a singular covariance still gives a usable precision matrix.
 */
export function symmetricInverse(a: Matrix): { inverse: Matrix; method: "cholesky" | "pinvh" } {
  assertSquare(a, "symmetricInverse");
  const n = a.rows;
  const l = cholesky(a);
  if (l) {
    // Every Cholesky pivot L_ii² bounds λ_min from above; a tiny pivot relative to the largest diagonal entry
    // means A is close to singular, where pinvh's eigenvalue cut-off is the safer (and sklearn's) answer.
    let minPivot = Infinity;
    let maxDiag = 0;
    for (let i = 0; i < n; i++) {
      minPivot = Math.min(minPivot, l.data[i * n + i] ** 2);
      maxDiag = Math.max(maxDiag, a.data[i * n + i]);
    }
    if (minPivot > 1e4 * n * EPSILON * maxDiag) return { inverse: choleskyInverse(l), method: "cholesky" };
  }
  return { inverse: pinvh(a), method: "pinvh" };
}

/** Squared Euclidean distances between every row of `a` and every row of `b` (`a.rows × b.rows`). */
export function squaredDistances(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new RangeError(`row lengths differ: ${a.cols} and ${b.cols}`);
  const d = a.cols;
  const out = createMatrix(a.rows, b.rows);
  for (let i = 0; i < a.rows; i++) {
    const oi = i * d;
    for (let j = 0; j < b.rows; j++) {
      const oj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = a.data[oi + k] - b.data[oj + k];
        s += t * t;
      }
      out.data[i * b.rows + j] = s;
    }
  }
  return out;
}

function assertSquare(a: Matrix, what: string): void {
  if (a.rows !== a.cols) throw new RangeError(`${what} needs a square matrix, got ${a.rows}×${a.cols}`);
}

// Householder tridiagonalisation (JAMA / EISPACK tred2) on the transposed storage: V[c * n + r] holds
// JAMA's V[r][c]. In place; on return the rows of V hold the accumulated orthogonal transformation.
function tred2(n: number, V: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + (n - 1)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + (i - 1)];
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[i * n + j] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[j * n + k] * d[k];
          e[k] += V[j * n + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[j * n + k] -= f * e[k] + g * d[k];
        d[j] = V[j * n + (i - 1)];
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    V[i * n + (n - 1)] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k] * V[j * n + k];
        for (let k = 0; k <= i; k++) V[j * n + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + (n - 1)];
    V[j * n + (n - 1)] = 0;
  }
  V[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

// Symmetric tridiagonal QL with implicit shifts (JAMA / EISPACK tql2) on the transposed storage, then sort
// ascending; on return row k of V is the eigenvector of d[k].
function tql2(n: number, V: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = EPSILON;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60 * n + 100) throw new Error("symmetricEigen: QL iteration did not converge");
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const oi = i * n;
          const oi1 = oi + n;
          for (let k = 0; k < n; k++) {
            h = V[oi1 + k];
            V[oi1 + k] = s * V[oi + k] + c * h;
            V[oi + k] = c * V[oi + k] - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // Selection sort ascending, swapping eigenvector columns.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[i * n + j];
        V[i * n + j] = V[k * n + j];
        V[k * n + j] = t;
      }
    }
  }
}
