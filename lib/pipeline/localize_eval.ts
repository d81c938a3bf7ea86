/**
 * `eval --localization`: for a category whose test set has ground-truth masks, compute an anomaly map for
 * every test image at the model's input size with each requested method (SSPCAB reconstruction error,
 * GradCAM of the Mahalanobis score, or the patch-level model's dense scores), resize the masks to that size
 * with nearest neighbour (a good image has none: all-zero), and compute per method pooled pixel AUROC,
 * AU-PRO@0.3, pixel F1-max and its threshold (the pixel threshold, chosen on the test set as the image
 * threshold is) and the image AUROC of the map maxima; write them all to one
 * `model-<category>.localization.json` and, with plots, per method a grid of a few defective images
 * (image | ground truth | heatmap overlay), a panel per test image (image · ground-truth outline · heatmap ·
 * predicted mask at the pixel threshold) and one PRO-curve plot. A category without masks is skipped, not an
 * error.
 * @module
 */
import { join, parse } from "node:path";
import sharp from "sharp";
import { type CategoryImages, loadCategoryImages } from "../data/category_images.ts";
import { type ImageRecord, listCategory } from "../data/mvtec.ts";
import { loadMask, loadRgb } from "../data/images.ts";
import type { FittedMap } from "../eval/fitted_model.ts";
import { disposeParams } from "../model/params.ts";
import type { Density } from "../eval/density.ts";
import type { DensityKind } from "../eval/evaluate.ts";
import { DEFAULT_PRO_LIMIT, localizationMetrics } from "../eval/localization_metrics.ts";
import { rocAuc } from "../eval/roc.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import {
  LOCALIZATION_METHODS,
  type LocalizationFile,
  type LocalizationMethod,
  type LocalizationMethodResult,
  localizationPath,
  MASK_RESIZE,
  writeLocalization,
} from "../io/localization_file.ts";
import { defaultPatchGeometry, fitPatchDensity, minPatchSize } from "../localize/patch.ts";
import { modelConfigFor, type TrainConfig } from "../train/config.ts";
import { GRADCAM_SIGMA } from "../localize/gradcam.ts";
import { resizeMaskNearest } from "../localize/resample.ts";
import { composeGrid, heatmapOverlay, localizationPanel, overlayMask } from "../plot/images.ts";
import { proCurveFigure, thinCurve } from "../plot/figure.ts";
import { savePng } from "../plot/png.ts";
import type { TrainedModel } from "../train/model_file.ts";
import { UserError } from "../util/errors.ts";
import { loadEvaluatedModel } from "./evaluated_model.ts";
import { imageProgress, methodMaps } from "./method_maps.ts";

/** `--localization` values: a map method, `all` (every method the model supports) or `none`. */
export const LOCALIZE_CHOICES = ["none", "sspcab", "gradcam", "patch", "all"] as const;

/** A value of {@link LOCALIZE_CHOICES}. */
export type LocalizeChoice = typeof LOCALIZE_CHOICES[number];

/**
 * Computes the anomaly maps of the test images (one `height × width` map per image, in order) for `method`.
 * Replaces the methods' own maps when given to {@link localizeCategory} — for tests and for maps computed
 * elsewhere.
 */
export type MapFunction = (
  images: readonly RgbImage[],
  records: readonly ImageRecord[],
  method: LocalizationMethod,
) => Promise<Float32Array[]>;

/** Input of {@link localizeCategory}. */
export interface LocalizeCategoryInput {
  /** The map methods, each computed once (see {@link planLocalization}). */
  methods: readonly LocalizationMethod[];
  /** The trained model (its `config.size` is the map size; `config.patchSize` for `patch`). */
  model: TrainedModel;
  /** The category's images at the model's size, with records (masks are read from `maskPath`). */
  data: CategoryImages;
  /** The image-level density evaluation fitted (GradCAM needs a Gaussian). */
  density: Density;
  /** Folder with the model; the results file is written here. */
  modelDir: string;
  /** Folder for the plots (grids, panels, PRO curve); none are written when absent. */
  plotDir?: string;
  /** Decompression-bomb limit when loading masks. */
  maxPixels?: number;
  /** Use these maps instead of the methods' (see {@link MapFunction}). */
  mapFunction?: MapFunction;
  /** Defective images in the overview grid (default 4). */
  plotImages?: number;
  /** Grid step of the patch map in pixels (default: 4 px at 256², scaled with the size). */
  patchStride?: number;
  /** No progress bars. */
  quiet?: boolean;
}

