/**
 * The localisation results file `eval --localization` writes for each category
 * (`<model dir>/model-<category>.localization.json`): the map size, the number of test images, how the masks
 * were resized to the maps (`mask_resize`: nearest neighbour), and one entry per map method computed in the
 * run — its options, pooled pixel AUROC, AU-PRO up to an FPR of 0.3, pixel F1-max and the pixel threshold
 * that attains it, the image AUROC of the map maxima and the map time per test image. This module owns its
 * path, its type, its writer and its validating reader.
 *
 * An earlier version wrote one method per file (`{category, method, options, pixel_auroc, …}`); the reader
 * rejects that shape with a message saying to run the evaluation again (it lacks the pixel threshold).
 * @module
 */
import { join } from "node:path";
import { modelName } from "../train/config.ts";
import { writeJsonAtomic } from "./atomic_write.ts";
import {
  arrayField,
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "./json_fields.ts";
import { UserError } from "../util/errors.ts";

/** The map methods `eval --localization` can write results for. */
export const LOCALIZATION_METHODS = ["sspcab", "gradcam", "patch"] as const;

/** A map method of {@link LOCALIZATION_METHODS}. */
export type LocalizationMethod = typeof LOCALIZATION_METHODS[number];

/** How the ground-truth masks are brought to the map size (any non-zero pixel is a defect). */
export const MASK_RESIZE = "nearest";

/** One map method's results over a category's test set (keys as written in the file). */
export interface LocalizationMethodResult {
  /** The map method. */
  method: LocalizationMethod;
  /** The method's options (e.g. `sigma`, `layer`, `patch_size`, `stride`), numbers or strings. */
  options: Record<string, number | string>;
  /** Pooled pixel AUROC (0–1). */
  pixel_auroc: number;
  /** AU-PRO up to FPR {@link LocalizationMethodResult.pro_limit}, normalised by the limit (0–1). */
  au_pro: number;
  /** The FPR limit of {@link LocalizationMethodResult.au_pro} (0.3). */
  pro_limit: number;
  /** Best pooled pixel F1 over all thresholds (0–1). */
  pixel_f1: number;
  /** The map value where {@link LocalizationMethodResult.pixel_f1} is reached (`value ≥ it` = defect). */
  pixel_threshold: number;
  /** Image AUROC of the map maxima (0–1). */
  image_auroc_of_max: number;
  /** Seconds of map computation per test image (for `patch`, not counting the fit of its Gaussian). */
  seconds_per_image: number;
}

/** The localisation results of one category (keys as written in the file). */
export interface LocalizationFile {
  /** Category. */
  category: string;
  /** Side of the maps and of the resized masks in pixels (the model's input size). */
  map_size: number;
  /** Test images the metrics pool. */
  n_images: number;
  /** How the masks were resized to the map size: {@link MASK_RESIZE}. */
  mask_resize: typeof MASK_RESIZE;
  /** One entry per method computed in the run (at least one, each method once). */
  methods: LocalizationMethodResult[];
}

/** Where evaluation writes the localisation results of `category` in `modelDir`. */
export function localizationPath(modelDir: string, category: string): string {
  return join(modelDir, `${modelName(category)}.localization.json`);
}

/** Write a localisation results file atomically. */
export async function writeLocalization(path: string, result: LocalizationFile): Promise<void> {
  await writeJsonAtomic(path, result);
}

function unitField(source: JsonSource, obj: Record<string, unknown>, key: string, where: string): number {
  const v = numberField(source, obj, key, where);
  if (v < 0 || v > 1) throw fieldError(source, where, "a number in [0, 1]", v);
  return v;
}

function methodResult(source: JsonSource, value: unknown, where: string): LocalizationMethodResult {
  const doc = objectField(source, value, where);
  const method = stringField(source, doc, "method", `${where}.method`);
  if (!(LOCALIZATION_METHODS as readonly string[]).includes(method)) {
    throw fieldError(source, `${where}.method`, `one of ${LOCALIZATION_METHODS.join(", ")}`, method);
  }
  const rawOptions = objectField(source, doc.options, `${where}.options`);
  const options: Record<string, number | string> = {};
  for (const [key, v] of Object.entries(rawOptions)) {
    if (typeof v !== "string" && (typeof v !== "number" || !Number.isFinite(v))) {
      throw fieldError(source, `${where}.options.${key}`, "a number or a string", v);
    }
    options[key] = v;
  }
  const seconds = numberField(source, doc, "seconds_per_image", `${where}.seconds_per_image`);
  if (seconds < 0) throw fieldError(source, `${where}.seconds_per_image`, "a number ≥ 0", seconds);
  const limit = numberField(source, doc, "pro_limit", `${where}.pro_limit`);
  if (!(limit > 0 && limit <= 1)) throw fieldError(source, `${where}.pro_limit`, "a number in (0, 1]", limit);
  return {
    method: method as LocalizationMethod,
    options,
    pixel_auroc: unitField(source, doc, "pixel_auroc", `${where}.pixel_auroc`),
    au_pro: unitField(source, doc, "au_pro", `${where}.au_pro`),
    pro_limit: limit,
    pixel_f1: unitField(source, doc, "pixel_f1", `${where}.pixel_f1`),
    pixel_threshold: numberField(source, doc, "pixel_threshold", `${where}.pixel_threshold`),
    image_auroc_of_max: unitField(source, doc, "image_auroc_of_max", `${where}.image_auroc_of_max`),
    seconds_per_image: seconds,
  };
}

/**
 * Read and validate a localisation results file; a missing or mistyped field (or a metric outside [0, 1],
 * a method listed twice, no method at all, a file of the earlier one-method format) is a `UserError` naming
 * the file and the field.
 */
export async function readLocalization(path: string): Promise<LocalizationFile> {
  const fix = "run `deno task eval --localization METHOD` for this category again to rewrite it";
  const source: JsonSource = { path, fix };
  const doc = objectField(
    source,
    await readJsonFile(source, "run `deno task eval --localization all` for this category first"),
    "",
  );
  if (doc.methods === undefined && typeof doc.method === "string") {
    throw new UserError(
      `${path} is in the earlier one-method format (field "method", no "methods" list, no pixel threshold)`,
      fix,
    );
  }
  const positiveInt = (key: string) => {
    const v = numberField(source, doc, key);
    if (!Number.isInteger(v) || v < 1) throw fieldError(source, key, "a positive integer", v);
    return v;
  };
  const resize = stringField(source, doc, "mask_resize");
  if (resize !== MASK_RESIZE) throw fieldError(source, "mask_resize", `"${MASK_RESIZE}"`, resize);
  const list = arrayField(source, doc, "methods");
  if (list.length === 0) throw fieldError(source, "methods", "a non-empty list", list);
  const methods = list.map((m, i) => methodResult(source, m, `methods[${i}]`));
  methods.forEach((m, i) => {
    if (methods.findIndex((o) => o.method === m.method) !== i) {
      throw fieldError(source, `methods[${i}].method`, "a method not listed before", m.method);
    }
  });
  return {
    category: stringField(source, doc, "category"),
    map_size: positiveInt("map_size"),
    n_images: positiveInt("n_images"),
    mask_resize: MASK_RESIZE,
    methods,
  };
}
