/**
 * `eval --localize`: for a category whose test set has ground-truth masks, compute an anomaly map for every
 * test image at the model's input size (SSPCAB reconstruction error, GradCAM of the Mahalanobis score, or
 * the patch-level model's dense scores), resize the masks to that size with nearest neighbour (a good image
 * has none: all-zero), and compute pooled pixel AUROC, AU-PRO@0.3, pixel F1-max and the image AUROC of the
 * map maxima; write them to `model-<category>.localization.json` and, with plots, a grid of a few defective
 * images (image | ground truth | heatmap overlay). A category without masks is skipped, not an error.
 * @module
 */
import { join } from "node:path";
import { type CategoryImages, loadCategoryImages } from "../data/category_images.ts";
import { type ImageRecord, listCategory } from "../data/mvtec.ts";
import { loadMask, loadRgb } from "../data/images.ts";
import { fittedModelPath, loadFittedModel } from "../eval/fitted_model.ts";
import { runPaths } from "../train/config.ts";
import { disposeParams } from "../model/params.ts";
import type { Density } from "../eval/density.ts";
import { DEFAULT_PRO_LIMIT, localizationMetrics } from "../eval/localization_metrics.ts";
import { rocAuc } from "../eval/roc.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import {
  type LocalizationFile,
  type LocalizationMethod,
  localizationPath,
  writeLocalization,
} from "../io/localization_file.ts";
import { defaultPatchGeometry, fitPatchDensity, patchMaps } from "../localize/patch.ts";
import { GRADCAM_SIGMA, gradcamMaps } from "../localize/gradcam.ts";
import { resizeMaskNearest } from "../localize/resample.ts";
import { sspcabMaps } from "../localize/sspcab_map.ts";
import { composeGrid, heatmapOverlay, overlayMask } from "../plot/images.ts";
import { checkDensityMatchesModel, loadTrainedModel, type TrainedModel } from "../train/model_file.ts";
import { UserError } from "../util/errors.ts";

/** `--localize` values: a map method or `none`. */
export const LOCALIZE_CHOICES = ["none", "sspcab", "gradcam", "patch"] as const;

/** A value of {@link LOCALIZE_CHOICES}. */
export type LocalizeChoice = typeof LOCALIZE_CHOICES[number];

/**
 * Computes the anomaly maps of the test images (one `height × width` map per image, in order). Replaces the
 * method's own maps when given to {@link localizeCategory} — for tests and for maps computed elsewhere.
 */
export type MapFunction = (
  images: readonly RgbImage[],
  records: readonly ImageRecord[],
) => Promise<Float32Array[]>;

/** Input of {@link localizeCategory}. */
export interface LocalizeCategoryInput {
  /** The map method. */
  method: LocalizationMethod;
  /** The trained model (its `config.size` is the map size; `config.patchSize` for `patch`). */
  model: TrainedModel;
  /** The category's images at the model's size, with records (masks are read from `maskPath`). */
  data: CategoryImages;
  /** The image-level density evaluation fitted (GradCAM needs a Gaussian). */
  density: Density;
  /** Folder with the model; the results file is written here. */
  modelDir: string;
  /** Folder for the overlay grid; none is written when absent. */
  plotDir?: string;
  /** Decompression-bomb limit when loading masks. */
  maxPixels?: number;
  /** Use these maps instead of the method's (see {@link MapFunction}). */
  mapFunction?: MapFunction;
  /** Defective images in the overlay grid (default 4). */
  plotImages?: number;
}

/** What {@link localizeCategory} did for one category. */
export type CategoryLocalization =
  | {
    /** Metrics computed and written. */
    status: "done";
    /** The results as written. */
    result: LocalizationFile;
    /** Files written: the results file, then the overlay grid when plots were asked for. */
    files: string[];
  }
  | {
    /** The category was skipped. */
    status: "skipped";
    /** Why (e.g. no ground-truth masks). */
    reason: string;
  };

/** The `--localize` choice as a method, or `null` for `none`. */
export function localizeMethod(choice: LocalizeChoice): LocalizationMethod | null {
  return choice === "none" ? null : choice;
}

/**
 * Check that `model` can make maps of `method`: `patch` needs a model trained on patches (its config records
 * `patchSize`), `sspcab` one with the SSPCAB block; otherwise a {@link UserError} says what to train.
 */
export function checkLocalizeModel(method: LocalizationMethod, model: TrainedModel): void {
  if (method === "patch" && !model.config.patchSize) {
    throw new UserError(
      `--localize patch needs a model trained on patches; ${model.path} was trained on whole images`,
      "train it with `deno task train --patch_size N`, or use --localize sspcab or gradcam",
    );
  }
  if (method === "sspcab" && !model.config.sspcab) {
    throw new UserError(
      `--localize sspcab needs a model with the SSPCAB block; ${model.path} was trained with --no_sspcab`,
      "use --localize gradcam for this model",
    );
  }
}