/** What {@link localizeCategory} did for one category. */
export type CategoryLocalization =
  | {
    /** Metrics computed and written. */
    status: "done";
    /** The results as written (methods in the order asked). */
    result: LocalizationFile;
    /** What the density file keeps of each method, best AU-PRO first (`patch` with its patch density). */
    fittedMaps: FittedMap[];
    /** Files written: the results file, then the plots when they were asked for. */
    files: string[];
    /** Warnings about the data (e.g. an empty mask of a defective image), one line each. */
    warnings: string[];
  }
  | {
    /** The category was skipped. */
    status: "skipped";
    /** Why (e.g. no ground-truth masks). */
    reason: string;
  };

/** A method `--localization all` leaves out for a model, and why. */
export interface LeftOutMethod {
  /** The method. */
  method: LocalizationMethod;
  /** Why this model cannot make its maps. */
  reason: string;
}

/** The methods to compute for one model, and those `all` left out. */
export interface LocalizationPlan {
  /** Methods to compute, in {@link LOCALIZATION_METHODS} order. */
  methods: LocalizationMethod[];
  /** Methods `all` left out, with the reason (empty for an explicit method). */
  leftOut: LeftOutMethod[];
}

/** What {@link planLocalization} and {@link checkLocalizeModel} look at in a trained model. */
export interface LocalizableModel {
  /** The model file (named in messages). */
  path: string;
  /**
   * Its training settings: the patch size of a patch-level model, whether it has the SSPCAB block, and what
   * the smallest usable patch depends on (the size and the block's settings).
   */
  config: Pick<TrainConfig, "patchSize" | "sspcab" | "size" | "headLayer" | "variant" | "sspcabLambda">;
}

// Why `model` (evaluated with `density`) cannot make maps of `method`, or null when it can.
function unsupportedReason(
  method: LocalizationMethod,
  model: LocalizableModel,
  density: DensityKind,
): string | null {
  if (method === "patch" && !model.config.patchSize) {
    const quarter = defaultPatchGeometry(model.config.size).patchSize;
    const patch = Math.max(quarter, minPatchSize(modelConfigFor(model.config)));
    const why = patch > quarter ? `; ${patch} px is the smallest patch a model with SSPCAB can use` : "";
    return `${model.path} was trained on whole images; train a patch model with ` +
      `\`deno task train --patch_size ${patch}\` (the paper: 64 at 256², a quarter of the side${why})`;
  }
  if (method === "sspcab" && !model.config.sspcab) {
    return `${model.path} has no SSPCAB block (trained with --no_sspcab)`;
  }
  if (method === "gradcam" && density !== "gaussian") {
    return `the density is "${density}"; GradCAM needs the gradient of the Gaussian's Mahalanobis score ` +
      "(evaluate with --density gaussian)";
  }
  return null;
}

/**
 * The methods `choice` asks of `model` evaluated with `density`: none for `none`; for `all`, every method
 * the model supports (sspcab with the SSPCAB block, gradcam with the Gaussian density, patch when trained
 * with `--patch_size`) and the others as {@link LocalizationPlan.leftOut}; an explicit method the model
 * cannot do is a {@link UserError} (see {@link checkLocalizeModel}).
 */
