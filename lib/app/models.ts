/**
 * The bundles the app serves: a `--model_dir` is either one bundle folder (it holds `metadata.json`) or a
 * folder of bundle folders; each is named by its folder name. Also the public summary of a bundle that
 * `GET /api/models` and the page's `models/index.json` list.
 * @module
 */
import { basename, join } from "node:path";
import { BUNDLE_FILES, type BundleMetadata } from "../export/bundle_metadata.ts";
import { readGraphModelJson } from "../export/bundle_io.ts";
import { ANOMALY_MAP_OUTPUT } from "../export/graph_model.ts";
import { type EngineOptions, loadScoringEngine, type ScoringEngine } from "./engine.ts";
import { UserError } from "../util/errors.ts";

/** Model names are folder names made of these characters only (no `/`, no `..`). */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** True when `name` is a safe model name (see {@link MODEL_NAME_PATTERN}; never `..`). */
export function isValidModelName(name: string): boolean {
  return MODEL_NAME_PATTERN.test(name) && !name.includes("..");
}

/** What the app lists about one bundle. */
export interface ModelSummary {
  /** The name to pass as `?model=`. */
  name: string;
  /** Category. */
  category: string;
  /** Input side (images are resized to image_size × image_size). */
  image_size: number;
  /** Decision threshold (score ≥ threshold ⇒ anomalous). */
  threshold: number;
  /** Density kind (`gaussian` or `kde`). */
  density: string;
  /** Graph outputs. */
  outputs: string[];
  /** Whether the bundle produces an anomaly map (then predictions carry `anomaly_map_png`). */
  has_anomaly_map: boolean;
  /** Training summary: steps, test AUROC, and the training configuration. */
  training: { step: number; auroc: number; config: unknown };
  /** Library version that exported it, and when. */
  exported: { library_version: string; at: string };
  /** Files of the bundle (relative to `models/<name>/`), as the page fetches them. */
  files: string[];
}

/** A bundle loaded for serving. */
export interface ServedModel {
  /** Its name. */
  name: string;
  /** Its folder. */
  dir: string;
  /** The engine that scores its images (tfjs graph model or onnxruntime on model.onnx). */
  engine: ScoringEngine;
  /** The public summary. */
  summary: ModelSummary;
}

/** The summary of a bundle (`files` lists the metadata, density, model.json and its weight shards). */
export function summarizeBundle(name: string, metadata: BundleMetadata, shards: string[]): ModelSummary {
  return {
    name,
    category: metadata.category,
    image_size: metadata.imageSize,
    threshold: metadata.threshold,
    density: metadata.density,
    outputs: metadata.outputs,
    has_anomaly_map: metadata.outputs.includes(ANOMALY_MAP_OUTPUT),
    training: { step: metadata.metrics?.step, auroc: metadata.metrics?.auroc, config: metadata.training },
    exported: { library_version: metadata.libraryVersion, at: metadata.exportedAt },
    files: [BUNDLE_FILES.metadata, BUNDLE_FILES.density, BUNDLE_FILES.model, ...shards],
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

/** The bundle folders under `modelDir` (itself when it is a bundle), sorted by name. */
export async function findBundleDirs(modelDir: string): Promise<string[]> {
  const info = await Deno.stat(modelDir).catch(() => null);
  if (!info?.isDirectory) {
    throw new UserError(
      `--model_dir ${modelDir} is not a folder`,
      "pass a bundle folder written by `deno task export` (e.g. outputs/inference/bottle) or a folder of them",
    );
  }
  if (await isFile(join(modelDir, BUNDLE_FILES.metadata))) return [modelDir];
  const dirs: string[] = [];
  for await (const entry of Deno.readDir(modelDir)) {
    if (entry.isDirectory && await isFile(join(modelDir, entry.name, BUNDLE_FILES.metadata))) {
      dirs.push(join(modelDir, entry.name));
    }
  }
  if (dirs.length === 0) {
    throw new UserError(
      `--model_dir ${modelDir} holds no inference bundle (no metadata.json in it or in its subfolders)`,
      "export one first with `deno task export`",
    );
  }
  return dirs.sort();
}

/**
 * Load every bundle under `modelDir` (see {@link findBundleDirs}) into the chosen engine (default tfjs). The
 * page's files (model.json and its shards) are listed when the bundle has them; an ONNX-only bundle served by
 * onnxruntime answers the API but cannot run in the browser.
 */
export async function loadServedModels(
  modelDir: string,
  engineOptions: EngineOptions = {},
): Promise<ServedModel[]> {
  const out: ServedModel[] = [];
  for (const dir of await findBundleDirs(modelDir)) {
    const name = basename(dir);
    if (!isValidModelName(name)) {
      throw new UserError(
        `bundle folder ${dir}: its name "${name}" is not a usable model name`,
        "rename the folder to letters, digits, '_', '-' and '.'",
      );
    }
    let engine: ScoringEngine;
    try {
      engine = await loadScoringEngine(dir, engineOptions);
    } catch (err) {
      await disposeServedModels(out);
      throw err;
    }
    const summary = (await isFile(join(dir, BUNDLE_FILES.model)))
      ? summarizeBundle(
        name,
        engine.metadata,
        (await readGraphModelJson(dir)).weightsManifest.flatMap((g) => g.paths),
      )
      : {
        ...summarizeBundle(name, engine.metadata, []),
        files: [BUNDLE_FILES.metadata, BUNDLE_FILES.density],
      };
    out.push({ name, dir, engine, summary });
  }
  return out;
}

/** Release the models of served bundles. */
export async function disposeServedModels(models: ServedModel[]): Promise<void> {
  for (const m of models) await m.engine.dispose();
}