/**
 * The test masks at `size × size` (0/1), or `null` when no defective test image has one. A category where
 * only some defective images have masks is a {@link UserError} naming the first image without one.
 */
export async function testMasks(
  records: readonly ImageRecord[],
  size: number,
  maxPixels?: number,
): Promise<Uint8Array[] | null> {
  const defective = records.filter((r) => r.label === 1);
  const withMask = defective.filter((r) => r.maskPath);
  if (withMask.length === 0) return null;
  const missing = defective.find((r) => !r.maskPath);
  if (missing) {
    throw new UserError(
      `${missing.path} has no ground-truth mask, but ${withMask.length} other defective test images have one`,
      "add its mask (ground_truth/<defect>/<name>_mask.png) or remove the image",
    );
  }
  const masks: Uint8Array[] = [];
  for (const r of records) {
    if (!r.maskPath) {
      masks.push(new Uint8Array(size * size));
      continue;
    }
    const m = await loadMask(r.maskPath, undefined, { maxPixels });
    masks.push(resizeMaskNearest(m.data, m.height, m.width, size, size));
  }
  return masks;
}

async function methodMaps(
  input: LocalizeCategoryInput,
  images: readonly RgbImage[],
): Promise<{ maps: Float32Array[]; options: Record<string, number | string> }> {
  const net = input.model.net;
  switch (input.method) {
    case "sspcab":
      return { maps: await sspcabMaps(net, images, { sigma: 0 }), options: { sigma: 0, layer: "layer3" } };
    case "gradcam":
      return {
        maps: await gradcamMaps(net, input.density, images, { layer: "layer4", sigma: GRADCAM_SIGMA }),
        options: { layer: "layer4", sigma: GRADCAM_SIGMA },
      };
    case "patch": {
      checkLocalizeModel("patch", input.model);
      const patchSize = input.model.config.patchSize as number;
      const stride = defaultPatchGeometry(input.model.config.size).stride;
      const density = await fitPatchDensity(net, input.data.train, { patchSize });
      return {
        maps: await patchMaps(net, density, images, { patchSize, stride }),
        options: { patch_size: patchSize, stride },
      };
    }
  }
}

/** Up to `n` defective test images, one per defect type first, then the rest in order. */
export function pickDefective(records: readonly ImageRecord[], n: number): number[] {
  const picked: number[] = [];
  const seen = new Set<string>();
  records.forEach((r, i) => {
    if (r.label === 1 && !seen.has(r.defectType) && picked.length < n) {
      seen.add(r.defectType);
      picked.push(i);
    }
  });
  records.forEach((r, i) => {
    if (r.label === 1 && !picked.includes(i) && picked.length < n) picked.push(i);
  });
  return picked.sort((a, b) => a - b);
}

/** The range of all values of `maps` (for one colour scale over a test set). */
export function mapsRange(maps: readonly ArrayLike<number>[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const m of maps) {
    for (let i = 0; i < m.length; i++) {
      if (m[i] < min) min = m[i];
      if (m[i] > max) max = m[i];
    }
  }
  return { min, max };
}

