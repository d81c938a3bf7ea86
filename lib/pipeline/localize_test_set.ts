/**
 * Anomaly maps of a category's whole test set, for the localisation notebook: load the trained model and the
 * density evaluation fitted on it, decide which map methods apply to that model (SSPCAB reconstruction error
 * when it has the block, GradCAM of the Mahalanobis score when the density is a Gaussian, the patch-level map
 * only for a model trained on patches), compute every applicable method's map of every test image at the
 * model's input size with a progress bar per method, and keep the images, the ground-truth masks resized to
 * that size (or `null` when the data has none), and each image's anomaly score under the density.
 *
 * Nothing is written: the metrics and pictures are the notebook view's business
 * (`lib/notebook/localization_view.ts`).
 * @module
 */
import { type ImageRecord, listCategory } from "../data/mvtec.ts";
import { loadMany } from "../data/images.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import type { Density } from "../eval/density.ts";
import { scoreRows } from "../eval/density.ts";
import { embedImages } from "../eval/embed.ts";
import { LOCALIZATION_METHODS, type LocalizationMethod } from "../io/localization_file.ts";
import { disposeParams } from "../model/params.ts";
import type { TrainedModel } from "../train/model_file.ts";
import { createProgress, type ProgressOptions, textSink } from "../util/progress.ts";
import { UserError } from "../util/errors.ts";
import { loadEvaluatedModel } from "./evaluated_model.ts";
import { computeMethodMaps, methodOptions, planLocalization, testMasks } from "./localize_eval.ts";

/** Whether a map method can be computed for a model, and why not when it cannot. */
export interface MethodAvailability {
  /** The method. */
  method: LocalizationMethod;
  /** True when the model (and its density) can make this map. */
  available: boolean;
  /** Why it is not available and what to do (only when `available` is false). */
  reason?: string;
}

/** The training setup of the model the maps come from, as its file records it. */
export interface ModelSummary {
  /** The model file. */
  path: string;
  /** The step the saved model was taken at (0 when the file does not record it). */
  step: number;
  /** Training steps the run was configured for. */
  steps: number;
  /** Batch size of the run. */
  batchSize: number;
  /** Input side in pixels (the maps' size). */
  size: number;
  /** The ImageNet weights file the trunk started from, or `null` (from scratch). */
  pretrained: string | null;
  /** Whether the model has the SSPCAB block. */
  sspcab: boolean;
  /** Patch side for a patch-trained model, else `null`. */
  patchSize: number | null;
}

/** One method's maps of the test set. */
export interface MethodMaps {
  /** The method. */
  method: LocalizationMethod;
  /** The options the maps were computed with (as `eval --localize` records them). */
  options: Record<string, number | string>;
  /** One `size × size` map per test image, in test order. */
  maps: Float32Array[];
  /** Wall seconds for all maps (for `patch` including the patch density fit on the training images). */
  seconds: number;
}

/** Everything {@link testSetMaps} computed. */
export interface TestSetMaps {
  /** Category. */
  category: string;
  /** The model the maps come from. */
  model: ModelSummary;
  /** Side of the images, maps and masks. */
  size: number;
  /** The test records, in test order. */
  records: ImageRecord[];
  /** The test images at `size`. */
  images: RgbImage[];
  /** The masks at `size` (0/1; all-zero for good images), or `null` when no defective test image has one. */
  masks: Uint8Array[] | null;
  /** One line per defective test image whose mask is empty, naming the mask file. */
  maskWarnings: string[];
  /** Each test image's anomaly score under the fitted density (the image-level score). */
  imageScores: Float64Array;
  /** The image threshold evaluation chose (score ≥ threshold ⇒ anomalous). */
  threshold: number;
  /** Which methods apply to this model. */
  availability: MethodAvailability[];
  /** The maps of every method computed, in {@link LOCALIZATION_METHODS}. */
  methods: MethodMaps[];
}

/** Options of {@link testSetMaps}. */
export interface TestSetMapsOptions {
  /** Category. */
  category: string;
  /** MVTec-layout data folder. */
  dataDir: string;
  /** Folder with the trained model and the density evaluation fitted on it. */
  modelDir: string;
  /** Methods to compute (default: every applicable one); a requested method that does not apply is an error. */
  methods?: readonly LocalizationMethod[];
  /** Images per forward pass (default 8). */
  batchSize?: number;
  /** Patch grid stride in pixels for `patch` (default `size / 64`: 4 px at 256², as the paper). */
  patchStride?: number;
  /** Decompression-bomb limit for images and masks. */
  maxPixels?: number;
  /** No progress bars (default false: one bar per step, shown live in a notebook by `withLiveProgress`). */
  quiet?: boolean;
}

