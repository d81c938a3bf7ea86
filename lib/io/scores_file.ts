/**
 * The per-image scores file evaluation writes for each category (`<model dir>/model-<category>.scores.json`):
 * the Youden threshold, the test AUROC and every test image's score. The notebooks read it to draw ROC curves
 * and to show the worst false positives and negatives. This module owns its path, its type, its writer and
 * its validating reader.
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

/** One scored test image. */
export interface ScoredImage {
  /** Image path as evaluation listed it. */
  path: string;
  /** `good` or the defect type. */
  defectType: string;
  /** 0 = good, 1 = defective. */
  label: 0 | 1;
  /** Anomaly score (higher = more anomalous). */
  score: number;
}

/** The per-image scores file of one category. */
export interface ScoresFile {
  /** Category. */
  category: string;
  /** Youden threshold: score ≥ threshold ⇒ anomalous. */
  threshold: number;
  /** Test image AUROC (0–1). */
  auroc: number;
  /** The scored test images. */
  images: ScoredImage[];
}

/** Where evaluation writes the scores of `category` in `modelDir`. */
export function scoresPath(modelDir: string, category: string): string {
  return join(modelDir, `${modelName(category)}.scores.json`);
}

/** Write a scores file atomically. */
export async function writeScores(path: string, scores: ScoresFile): Promise<void> {
  await writeJsonAtomic(path, scores);
}

/**
 * Read and validate a scores file; any missing or mistyped field is a `UserError` naming the file and the
 * field.
 */
export async function readScores(path: string): Promise<ScoresFile> {
  const source: JsonSource = { path, fix: "run `deno task eval` for this category again to rewrite it" };
  const doc = objectField(
    source,
    await readJsonFile(source, "run `deno task eval` for this category first"),
    "",
  );
  const images = arrayField(source, doc, "images").map((item, i) => {
    const where = `images[${i}]`;
    const o = objectField(source, item, where);
    const label = numberField(source, o, "label", `${where}.label`);
    if (label !== 0 && label !== 1) throw fieldError(source, `${where}.label`, "0 or 1", label);
    return {
      path: stringField(source, o, "path", `${where}.path`),
      defectType: stringField(source, o, "defectType", `${where}.defectType`),
      label: label as 0 | 1,
      score: numberField(source, o, "score", `${where}.score`),
    };
  });
  return {
    category: stringField(source, doc, "category"),
    threshold: numberField(source, doc, "threshold"),
    auroc: numberField(source, doc, "auroc"),
    images,
  };
}