/** Localise one category (see the module doc). */
export async function localizeCategory(input: LocalizeCategoryInput): Promise<CategoryLocalization> {
  const { data, model, method } = input;
  const size = model.config.size;
  const category = data.category;
  checkLocalizeModel(method, model);
  const masks = await testMasks(data.testRecords, size, input.maxPixels);
  if (!masks) {
    return { status: "skipped", reason: "its test set has no ground-truth masks" };
  }
  const t0 = performance.now();
  let maps: Float32Array[];
  let options: Record<string, number | string>;
  if (input.mapFunction) {
    maps = await input.mapFunction(data.test, data.testRecords);
    options = { maps: "custom" };
  } else {
    ({ maps, options } = await methodMaps(input, data.test));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (maps.length !== data.test.length) {
    throw new RangeError(`${maps.length} maps for ${data.test.length} test images`);
  }
  const names = data.testRecords.map((r) => r.path);
  const m = localizationMetrics({ maps, masks, height: size, width: size, names });
  const labels = data.testRecords.map((r) => r.label);
  const result: LocalizationFile = {
    category,
    method,
    options,
    map_size: size,
    pixel_auroc: m.pixelAuroc,
    au_pro: m.auPro,
    pro_limit: DEFAULT_PRO_LIMIT,
    pixel_f1: m.pixelF1Max,
    image_auroc_of_max: rocAuc(labels, m.imageScores),
    seconds_per_image: seconds / maps.length,
    n_images: maps.length,
  };
  const path = localizationPath(input.modelDir, category);
  await writeLocalization(path, result);
  const files = [path];
  if (input.plotDir) {
    const range = mapsRange(maps);
    const rows = pickDefective(data.testRecords, input.plotImages ?? 4).map((i) => {
      const image = data.test[i];
      const mask = { width: size, height: size, data: masks[i].map((v) => (v ? 255 : 0)) };
      const name = data.testRecords[i].path.split(/[\\/]/).at(-1) ?? "";
      return [
        { image, caption: `${data.testRecords[i].defectType} ${name}` },
        { image: overlayMask(image, mask), caption: "ground truth" },
        { image: heatmapOverlay(image, maps[i], range), caption: `${method} map` },
      ];
    });
    const png = await composeGrid(rows, { title: `Where is the defect? ${category} (${method})` });
    const plot = join(input.plotDir, `localization_${method}.png`);
    await writeFileAtomic(plot, png);
    files.push(plot);
  }
  return { status: "done", result, files };
}

/** The line `eval` prints for a category's localisation. */
export function formatLocalization(category: string, loc: CategoryLocalization): string {
  if (loc.status === "skipped") return `${category}: localisation skipped (${loc.reason})`;
  const r = loc.result;
  return `${category} ${r.method} localisation: pixel AUROC ${
    r.pixel_auroc.toFixed(4)
  }, AU-PRO@${r.pro_limit} ${r.au_pro.toFixed(4)}, F1 ${r.pixel_f1.toFixed(4)} (${
    r.seconds_per_image.toFixed(3)
  } s/image)`;
}

/** Options of {@link localizationExamples}. */
export interface LocalizationExamplesOptions {
  /** Category. */
  category: string;
  /** MVTec-layout data folder. */
  dataDir: string;
  /** Folder with the trained model and the density `eval` fitted. */
  modelDir: string;
  /** Methods to compare (default sspcab and gradcam; sspcab is left out for a model without the block). */
  methods?: readonly ("sspcab" | "gradcam")[];
  /** Defective test images to show (default 4). */
  n?: number;
  /** Decompression-bomb limit. */
  maxPixels?: number;
}

/** A few defective test images with their maps (and masks), and the metrics when the data has masks. */
export interface LocalizationExamples {
  /** Category. */
  category: string;
  /** The shown test images' records. */
  records: ImageRecord[];
  /** The shown images at the model's size. */
  images: RgbImage[];
  /** Their masks at the model's size (0/1), or `null` when the data has no masks. */
  masks: Uint8Array[] | null;
  /** Per method, the shown images' maps. */
  maps: { method: LocalizationMethod; maps: Float32Array[] }[];
  /** Per method, the whole test set's metrics (written as by `eval --localize`); `null` without masks. */
  metrics: LocalizationFile[] | null;
}

/**
 * Maps of a few defective test images by each method, for a notebook view; when the category has masks,
 * also each method's metrics over the whole test set (via {@link localizeCategory}, which writes the results
 * file as `eval --localize` does). Needs the model and the Gaussian density `eval` fitted on it.
 */
export async function localizationExamples(
  options: LocalizationExamplesOptions,
): Promise<LocalizationExamples> {
  const { category, modelDir, dataDir } = options;
  const densityPath = fittedModelPath(modelDir, category);
  const fitted = await loadFittedModel(densityPath);
  const model = await loadTrainedModel(runPaths({ category, modelDir, logDir: "" }).best, {
    fallback: { category, size: fitted.imageSize },
  });
  try {
    checkDensityMatchesModel(densityPath, fitted.model, model);
    const size = model.config.size;
    const methods = (options.methods ?? ["sspcab", "gradcam"]).filter((m) =>
      m !== "sspcab" || model.config.sspcab
    );
    const testRecords = (await listCategory(dataDir, category)).filter((r) => r.split === "test");
    const picked = pickDefective(testRecords, options.n ?? 4);
    const records = picked.map((i) => testRecords[i]);
    const allMasks = await testMasks(testRecords, size, options.maxPixels);
    const images = await Promise.all(
      records.map((r) => loadRgb(r.path, size, { maxPixels: options.maxPixels })),
    );
    const maps = [];
    for (const method of methods) {
      const none: CategoryImages = { category, trainRecords: [], train: [], testRecords: [], test: [] };
      const input = { method, model, data: none, density: fitted.density, modelDir };
      maps.push({ method, maps: images.length ? (await methodMaps(input, images)).maps : [] });
    }
    let metrics: LocalizationFile[] | null = null;
    if (allMasks) {
      const data = await loadCategoryImages(dataDir, category, size, {
        quiet: true,
        maxPixels: options.maxPixels,
      });
      metrics = [];
      for (const method of methods) {
        const loc = await localizeCategory({
          method,
          model,
          data,
          density: fitted.density,
          modelDir,
          maxPixels: options.maxPixels,
        });
        if (loc.status === "done") metrics.push(loc.result);
      }
    }
    return {
      category,
      records,
      images,
      masks: allMasks ? picked.map((i) => allMasks[i]) : null,
      maps,
      metrics,
    };
  } finally {
    disposeParams(model.net.params);
  }
}
