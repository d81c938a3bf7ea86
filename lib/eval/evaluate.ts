/**
 * Evaluation of a trained ProjectionNet on one category: embed the train/good images and the test images,
 * L2-normalise, fit the density (Gaussian with Ledoit–Wolf shrinkage, or KDE), score the test images, and
 * compute ROC AUC and the Youden threshold.
 * @module
 */
import type { ProjectionNet } from "../model/projection_net.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { embedImages } from "./embed.ts";
import { type Density, fitGaussianDensity, fitKde, scoreRows } from "./density.ts";
import { rocAuc, type RocCurve, rocCurve, youdenThreshold } from "./roc.ts";
import type { Matrix } from "./linalg.ts";
import { UserError } from "../util/errors.ts";

/** Start of the error message when a network's embeddings are not finite. */
export const NON_FINITE_EMBEDDINGS = "non-finite embeddings";

/** Density estimators accepted by `--density`. */
export const DENSITY_KINDS = ["gaussian", "kde"] as const;
/** A density estimator name. */
export type DensityKind = typeof DENSITY_KINDS[number];

/** Results of {@link evaluateEmbeddings}. */
export interface Evaluation {
  /** The fitted density (rows are L2-normalised inside). */
  density: Density;
  /** Anomaly score of each test image (higher = more anomalous). */
  scores: Float64Array;
  /** Test labels (0 good, 1 defective). */
  labels: number[];
  /** ROC AUC of the scores. */
  auroc: number;
  /** The ROC curve. */
  curve: RocCurve;
  /** Youden threshold (score ≥ threshold ⇒ anomalous). */
  threshold: number;
}

/**
 * The Youden threshold, made usable: when no threshold beats chance (J ≤ 0 everywhere) the Youden point is
 * sklearn's +∞ "admit nothing" point; then the highest test score is used instead, so that the threshold is a
 * finite number that can be saved and shipped.
 */
export function decisionThreshold(curve: RocCurve): number {
  const t = youdenThreshold(curve);
  return Number.isFinite(t) || curve.thresholds.length < 2 ? t : curve.thresholds[1];
}

/** Fit a density on train embeddings and score test embeddings. */
export function evaluateEmbeddings(
  train: Matrix,
  test: Matrix,
  labels: number[],
  kind: DensityKind = "gaussian",
): Evaluation {
  const density = kind === "kde"
    ? fitKde(train, 1, { l2Normalize: true })
    : fitGaussianDensity(train, { l2Normalize: true });
  const scores = scoreRows(density, test);
  const curve = rocCurve(labels, scores);
  return {
    density,
    scores,
    labels,
    auroc: rocAuc(labels, scores),
    curve,
    threshold: decisionThreshold(curve),
  };
}

/** Embed train and test images with the net and evaluate (see {@link evaluateEmbeddings}). */
export async function evaluateNet(
  net: ProjectionNet,
  trainImages: readonly RgbImage[],
  testImages: readonly RgbImage[],
  labels: number[],
  options: { kind?: DensityKind; batchSize?: number; onProgress?: (done: number, total: number) => void } =
    {},
): Promise<Evaluation & { trainEmbeddings: Matrix; testEmbeddings: Matrix }> {
  const total = trainImages.length + testImages.length;
  const train = await embedImages(net, trainImages, {
    batchSize: options.batchSize,
    onProgress: (d) => options.onProgress?.(d, total),
  });
  const test = await embedImages(net, testImages, {
    batchSize: options.batchSize,
    onProgress: (d) => options.onProgress?.(trainImages.length + d, total),
  });
  if (!train.data.every(Number.isFinite) || !test.data.every(Number.isFinite)) {
    throw new UserError(
      `${NON_FINITE_EMBEDDINGS}: the network produced NaN or infinite embeddings`,
      "the weights are not finite — the training diverged; retrain with a lower --lr",
    );
  }
  return {
    ...evaluateEmbeddings(train, test, labels, options.kind),
    trainEmbeddings: train,
    testEmbeddings: test,
  };
}
