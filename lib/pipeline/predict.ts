/**
 * Single-image (or many-image) prediction with a trained model and its fitted density: normal or anomalous,
 * the anomaly score and the threshold; optionally an anomaly-map overlay PNG per image.
 * @module
 */
import { loadRgb, type RgbImage } from "../data/images.ts";
import { methodMaps } from "./method_maps.ts";
import { heatmapNames, heatmapPaths, summarizeMap, writeHeatmap } from "./heatmap.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import { UserError } from "../util/errors.ts";
import { LOCALIZATION_METHODS, type LocalizationMethod } from "../io/localization_file.ts";

import { expandImagePaths } from "../data/image_paths.ts";
import { embedImages } from "../eval/embed.ts";
import { scoreRows } from "../eval/density.ts";
import { fittedMap, type FittedModel, fittedModelPath, loadFittedModel } from "../eval/fitted_model.ts";
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
  /** The maximum of the image's anomaly map, when one was computed. */
  mapMax?: number;
  /** Fraction of the map's pixels ≥ the pixel threshold (absent without a stored pixel threshold). */
  defectArea?: number;
  /** The map method, when one was computed. */
  mapMethod?: LocalizationMethod;
}

/** Anomaly maps `predict --heatmap` can draw. */
export const HEATMAP_MAPS: typeof LOCALIZATION_METHODS = LOCALIZATION_METHODS;

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
   * Also write one overlay PNG per image into `dir` (`<name>.heatmap.png`): the `map` anomaly map (default:
   * the fitted model's default map, the one eval ranked best, else sspcab) in the inferno colour map over
   * the image, scaled to the image's own map range, with the predicted-mask outline at the stored pixel
   * threshold; each prediction then carries the map's maximum and defect area.
   */
  heatmap?: { dir: string; map?: HeatmapMap };
}

export { heatmapNames };

/**
 * Format a prediction as the reference prints it; with a map, `, map max X.XXXXXX` and (with a pixel
 * threshold) `, defect area Y.YY%` follow. `predict` and `infer` print the same line.
 */
export function formatPrediction(p: Prediction): string {
  const map = p.mapMax === undefined ? "" : `, map max ${p.mapMax.toFixed(6)}` +
    (p.defectArea === undefined ? "" : `, defect area ${(100 * p.defectArea).toFixed(2)}%`);
  return `image_name: ${p.path}, data is ${p.anomalous ? "anomalous" : "normal"}, ` +
    `score is ${p.score.toFixed(6)}, threshold is ${p.threshold.toFixed(6)}${map}`;
}

/** The map `predict` draws: `requested`, else the fitted model's default map, else sspcab. */
export function predictMapMethod(fitted: FittedModel, requested?: LocalizationMethod): LocalizationMethod {
  return requested ?? fittedMap(fitted)?.method ?? "sspcab";
}

/**
 * The anomaly maps of `method` for images at the model's size, with the options eval stored for that
 * method (defaults otherwise). `patch` needs the patch density eval stores.
 */
export async function computeMaps(
  net: ProjectionNet,
  fitted: FittedModel,
  method: LocalizationMethod,
  images: readonly RgbImage[],
  batchSize: number,
): Promise<Float32Array[]> {
  if (!(LOCALIZATION_METHODS as readonly string[]).includes(method)) {
    throw new UserError(`unknown map "${method}"`, `use one of ${LOCALIZATION_METHODS.join(", ")}`);
  }
  const stored = fittedMap(fitted, method);
  if (method === "patch" && !stored?.patchDensity) {
    throw new UserError(
      "the patch map needs the patch density that `deno task eval --localization patch` stores with the " +
        "fitted model; this one has none",
      "run `deno task eval --localization patch` for a model trained with --patch_size, or use --map sspcab",
    );
  }
  return await methodMaps(method, net, fitted.density, images, stored?.options ?? {}, {
    batchSize,
    quiet: true,
    patchDensity: stored?.patchDensity,
  });
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
    let heatmap: Array<Pick<Prediction, "heatmapPath" | "mapMax" | "defectArea" | "mapMethod">> | undefined;
    if (options.heatmap) {
      const method = predictMapMethod(fitted, options.heatmap.map);
      const pixelThreshold = fittedMap(fitted, method)?.pixelThreshold ?? null;
      const maps = await computeMaps(model.net, fitted, method, images, options.batchSize ?? 16);
      const files = heatmapPaths(options.heatmap.dir, paths);
      heatmap = [];
      for (let i = 0; i < images.length; i++) {
        const summary = summarizeMap(maps[i], pixelThreshold, `the ${method} map of ${paths[i]}`);
        await writeHeatmap(files[i], images[i], maps[i], pixelThreshold);
        heatmap.push({ heatmapPath: files[i], mapMethod: method, ...summary });
      }
    }
    return paths.map((path, i) => ({
      path,
      score: scores[i],
      threshold: fitted.threshold,
      anomalous: scores[i] >= fitted.threshold,
      ...(heatmap ? heatmap[i] : {}),
    }));
  } finally {
    disposeParams(model.net.params);
  }
}
