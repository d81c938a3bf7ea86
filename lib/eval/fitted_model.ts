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
  });
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
  return {
    category: String(doc.category),
    imageSize: doc.imageSize,
    density,
    threshold: doc.threshold,
    auroc: Number(doc.auroc ?? NaN),
    ...(doc.model && typeof doc.model.fingerprint === "string" ? { model: doc.model } : {}),
  };
}