export function planLocalization(
  choice: LocalizeChoice,
  model: LocalizableModel,
  density: DensityKind,
): LocalizationPlan {
  if (choice === "none") return { methods: [], leftOut: [] };
  if (choice !== "all") {
    checkLocalizeModel(choice, model);
    checkLocalizeDensity(choice, density);
    return { methods: [choice], leftOut: [] };
  }
  const methods: LocalizationMethod[] = [];
  const leftOut: LeftOutMethod[] = [];
  for (const method of LOCALIZATION_METHODS) {
    const reason = unsupportedReason(method, model, density);
    if (reason) leftOut.push({ method, reason });
    else methods.push(method);
  }
  return { methods, leftOut };
}

/**
 * Check that `model` can make maps of `method`: `patch` needs a model trained on patches (its config records
 * `patchSize`), `sspcab` one with the SSPCAB block; otherwise a {@link UserError} says what to train.
 */
export function checkLocalizeModel(method: LocalizationMethod, model: LocalizableModel): void {
  if (method === "patch" && !model.config.patchSize) {
    throw new UserError(
      `--localization patch needs a model trained on patches; ${model.path} was trained on whole images`,
      "train it with `deno task train --patch_size N`, or use --localization sspcab, gradcam or all",
    );
  }
  if (method === "sspcab" && !model.config.sspcab) {
    throw new UserError(
      `--localization sspcab needs a model with the SSPCAB block; ${model.path} was trained with --no_sspcab`,
      "use --localization gradcam (or all) for this model",
    );
  }
}

/** `gradcam` needs the Gaussian density; any other density is a {@link UserError}. */
export function checkLocalizeDensity(method: LocalizationMethod, density: DensityKind): void {
  if (method === "gradcam" && density !== "gaussian") {
    throw new UserError(
      `--localization gradcam needs the Gaussian density (the gradient of the Mahalanobis score), not "${density}"`,
      "evaluate with --density gaussian, or use --localization sspcab (or all)",
    );
  }
}

/** Width × height of an image file from its header (sharp metadata; the pixels are not decoded). */
export async function imageHeaderSize(path: string): Promise<{ width: number; height: number }> {
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new UserError(
      `cannot read the image header of ${path}: ${(err as Error).message}`,
      "the file is missing, corrupt or not a PNG/JPEG; replace it (re-extract the data set)",
    );
  }
  if (!meta.width || !meta.height) {
    throw new UserError(
      `${path} has no image size in its header`,
      "replace the file (re-extract the data set)",
    );
  }
  return { width: meta.width, height: meta.height };
}

/** The test masks at the map size, with warnings about them (see {@link testMasks}). */
export interface TestMasks {
  /** One `size × size` 0/1 mask per test record, in order (all-zero for a good image). */
  masks: Uint8Array[];
  /** One line per defective image whose mask is empty (all zero), naming the mask file. */
  warnings: string[];
}

/**
 * The test masks resized to `size × size` with nearest neighbour (0/1), or `null` when no defective test
 * image has one. {@link UserError}s, each naming the files: a category where only some defective images
 * have masks; a mask whose size differs from its image's original size (read from the image's header).
 * An empty mask of a defective image is a warning: the image still counts in pixel AUROC (as defect-free
 * pixels) and adds no PRO region.
 */
export async function testMasks(
  records: readonly ImageRecord[],
  size: number,
  maxPixels?: number,
): Promise<TestMasks | null> {
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
  const warnings: string[] = [];
  for (const r of records) {
    if (!r.maskPath) {
      masks.push(new Uint8Array(size * size));
      continue;
    }
    const m = await loadMask(r.maskPath, undefined, { maxPixels });
    const image = await imageHeaderSize(r.path);
    if (image.width !== m.width || image.height !== m.height) {
      throw new UserError(
        `the ground-truth mask ${r.maskPath} is ${m.width}×${m.height} but its image ${r.path} is ` +
          `${image.width}×${image.height}`,
        "a mask must have its image's size; replace the mask (or the image) with the matching one",
      );
    }
    const resized = resizeMaskNearest(m.data, m.height, m.width, size, size);
    if (r.label === 1 && !m.data.some((v) => v !== 0)) {
      warnings.push(
        `warning: the ground-truth mask ${r.maskPath} of defective image ${r.path} is empty (all zero); ` +
          "its pixels count as defect-free in pixel AUROC and it adds no PRO region",
      );
    }
    masks.push(resized);
  }
  return { masks, warnings };
}

