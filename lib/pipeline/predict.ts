/**
 * Single-image (or many-image) prediction with a trained model and its fitted density: normal or anomalous,
 * the anomaly score and the threshold; optionally an anomaly-map overlay PNG per image.
 * @module
 */
import { basename, extname, join } from "node:path";
import { loadRgb, saveRgbPng } from "../data/images.ts";
import { gradcamMaps } from "../localize/gradcam.ts";
import { sspcabMaps } from "../localize/sspcab_map.ts";
import { heatmapOverlay } from "../plot/images.ts";

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
  /** The anomaly-map overlay PNG written for this image, when asked for. */
  heatmapPath?: string;
}

/** Anomaly maps `predict --heatmap` can draw. */
export const HEATMAP_MAPS = ["sspcab", "gradcam"] as const;

/** A value of {@link HEATMAP_MAPS}. */
export type HeatmapMap = typeof HEATMAP_MAPS[number];

/** Options of {@link predictImages}. */
export interface PredictOptions {
  /** Category of the model. */
  category: string;
  /** Folder with the model and its fitted density. */
  modelDir: string;
  /** Image files or folders. */
  inputs: string[];
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** Decompression-bomb limit. */
  maxPixels?: number;
  /**
   * Also write one overlay PNG per image into `dir` (`<name>.heatmap.png`): the `map` anomaly map (SSPCAB
   * reconstruction error by default) in the inferno colour map over the image, scaled to the image's own
   * map range.
   */
  heatmap?: { dir: string; map?: HeatmapMap };
}

/** File names `<stem>.heatmap.png` for `paths`, made unique with `-2`, `-3`, … when stems repeat. */
export function heatmapNames(paths: readonly string[]): string[] {
  const used = new Set<string>();
  return paths.map((p) => {
    const stem = basename(p, extname(p));
    let name = `${stem}.heatmap.png`;
    for (let k = 2; used.has(name); k++) name = `${stem}-${k}.heatmap.png`;
    used.add(name);
    return name;
  });
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
export async function predictImages(options: PredictOptions): Promise<Prediction[]> {
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
    let heatmapPaths: string[] | undefined;
    if (options.heatmap) {
      const batchSize = options.batchSize ?? 16;
      const maps = options.heatmap.map === "gradcam"
        ? await gradcamMaps(model.net, fitted.density, images, { batchSize })
        : await sspcabMaps(model.net, images, { batchSize });
      const dir = options.heatmap.dir;
      heatmapPaths = heatmapNames(paths).map((name) => join(dir, name));
      for (let i = 0; i < images.length; i++) {
        await saveRgbPng(heatmapPaths[i], heatmapOverlay(images[i], maps[i]));
      }
    }
    return paths.map((path, i) => ({
      path,
      score: scores[i],
      threshold: fitted.threshold,
      anomalous: scores[i] >= fitted.threshold,
      ...(heatmapPaths ? { heatmapPath: heatmapPaths[i] } : {}),
    }));
  } finally {
    disposeParams(model.net.params);
  }
}
