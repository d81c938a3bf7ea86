/**
 * The localisation results file `eval --localize` writes for each category
 * (`<model dir>/model-<category>.localization.json`): the map method and its options, pooled pixel AUROC,
 * AU-PRO up to an FPR of 0.3, pixel F1-max, the image AUROC of the map maxima, the map time per test image
 * and the number of test images. This module owns its path, its type, its writer and its validating reader.
 * @module
 */
import { join } from "node:path";
import { modelName } from "../train/config.ts";
import { writeJsonAtomic } from "./atomic_write.ts";
import {
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "./json_fields.ts";

/** The map methods `eval --localize` can write results for. */
export const LOCALIZATION_METHODS = ["sspcab", "gradcam", "patch"] as const;

/** A map method of {@link LOCALIZATION_METHODS}. */
export type LocalizationMethod = typeof LOCALIZATION_METHODS[number];

/** The localisation results of one category (keys as written in the file). */
export interface LocalizationFile {
  /** Category. */
  category: string;
  /** The map method. */
  method: LocalizationMethod;
  /** The method's options (e.g. `sigma`, `layer`, `patch_size`, `stride`), numbers or strings. */
  options: Record<string, number | string>;
  /** Side of the maps and of the resized masks in pixels (the model's input size). */
  map_size: number;
  /** Pooled pixel AUROC (0–1). */
  pixel_auroc: number;
  /** AU-PRO up to FPR {@link LocalizationFile.pro_limit}, normalised by the limit (0–1). */
  au_pro: number;
  /** The FPR limit of {@link LocalizationFile.au_pro} (0.3). */
  pro_limit: number;
  /** Best pixel F1 over all thresholds (0–1). */
  pixel_f1: number;
  /** Image AUROC of the map maxima (0–1). */
  image_auroc_of_max: number;
  /** Seconds of map computation per test image. */
  seconds_per_image: number;
  /** Test images the metrics pool. */
  n_images: number;
}

/** Where evaluation writes the localisation results of `category` in `modelDir`. */
export function localizationPath(modelDir: string, category: string): string {
  return join(modelDir, `${modelName(category)}.localization.json`);
}

/** Write a localisation results file atomically. */
export async function writeLocalization(path: string, result: LocalizationFile): Promise<void> {
  await writeJsonAtomic(path, result);
}

function unitField(source: JsonSource, obj: Record<string, unknown>, key: string): number {
  const v = numberField(source, obj, key);
  if (v < 0 || v > 1) throw fieldError(source, key, "a number in [0, 1]", v);
  return v;
}

/**
 * Read and validate a localisation results file; a missing or mistyped field (or a metric outside [0, 1]) is
 * a `UserError` naming the file and the field.
 */
export async function readLocalization(path: string): Promise<LocalizationFile> {
  const source: JsonSource = {
    path,
    fix: "run `deno task eval --localize METHOD` for this category again to rewrite it",
  };
  const doc = objectField(
    source,
    await readJsonFile(source, "run `deno task eval --localize sspcab` for this category first"),
    "",
  );
  const method = stringField(source, doc, "method");
  if (!(LOCALIZATION_METHODS as readonly string[]).includes(method)) {
    throw fieldError(source, "method", `one of ${LOCALIZATION_METHODS.join(", ")}`, method);
  }
  const rawOptions = objectField(source, doc.options, "options");
  const options: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(rawOptions)) {
    if (typeof value !== "string" && (typeof value !== "number" || !Number.isFinite(value))) {
      throw fieldError(source, `options.${key}`, "a number or a string", value);
    }
    options[key] = value;
  }
  const positiveInt = (key: string) => {
    const v = numberField(source, doc, key);
    if (!Number.isInteger(v) || v < 1) throw fieldError(source, key, "a positive integer", v);
    return v;
  };
  const seconds = numberField(source, doc, "seconds_per_image");
  if (seconds < 0) throw fieldError(source, "seconds_per_image", "a number ≥ 0", seconds);
  const limit = numberField(source, doc, "pro_limit");
  if (!(limit > 0 && limit <= 1)) throw fieldError(source, "pro_limit", "a number in (0, 1]", limit);
  return {
    category: stringField(source, doc, "category"),
    method: method as LocalizationMethod,
    options,
    map_size: positiveInt("map_size"),
    pixel_auroc: unitField(source, doc, "pixel_auroc"),
    au_pro: unitField(source, doc, "au_pro"),
    pro_limit: limit,
    pixel_f1: unitField(source, doc, "pixel_f1"),
    image_auroc_of_max: unitField(source, doc, "image_auroc_of_max"),
    seconds_per_image: seconds,
    n_images: positiveInt("n_images"),
  };
}
