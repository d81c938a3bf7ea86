/**
 * The bundles the app serves: a `--model_dir` is either one bundle folder (it holds `metadata.json`) or a
 * folder of bundle folders; each is named by its folder name. Also the public summary of a bundle that
 * `GET /api/models` and the page's `models/index.json` list.
 * @module
 */
import { basename, join } from "node:path";
import { BUNDLE_FILES, type BundleMetadata } from "../export/bundle_metadata.ts";
import { type InferenceBundle, loadBundle } from "../export/infer.ts";
import { readGraphModelJson } from "../export/bundle_io.ts";
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
  /** The loaded graph model, density and metadata. */
  bundle: InferenceBundle;
  /** The public summary. */
  summary: ModelSummary;
}

/** The graph output that, when a bundle has it, holds a per-pixel anomaly map. */
export const ANOMALY_MAP_OUTPUT = "anomaly_map";

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

/** Load every bundle under `modelDir` (see {@link findBundleDirs}). */
export async function loadServedModels(modelDir: string): Promise<ServedModel[]> {
  const out: ServedModel[] = [];
  for (const dir of await findBundleDirs(modelDir)) {
    const name = basename(dir);
    if (!isValidModelName(name)) {
      throw new UserError(
        `bundle folder ${dir}: its name "${name}" is not a usable model name`,
        "rename the folder to letters, digits, '_', '-' and '.'",
      );
    }
    const bundle = await loadBundle(dir);
    const json = await readGraphModelJson(dir);
    const shards = json.weightsManifest.flatMap((g) => g.paths);
    out.push({ name, dir, bundle, summary: summarizeBundle(name, bundle.metadata, shards) });
  }
  return out;
}

/** Release the graph models of served bundles. */
export function disposeServedModels(models: ServedModel[]): void {
  for (const m of models) m.bundle.model.dispose();
}