/** The options a method's maps are computed with, as stored in the results and density files. */
export function methodOptions(
  method: LocalizationMethod,
  model: TrainedModel,
  settings: { patchStride?: number } = {},
): Record<string, number | string> {
  switch (method) {
    case "sspcab":
      return { layer: "layer3", sigma: 0 };
    case "gradcam":
      return { layer: "layer4", sigma: GRADCAM_SIGMA };
    case "patch": {
      checkLocalizeModel("patch", model);
      const patchSize = model.config.patchSize as number;
      return {
        patch_size: patchSize,
        stride: settings.patchStride ?? defaultPatchGeometry(model.config.size).stride,
        sigma: patchSize / 4,
      };
    }
  }
}

/** Settings of {@link computeMethodMaps}. */
export interface MethodMapSettings {
  /** Grid step of the patch map in pixels (default: 4 px at 256², scaled with the size). */
  patchStride?: number;
  /** Images per forward pass (default 8). */
  batchSize?: number;
  /** No progress bars (default false: one bar per method, and one for the patch density's fit). */
  quiet?: boolean;
}

/**
 * The maps of `images` by one method, with the options {@link methodOptions} gives (`patch` fits its Gaussian
 * on the training images `train` first — a function, so they are loaded only for it); a progress bar per
 * step unless `quiet`. `fitSeconds` is the patch density's fit, not counted as map time.
 */