/**
 * Which map methods apply to `model` with `density`: `sspcab` needs the SSPCAB block, `gradcam` a Gaussian
 * density (its gradient is that of the Mahalanobis distance), `patch` a model trained on patches.
 */
export function mapMethodsFor(model: TrainedModel, density: Density): MethodAvailability[] {
  const { leftOut } = planLocalization("all", model, density.kind);
  return LOCALIZATION_METHODS.map((method): MethodAvailability => {
    const reason = leftOut.find((l) => l.method === method)?.reason;
    return reason ? { method, available: false, reason } : { method, available: true };
  });
}

/** The training setup of a loaded model (see {@link ModelSummary}). */
export function summarizeModel(model: TrainedModel): ModelSummary {
  return {
    path: model.path,
    step: model.step,
    steps: model.config.epochs,
    batchSize: model.config.batchSize,
    size: model.config.size,
    pretrained: model.config.pretrained ?? null,
    sspcab: Boolean(model.config.sspcab),
    patchSize: model.config.patchSize ?? null,
  };
}

function progressBar(options: TestSetMapsOptions, bar: ProgressOptions) {
  return createProgress(options.quiet ? { ...bar, sink: textSink(() => {}) } : bar);
}

async function computeMaps(
  method: LocalizationMethod,
  model: TrainedModel,
  density: Density,
  images: readonly RgbImage[],
  train: () => Promise<RgbImage[]>,
  options: TestSetMapsOptions,
): Promise<MethodMaps> {
  const t0 = performance.now();
  const { maps } = await computeMethodMaps(method, model, density, train, images, options);
  const mapOptions = methodOptions(method, model, options);
  return { method, options: mapOptions, maps, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Every applicable (or every requested) method's map of every test image of `category`, with the images,
 * masks and image scores (see the module doc). Needs the best model of `modelDir` and the density `eval`
 * fitted on it; a density fitted on another version of the model is a {@link UserError}.
 */
export async function testSetMaps(options: TestSetMapsOptions): Promise<TestSetMaps> {
  const { category, dataDir, modelDir } = options;
  const { model, fitted } = await loadEvaluatedModel(modelDir, category);
  try {
    const size = model.config.size;
    const availability = mapMethodsFor(model, fitted.density);
    let methods: LocalizationMethod[];
    if (options.methods) {
      for (const m of options.methods) {
        const a = availability.find((x) => x.method === m);
        if (!a?.available) {
          throw new UserError(
            `the ${m} map does not apply to ${model.path}: ${a?.reason ?? "unknown method"}`,
            `choose among: ${availability.filter((x) => x.available).map((x) => x.method).join(", ")}`,
          );
        }
      }
      methods = LOCALIZATION_METHODS.filter((m) => options.methods!.includes(m));
    } else {
      methods = availability.filter((a) => a.available).map((a) => a.method);
    }
    const all = await listCategory(dataDir, category);
    const records = all.filter((r) => r.split === "test");
    if (records.length === 0) {
      throw new UserError(
        `no test images in ${dataDir}/${category}/test`,
        "add test/good and test/<defect> images in the MVTec layout",
      );
    }
    const loadedMasks = await testMasks(records, size, options.maxPixels);
    const masks = loadedMasks?.masks ?? null;
    const load = progressBar(options, { label: `load ${category} test`, total: records.length, unit: "img" });
    const images = await loadMany(records.map((r) => r.path), size, {
      maxPixels: options.maxPixels,
      onProgress: (done) => load.update(done),
    });
    load.done();
    const embeddings = await embedImages(model.net, images, { batchSize: options.batchSize ?? 8 });
    const imageScores = scoreRows(fitted.density, embeddings);
    let trainImages: RgbImage[] | undefined;
    const train = async () => {
      trainImages ??= await loadMany(
        all.filter((r) => r.split === "train").map((r) => r.path),
        size,
        { maxPixels: options.maxPixels },
      );
      return trainImages;
    };
    const computed: MethodMaps[] = [];
    for (const method of methods) {
      computed.push(await computeMaps(method, model, fitted.density, images, train, options));
    }
    return {
      category,
      model: summarizeModel(model),
      size,
      records,
      images,
      masks,
      maskWarnings: loadedMasks?.warnings ?? [],
      imageScores,
      threshold: fitted.threshold,
      availability,
      methods: computed,
    };
  } finally {
    disposeParams(model.net.params);
  }
}
