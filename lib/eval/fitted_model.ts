/**
 * The fitted anomaly model of a category, written by evaluation and reused by prediction and export: the
 * density (Gaussian with Ledoit–Wolf precision, or KDE) of L2-normalised embeddings, the Youden threshold and
 * the test metrics — plain JSON, never a pickle or code.
 * @module
 */
import { join } from "node:path";
import { type Density, densityFromJson, type DensityJson, densityToJson } from "./density.ts";
import { writeJsonAtomic } from "../io/atomic_write.ts";
import { UserError } from "../util/errors.ts";
import { modelName } from "../train/config.ts";
import type { ModelRef } from "../train/model_file.ts";
import { LOCALIZATION_METHODS, type LocalizationMethod } from "../io/localization_file.ts";

/** Identifies our fitted-density files. */
export const FITTED_FORMAT = "sspcab-fitted-density";

/** A category's fitted density with its decision threshold. */
export interface FittedModel {
  /** Category. */
  category: string;
  /** Image side the embeddings were computed at. */
  imageSize: number;
  /** The density. */
  density: Density;
  /** Youden threshold: score ≥ threshold ⇒ anomalous. */
  threshold: number;
  /** Test AUROC of this density. */
  auroc: number;
  /** The model it was fitted on (checked by predict/export; absent in files of older versions). */
  model?: ModelRef;
  /**
   * The anomaly-map methods `eval --localization` evaluated on this model, best AU-PRO first: the first is
   * the map predict and export use unless told otherwise. Absent when eval ran without localisation.
   */
  maps?: FittedMap[];
}

/** What evaluation keeps of one anomaly-map method, so that predict and export draw the same map and mask. */
export interface FittedMap {
  /** The map method. */
  method: LocalizationMethod;
  /** The options the maps were computed with (e.g. `layer`, `sigma`, `patch_size`, `stride`). */
  options: Record<string, number | string>;
  /**
   * Pixel threshold: a map value ≥ it marks a defect pixel. Chosen on the test set as the threshold of the
   * best pooled pixel F1 (as the image threshold is chosen on the test set by Youden's J).
   */
  pixelThreshold: number;
  /** Pooled pixel AUROC on the test set. */
  pixelAuroc: number;
  /** AU-PRO up to FPR 0.3 on the test set. */
  auPro: number;
  /** `patch` only: the Gaussian of the training images' patch embeddings the patch scores come from. */
  patchDensity?: Density;
}

/** Where evaluation writes a category's fitted density. */
export function fittedModelPath(modelDir: string, category: string): string {
  return join(modelDir, `${modelName(category)}.density.json`);
}

/** Write a fitted model as JSON (atomically). */
export async function saveFittedModel(path: string, fitted: FittedModel): Promise<void> {
  await writeJsonAtomic(path, {
    format: FITTED_FORMAT,
    version: 1,
    category: fitted.category,
    imageSize: fitted.imageSize,
    threshold: fitted.threshold,
    auroc: fitted.auroc,
    ...(fitted.model ? { model: fitted.model } : {}),
    density: densityToJson(fitted.density),
    ...(fitted.maps ? { maps: fitted.maps.map(fittedMapToJson) } : {}),
  });
}

function fittedMapToJson(m: FittedMap): Record<string, unknown> {
  return {
    method: m.method,
    options: m.options,
    pixelThreshold: m.pixelThreshold,
    pixelAuroc: m.pixelAuroc,
    auPro: m.auPro,
    ...(m.patchDensity ? { patchDensity: densityToJson(m.patchDensity) } : {}),
  };
}

function fittedMapFromJson(path: string, json: unknown, i: number): FittedMap {
  const bad = (field: string, what: string): never => {
    throw new UserError(
      `${path}: maps[${i}].${field} must be ${what}`,
      "run `deno task eval --localization METHOD` again to rewrite it",
    );
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) bad("", "an object");
  const o = json as Record<string, unknown>;
  if (!(LOCALIZATION_METHODS as readonly unknown[]).includes(o.method)) {
    bad("method", `one of ${LOCALIZATION_METHODS.join(", ")}`);
  }
  const options: Record<string, number | string> = {};
  if (typeof o.options !== "object" || o.options === null || Array.isArray(o.options)) {
    bad("options", "an object");
  }
  for (const [k, v] of Object.entries(o.options as Record<string, unknown>)) {
    if (typeof v !== "string" && (typeof v !== "number" || !Number.isFinite(v))) {
      bad(`options.${k}`, "a number or a string");
    }
    options[k] = v as number | string;
  }
  for (const k of ["pixelThreshold", "pixelAuroc", "auPro"] as const) {
    if (typeof o[k] !== "number" || !Number.isFinite(o[k])) bad(k, "a finite number");
  }
  let patchDensity: Density | undefined;
  if (o.patchDensity !== undefined) {
    try {
      patchDensity = densityFromJson(o.patchDensity);
    } catch (err) {
      bad("patchDensity", `a density (${(err as Error).message})`);
    }
  }
  if (o.method === "patch" && !patchDensity) bad("patchDensity", "present for the patch method");
  return {
    method: o.method as LocalizationMethod,
    options,
    pixelThreshold: o.pixelThreshold as number,
    pixelAuroc: o.pixelAuroc as number,
    auPro: o.auPro as number,
    ...(patchDensity ? { patchDensity } : {}),
  };
}

/**
 * The map of `method` that `fitted` stores, or (no method given) its default map, the first; `null` when
 * eval stored none (or not that one).
 */
export function fittedMap(fitted: FittedModel, method?: LocalizationMethod): FittedMap | null {
  const maps = fitted.maps ?? [];
  return (method ? maps.find((m) => m.method === method) : maps[0]) ?? null;
}

/** Read a fitted model, with clear errors for a missing or malformed file. */
export async function loadFittedModel(path: string): Promise<FittedModel> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `fitted density not found: ${path}`,
        "run `deno task eval` for this category first",
      );
    }
    throw err;
  }
  let doc: {
    format?: string;
    category?: string;
    imageSize?: number;
    threshold?: number;
    auroc?: number;
    model?: ModelRef;
    density?: DensityJson;
    maps?: unknown;
  };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not valid JSON`, "run `deno task eval` again to rewrite it");
  }
  if (
    doc.format !== FITTED_FORMAT || typeof doc.threshold !== "number" || typeof doc.imageSize !== "number"
  ) {
    throw new UserError(
      `${path} is not a fitted-density file of this tool`,
      "run `deno task eval` again to rewrite it",
    );
  }
  let density: Density;
  try {
    density = densityFromJson(doc.density);
  } catch (err) {
    throw new UserError(`${path}: ${(err as Error).message}`, "run `deno task eval` again to rewrite it");
  }
  if (doc.maps !== undefined && !Array.isArray(doc.maps)) {
    throw new UserError(`${path}: maps must be a list`, "run `deno task eval` again to rewrite it");
  }
  const maps = doc.maps?.map((m, i) => fittedMapFromJson(path, m, i));
  return {
    category: String(doc.category),
    imageSize: doc.imageSize,
    density,
    threshold: doc.threshold,
    auroc: Number(doc.auroc ?? NaN),
    ...(doc.model && typeof doc.model.fingerprint === "string" ? { model: doc.model } : {}),
    ...(maps ? { maps } : {}),
  };
}