export async function computeMethodMaps(
  method: LocalizationMethod,
  model: TrainedModel,
  density: Density,
  train: () => Promise<readonly RgbImage[]> | readonly RgbImage[],
  images: readonly RgbImage[],
  settings: MethodMapSettings = {},
): Promise<{ maps: Float32Array[]; patchDensity?: Density; fitSeconds?: number }> {
  const net = model.net;
  const options = methodOptions(method, model, settings);
  const run = { batchSize: settings.batchSize, quiet: settings.quiet };
  if (method !== "patch") return { maps: await methodMaps(method, net, density, images, options, run) };
  const trainImages = await train();
  const t0 = performance.now();
  const fit = imageProgress(settings.quiet, "patch density (train)", trainImages.length);
  const patchDensity = await fitPatchDensity(net, trainImages, {
    patchSize: options.patch_size as number,
    onProgress: (done) => fit.update(done),
  });
  fit.done();
  const fitSeconds = (performance.now() - t0) / 1000;
  const maps = await methodMaps(method, net, density, images, options, { ...run, patchDensity });
  return { maps, patchDensity, fitSeconds };
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

/** Where `eval --localization … --save_plots` writes the panel of test image `record` for `method`. */
export function panelPath(plotDir: string, method: LocalizationMethod, record: ImageRecord): string {
  return join(plotDir, "localization", method, `${record.defectType}_${parse(record.path).name}.png`);
}

/** Where the PRO-curve plot (one curve per method) goes in a category's plot folder. */
export function proCurvePath(plotDir: string): string {
  return join(plotDir, "pro_curve.png");
}

interface MethodRun {
  method: LocalizationMethod;
  result: LocalizationMethodResult;
  maps: Float32Array[];
  patchDensity?: Density;
  curve?: { x: number[]; y: number[] };
}

/** Localise one category with every method of `input.methods` (see the module doc). */
export async function localizeCategory(input: LocalizeCategoryInput): Promise<CategoryLocalization> {
  const { data, model } = input;
  const size = model.config.size;
  const category = data.category;
  const methods = [...new Set(input.methods)];
  if (methods.length === 0) throw new RangeError("localizeCategory: no methods");
  for (const method of methods) checkLocalizeModel(method, model);
  const tm = await testMasks(data.testRecords, size, input.maxPixels);
  if (!tm) return { status: "skipped", reason: "its test set has no ground-truth masks" };
  const { masks, warnings } = tm;
  const names = data.testRecords.map((r) => r.path);
  const labels = data.testRecords.map((r) => r.label);
  const plotting = input.plotDir !== undefined;
  const runs: MethodRun[] = [];
  for (const method of methods) {
    const t0 = performance.now();
    const { maps, patchDensity, fitSeconds = 0 } = input.mapFunction
      ? { maps: await input.mapFunction(data.test, data.testRecords, method), patchDensity: undefined }
      : await computeMethodMaps(method, model, input.density, () => data.train, data.test, input);
    // Map time only: fitting the patch Gaussian on the training images is a one-off, not per test image.
    const seconds = (performance.now() - t0) / 1000 - fitSeconds;
    if (maps.length !== data.test.length) {
      throw new RangeError(`${method}: ${maps.length} maps for ${data.test.length} test images`);
    }
    const m = localizationMetrics({ maps, masks, height: size, width: size, names }, { curve: plotting });
    const options = input.mapFunction ? { maps: "custom" } : methodOptions(method, model, input);
    runs.push({
      method,
      result: {
        method,
        options,
        pixel_auroc: m.pixelAuroc,
        au_pro: m.auPro,
        pro_limit: DEFAULT_PRO_LIMIT,
        pixel_f1: m.pixelF1Max,
        pixel_threshold: m.pixelF1Threshold,
        image_auroc_of_max: rocAuc(labels, m.imageScores),
        seconds_per_image: seconds / maps.length,
      },
      maps: plotting ? maps : [],
      ...(patchDensity ? { patchDensity } : {}),
      ...(m.proCurve ? { curve: thinCurve(m.proCurve.fpr, m.proCurve.pro, DEFAULT_PRO_LIMIT) } : {}),
    });
  }
  const result: LocalizationFile = {
    category,
    map_size: size,
    n_images: data.test.length,
    mask_resize: MASK_RESIZE,
    methods: runs.map((r) => r.result),
  };
  const path = localizationPath(input.modelDir, category);
  await writeLocalization(path, result);
  const files = [path];
  if (input.plotDir) files.push(...await localizationPlots(input, input.plotDir, runs, masks));
  const fittedMaps: FittedMap[] = runs
    .map((r) => ({
      method: r.method,
      options: r.result.options,
      pixelThreshold: r.result.pixel_threshold,
      pixelAuroc: r.result.pixel_auroc,
      auPro: r.result.au_pro,
      ...(r.patchDensity ? { patchDensity: r.patchDensity } : {}),
    }))
    .sort((a, b) => b.auPro - a.auPro);
  return { status: "done", result, fittedMaps, files, warnings };
}

// Per method the overview grid, a panel per test image and, for all methods, the PRO curve.
async function localizationPlots(
  input: LocalizeCategoryInput,
  plotDir: string,
  runs: readonly MethodRun[],
  masks: readonly Uint8Array[],
): Promise<string[]> {
  const { data } = input;
  const size = input.model.config.size;
  const category = data.category;
  const files: string[] = [];
  for (const run of runs) {
    const range = mapsRange(run.maps);
    const rows = pickDefective(data.testRecords, input.plotImages ?? 4).map((i) => {
      const image = data.test[i];
      const mask = { width: size, height: size, data: masks[i].map((v) => (v ? 255 : 0)) };
      const name = parse(data.testRecords[i].path).base;
      return [
        { image, caption: `${data.testRecords[i].defectType} ${name}` },
        { image: overlayMask(image, mask), caption: "ground truth" },
        { image: heatmapOverlay(image, run.maps[i], range), caption: `${run.method} map` },
      ];
    });
    const png = await composeGrid(rows, { title: `Where is the defect? ${category} (${run.method})` });
    const grid = join(plotDir, `localization_${run.method}.png`);
    await writeFileAtomic(grid, png);
    files.push(grid);
    for (let i = 0; i < data.test.length; i++) {
      const record = data.testRecords[i];
      const name = parse(record.path).base;
      const panel = await localizationPanel({
        image: data.test[i],
        mask: masks[i],
        map: run.maps[i],
        range,
        threshold: run.result.pixel_threshold,
        caption: `${record.defectType} ${name}`,
      }, { title: `${category} · ${run.method} · ${record.defectType}/${name}` });
      const out = panelPath(plotDir, run.method, record);
      await writeFileAtomic(out, panel);
      files.push(out);
    }
  }
  const curves = runs.filter((r) => r.curve).map((r) => ({
    name: r.method,
    fpr: r.curve!.x,
    pro: r.curve!.y,
    auPro: r.result.au_pro,
  }));
  if (curves.length) {
    files.push(await savePng(proCurveFigure(curves, `PRO curve — ${category}`), proCurvePath(plotDir)));
  }
  return files;
}

/** The lines `eval` prints for a category's localisation: one per method, then masks and warnings. */
export function formatLocalization(category: string, loc: CategoryLocalization): string {
  if (loc.status === "skipped") return `${category}: localisation skipped (${loc.reason})`;
  const r = loc.result;
  const lines = r.methods.map((m) =>
    `${category} ${m.method} localisation: pixel AUROC ${m.pixel_auroc.toFixed(4)}, AU-PRO@${m.pro_limit} ${
      m.au_pro.toFixed(4)
    }, F1 ${m.pixel_f1.toFixed(4)} at pixel threshold ${m.pixel_threshold.toPrecision(4)} (${
      m.seconds_per_image.toFixed(3)
    } s/image)`
  );
  lines.push(
    `  ${r.n_images} test images; masks resized to ${r.map_size}×${r.map_size} with nearest neighbour`,
    ...loc.warnings.map((w) => `  ${w}`),
  );
  return lines.join("\n");
}

/** The line `eval --localization all` prints for a method it left out. */
export function formatLeftOut(category: string, left: LeftOutMethod): string {
  return `${category}: --localization all leaves out ${left.method}: ${left.reason}`;
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
  /**
   * Every method's metrics over the whole test set, as written to the category's results file (as by
   * `eval --localization`); `null` without masks.
   */
  metrics: LocalizationFile | null;
}

/**
 * Maps of a few defective test images by each method, for a notebook view; when the category has masks,
 * also each method's metrics over the whole test set (via {@link localizeCategory}, which writes one results
 * file with all the methods as `eval --localization` does). Needs the model and the Gaussian density `eval`
 * fitted on it.
 */
export async function localizationExamples(
  options: LocalizationExamplesOptions,
): Promise<LocalizationExamples> {
  const { category, modelDir, dataDir } = options;
  const { model, fitted } = await loadEvaluatedModel(modelDir, category);
  try {
    const size = model.config.size;
    const methods = (options.methods ?? ["sspcab", "gradcam"]).filter((m) =>
      m !== "sspcab" || model.config.sspcab
    );
    for (const m of methods) checkLocalizeDensity(m, fitted.density.kind);
    const testRecords = (await listCategory(dataDir, category)).filter((r) => r.split === "test");
    const picked = pickDefective(testRecords, options.n ?? 4);
    const records = picked.map((i) => testRecords[i]);
    const allMasks = (await testMasks(testRecords, size, options.maxPixels))?.masks ?? null;
    const images = await Promise.all(
      records.map((r) => loadRgb(r.path, size, { maxPixels: options.maxPixels })),
    );
    const maps = [];
    for (const method of methods) {
      maps.push({
        method,
        maps: images.length
          ? (await computeMethodMaps(method, model, fitted.density, () => [], images, { quiet: true })).maps
          : [],
      });
    }
    let metrics: LocalizationFile | null = null;
    if (allMasks && methods.length) {
      const data = await loadCategoryImages(dataDir, category, size, {
        quiet: true,
        maxPixels: options.maxPixels,
      });
      const loc = await localizeCategory({
        methods,
        model,
        data,
        density: fitted.density,
        modelDir,
        maxPixels: options.maxPixels,
      });
      if (loc.status === "done") metrics = loc.result;
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
