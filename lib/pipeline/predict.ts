/**
 * Single-image (or many-image) prediction with a trained model and its fitted density: normal or anomalous,
 * the anomaly score and the threshold.
 * @module
 */
import { loadRgb } from "../data/images.ts";
import { expandImagePaths } from "../data/image_paths.ts";
import { embedImages } from "../eval/embed.ts";
import { scoreRows } from "../eval/density.ts";
import { fittedModelPath, loadFittedModel } from "../eval/fitted_model.ts";
import { checkDensityMatchesModel, loadTrainedModel } from "../train/model_file.ts";
import { runPaths } from "../train/config.ts";
import { disposeParams } from "../model/params.ts";

/** The verdict for one image. */
export interface Prediction {
  /** Image path. */
  path: string;
  /** Anomaly score (Mahalanobis distance, or KDE negative log density). */
  score: number;
  /** Decision threshold. */
  threshold: number;
  /** score ≥ threshold. */
  anomalous: boolean;
}

/** Format a prediction as the reference prints it. */
export function formatPrediction(p: Prediction): string {
  return `image_name: ${p.path}, data is ${p.anomalous ? "anomalous" : "normal"}, ` +
    `score is ${p.score.toFixed(6)}, threshold is ${p.threshold.toFixed(6)}`;
}

/**
 * Score images with the trained model of `category` in `modelDir` (model + fitted density from `eval`; the
 * density must have been fitted on this very model file). `maxPixels` is the decompression-bomb limit.
 */
export async function predictImages(
  options: { category: string; modelDir: string; inputs: string[]; batchSize?: number; maxPixels?: number },
): Promise<Prediction[]> {
  const paths = await expandImagePaths(options.inputs);
  const densityPath = fittedModelPath(options.modelDir, options.category);
  const fitted = await loadFittedModel(densityPath);
  // Decode every image before the (heavier) model load, so a bad file fails fast and by name.
  const images = await Promise.all(
    paths.map((p) => loadRgb(p, fitted.imageSize, { maxPixels: options.maxPixels })),
  );
  const model = await loadTrainedModel(runPaths({ ...options, logDir: "" }).best, {
    fallback: { category: options.category, size: fitted.imageSize },
  });
  try {
    checkDensityMatchesModel(densityPath, fitted.model, model);
    const embeddings = await embedImages(model.net, images, { batchSize: options.batchSize ?? 16 });
    const scores = scoreRows(fitted.density, embeddings);
    return paths.map((path, i) => ({
      path,
      score: scores[i],
      threshold: fitted.threshold,
      anomalous: scores[i] >= fitted.threshold,
    }));
  } finally {
    disposeParams(model.net.params);
  }
}
