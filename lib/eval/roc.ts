/**
 * ROC curve, ROC AUC and the Youden threshold, computed exactly as scikit-learn's `roc_curve`
 * (`drop_intermediate=True`) and `roc_auc_score` (trapezoidal area; tied scores form one operating point,
 * so ties count one half).
 * @module
 */

/** A ROC curve: parallel arrays, one entry per operating point, thresholds decreasing. */
export interface RocCurve {
  /** False-positive rate at each threshold (non-decreasing, from 0 to 1). */
  fpr: Float64Array;
  /** True-positive rate at each threshold (non-decreasing, from 0 to 1). */
  tpr: Float64Array;
  /**
   * Score thresholds: a sample is predicted anomalous when `score >= threshold`. The first one admits no
   * sample (`+Infinity`, as scikit-learn ≥ 1.3; see {@link RocOptions.firstThreshold}).
   */
  thresholds: Float64Array;
}

/** Options of {@link rocCurve}. */
export interface RocOptions {
  /** Drop points that are collinear with their neighbours, as scikit-learn does by default (default true). */
  dropIntermediate?: boolean;
  /**
   * The threshold of the added (0, 0) point: `"infinity"` (scikit-learn ≥ 1.3, the default) or
   * `"max-plus-one"` (scikit-learn < 1.3: the largest score + 1).
   */
  firstThreshold?: "infinity" | "max-plus-one";
}

/** The Youden operating point of a ROC curve. */
export interface YoudenPoint {
  /** Index into the curve's arrays. */
  index: number;
  /** The threshold there. */
  threshold: number;
  /** TPR there. */
  tpr: number;
  /** FPR there. */
  fpr: number;
  /** Youden's J = TPR − FPR. */
  j: number;
}

function checkInputs(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  what: string,
): Uint8Array {
  if (labels.length !== scores.length) {
    throw new RangeError(`${what}: ${labels.length} labels but ${scores.length} scores; they must pair up`);
  }
  if (labels.length === 0) throw new RangeError(`${what}: no samples`);
  const y = new Uint8Array(labels.length);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === 1 || l === true) {
      y[i] = 1;
      pos++;
    } else if (l !== 0 && l !== false) {
      throw new RangeError(`${what}: label ${i} is ${l}; labels must be 0 (normal) or 1 (anomalous)`);
    }
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`${what}: score ${i} is ${scores[i]}; scores must be finite`);
    }
  }
  if (pos === 0 || pos === y.length) {
    throw new RangeError(
      `${what}: only one class present in the labels (all ${pos === 0 ? "0 / normal" : "1 / anomalous"}); ` +
        "ROC is not defined — evaluate on a set with both normal and anomalous samples",
    );
  }
  return y;
}

/**
 * The ROC curve of `scores` against binary `labels` (1 = positive/anomalous), as `sklearn.metrics.roc_curve`
 * with `pos_label=1`: one point per distinct score (highest first), collinear points dropped, and a (0, 0)
 * point prepended. Throws when only one class is present or a score is not finite.
 */
export function rocCurve(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  opts: RocOptions = {},
): RocCurve {
  const y = checkInputs(labels, scores, "rocCurve");
  const n = y.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // Descending scores; ties broken by index (the order inside a tie does not change the curve).
  order.sort((a, b) => (scores[b] - scores[a]) || (a - b));
  // _binary_clf_curve: cumulative counts at the last index of each run of equal scores.
  const fpsAll: number[] = [];
  const tpsAll: number[] = [];
  const thrAll: number[] = [];
  let tp = 0;
  for (let k = 0; k < n; k++) {
    tp += y[order[k]];
    const s = scores[order[k]];
    if (k === n - 1 || scores[order[k + 1]] !== s) {
      tpsAll.push(tp);
      fpsAll.push(k + 1 - tp);
      thrAll.push(s);
    }
  }
  let keep: number[] = fpsAll.map((_, i) => i);
  if ((opts.dropIntermediate ?? true) && fpsAll.length > 2) {
    keep = [0];
    for (let i = 1; i < fpsAll.length - 1; i++) {
      const d2f = fpsAll[i + 1] - 2 * fpsAll[i] + fpsAll[i - 1];
      const d2t = tpsAll[i + 1] - 2 * tpsAll[i] + tpsAll[i - 1];
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(fpsAll.length - 1);
  }
  const m = keep.length + 1;
  const fpr = new Float64Array(m);
  const tpr = new Float64Array(m);
  const thresholds = new Float64Array(m);
  const lastF = fpsAll[fpsAll.length - 1];
  const lastT = tpsAll[tpsAll.length - 1];
  thresholds[0] = (opts.firstThreshold ?? "infinity") === "infinity" ? Infinity : thrAll[keep[0]] + 1;
  for (let i = 0; i < keep.length; i++) {
    fpr[i + 1] = fpsAll[keep[i]] / lastF;
    tpr[i + 1] = tpsAll[keep[i]] / lastT;
    thresholds[i + 1] = thrAll[keep[i]];
  }
  return { fpr, tpr, thresholds };
}

/** The area under a curve by the trapezoidal rule (`sklearn.metrics.auc` / `numpy.trapz`), `x` monotonic. */
export function trapezoidArea(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) {
    throw new RangeError(`trapezoidArea: x has ${x.length} points, y has ${y.length}`);
  }
  let area = 0;
  for (let i = 1; i < x.length; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return area;
}

/**
 * Area under the ROC curve, as `sklearn.metrics.roc_auc_score` for binary labels: 1 when every positive
 * scores above every negative, 0 when reversed, 0.5 when all scores tie. Throws when only one class is present.
 */
export function rocAuc(labels: ArrayLike<number | boolean>, scores: ArrayLike<number>): number {
  const curve = rocCurve(labels, scores);
  return trapezoidArea(curve.fpr, curve.tpr);
}

/** The operating point that maximises Youden's J = TPR − FPR (the first one on ties, as `numpy.argmax`). */
export function youdenPoint(curve: RocCurve): YoudenPoint {
  const n = curve.fpr.length;
  if (n === 0 || curve.tpr.length !== n || curve.thresholds.length !== n) {
    throw new RangeError("youdenPoint: the ROC curve is empty or its arrays differ in length");
  }
  let best = 0;
  let bestJ = curve.tpr[0] - curve.fpr[0];
  for (let i = 1; i < n; i++) {
    const j = curve.tpr[i] - curve.fpr[i];
    if (j > bestJ) {
      bestJ = j;
      best = i;
    }
  }
  return {
    index: best,
    threshold: curve.thresholds[best],
    tpr: curve.tpr[best],
    fpr: curve.fpr[best],
    j: bestJ,
  };
}

/**
 * The Youden threshold of a ROC curve: the threshold at `argmax(tpr − fpr)` (first maximum). Samples with
 * `score >= threshold` are called anomalous.
 */
export function youdenThreshold(curve: RocCurve): number {
  return youdenPoint(curve).threshold;
}
