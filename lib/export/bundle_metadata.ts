/**
 * A bundle's `metadata.json` and the names of a bundle's files: this module owns the format — its type, its
 * writer and its validating reader (a wrong or missing field is named, with what to do).
 * @module
 */
import { join } from "node:path";
import { ONNX_MODEL_FILE } from "./onnx/model_file.ts";
import { LOCALIZATION_METHODS, type LocalizationMethod } from "../io/localization_file.ts";
import { writeJsonAtomic } from "../io/atomic_write.ts";
import {
  arrayField,
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "../io/json_fields.ts";

/** Files of a bundle. */
export const BUNDLE_FILES = {
  metadata: "metadata.json",
  density: "density.json",
  model: "model.json",
  onnx: ONNX_MODEL_FILE,
} as const;

/** Which model files a bundle gets: the TensorFlow.js graph model, the ONNX model, or both. */
export type BundleFormat = "tfjs" | "onnx" | "all";

/** Identifies our bundle metadata. */
export const BUNDLE_FORMAT = "sspcab-inference-bundle";

/** What `metadata.json` holds. */
export interface BundleMetadata {
  /** Always {@link BUNDLE_FORMAT}. */
  format: typeof BUNDLE_FORMAT;
  /** Category. */
  category: string;
  /** Input side (images are resized to size × size). */
  imageSize: number;
  /** Preprocessing the caller must do before the graph, and what the graph does itself. */
  preprocessing: { resize: string; input: string; mean: readonly number[]; std: readonly number[] };
  /** Decision threshold (score ≥ threshold ⇒ anomalous). */
  threshold: number;
  /** Density kind; for `gaussian` the graph outputs `score`, for `kde` the caller scores `embedding`. */
  density: "gaussian" | "kde";
  /** Graph outputs (`embedding`, `score` for a Gaussian density, `anomaly_map` for a model with SSPCAB). */
  outputs: string[];
  /** Metrics at export time. */
  metrics: { auroc: number; step: number };
  /** Training configuration. */
  training: unknown;
  /** Version of this library. */
  libraryVersion: string;
  /** When it was exported (ISO time). */
  exportedAt: string;
  /** Model files in the bundle (absent in bundles from before ONNX export: tfjs only). */
  formats?: Array<"tfjs" | "onnx">;
  /** The ONNX model, when exported: file, opset, input element type and graph outputs. */
  onnx?: { file: string; opset: number; input: "float32" | "uint8"; outputs: string[] };
  /**
   * The map the `anomaly_map` output carries (absent in bundles from before it was recorded: the sspcab map,
   * no pixel threshold).
   */
  anomalyMap?: BundleAnomalyMap;
  /**
   * The patch map's own model (bundles whose `anomalyMap.method` is `patch`; see `patch_graph.ts`): the
   * network at input `patchSize × patchSize` as a TensorFlow.js graph model (`file`, with its weight shard)
   * and/or as ONNX (`onnx`), its outputs, and the map's geometry — what a browser needs to crop the grid,
   * run the patch model and spread the scores without reading `density.json`'s map options.
   */
  patchMap?: BundlePatchMap;
}

/** What a bundle records about its patch model (see {@link BundleMetadata.patchMap}). */
export interface BundlePatchMap {
  /** The graph model's `model.json`-style file (format tfjs/all), e.g. `patch_model.json`. */
  file?: string;
  /** The ONNX model (format onnx/all), e.g. `patch_model.onnx`. */
  onnx?: string;
  /** Outputs of the patch model(s): `embedding`, and `score` for a Gaussian patch density. */
  outputs: string[];
  /** Patch side in pixels (the patch model's input side). */
  patchSize: number;
  /** Grid stride in pixels. */
  stride: number;
  /** Receptive-field Gaussian σ in pixels (each patch score spreads over its patch with this σ). */
  sigma: number;
}

/** What a bundle records about its anomaly map. */
export interface BundleAnomalyMap {
  /** The method (`sspcab` or `gradcam` in the graph; `patch` by its own model). */
  method: LocalizationMethod;
  /** The options the map is computed with (`sigma`, `layer`, `patch_size`, `stride`). */
  options: Record<string, number | string>;
  /** A map value ≥ it marks a defect pixel; `null` when eval stored no map (no pixel threshold known). */
  pixelThreshold: number | null;
}

/** Where a bundle's metadata lives. */
export function bundleMetadataPath(dir: string): string {
  return join(dir, BUNDLE_FILES.metadata);
}

/** Write a bundle's `metadata.json` (atomically; written last, so a complete file means a complete bundle). */
export async function writeBundleMetadata(dir: string, metadata: BundleMetadata): Promise<void> {
  await writeJsonAtomic(bundleMetadataPath(dir), metadata);
}

/**
 * Read and validate the metadata of the bundle in `dir`: a missing file, invalid JSON, a foreign file or a
 * missing / mistyped field is a `UserError` naming the file and the field.
 */
export async function readBundleMetadata(dir: string): Promise<BundleMetadata> {
  const source: JsonSource = {
    path: bundleMetadataPath(dir),
    fix: "re-export the bundle with `deno task export`",
  };
  const doc = objectField(
    source,
    await readJsonFile(source, "point --model_dir at a folder written by `deno task export`"),
    "",
  );
  if (doc.format !== BUNDLE_FORMAT) {
    throw fieldError(source, "format", `"${BUNDLE_FORMAT}" (an inference bundle of this tool)`, doc.format);
  }
  stringField(source, doc, "category");
  const size = numberField(source, doc, "imageSize");
  if (!Number.isInteger(size) || size < 1) throw fieldError(source, "imageSize", "a positive integer", size);
  numberField(source, doc, "threshold");
  if (doc.density !== "gaussian" && doc.density !== "kde") {
    throw fieldError(source, "density", `"gaussian" or "kde"`, doc.density);
  }
  arrayField(source, doc, "outputs").forEach((o, i) => {
    if (typeof o !== "string") throw fieldError(source, `outputs[${i}]`, "a string", o);
  });
  if (doc.formats !== undefined) {
    arrayField(source, doc, "formats").forEach((f, i) => {
      if (f !== "tfjs" && f !== "onnx") throw fieldError(source, `formats[${i}]`, `"tfjs" or "onnx"`, f);
    });
  }
  if (doc.anomalyMap !== undefined) checkAnomalyMap(source, doc.anomalyMap);
  if (doc.patchMap !== undefined) checkPatchMap(source, doc.patchMap);
  return doc as unknown as BundleMetadata;
}

function checkAnomalyMap(source: JsonSource, value: unknown): void {
  const m = objectField(source, value, "anomalyMap");
  if (!(LOCALIZATION_METHODS as readonly unknown[]).includes(m.method)) {
    throw fieldError(source, "anomalyMap.method", `one of ${LOCALIZATION_METHODS.join(", ")}`, m.method);
  }
  const options = objectField(source, m.options, "anomalyMap.options");
  for (const [k, v] of Object.entries(options)) {
    if (typeof v !== "string" && (typeof v !== "number" || !Number.isFinite(v))) {
      throw fieldError(source, `anomalyMap.options.${k}`, "a number or a string", v);
    }
  }
  const t = m.pixelThreshold;
  if (t !== null && (typeof t !== "number" || !Number.isFinite(t))) {
    throw fieldError(source, "anomalyMap.pixelThreshold", "a finite number or null", t);
  }
}

function checkPatchMap(source: JsonSource, value: unknown): void {
  const m = objectField(source, value, "patchMap");
  for (const key of ["file", "onnx"]) {
    if (m[key] === undefined) continue;
    const name = stringField(source, m, key, `patchMap.${key}`);
    if (name === "" || /[\\/]/.test(name)) {
      throw fieldError(source, `patchMap.${key}`, "a file name inside the bundle folder", name);
    }
  }
  if (m.file === undefined && m.onnx === undefined) {
    throw fieldError(source, "patchMap.file", "a file name (or patchMap.onnx one)", undefined);
  }
  arrayField(source, m, "outputs", "patchMap.outputs").forEach((o, i) => {
    if (typeof o !== "string") throw fieldError(source, `patchMap.outputs[${i}]`, "a string", o);
  });
  for (const key of ["patchSize", "stride", "sigma"]) {
    const v = numberField(source, m, key, `patchMap.${key}`);
    const whole = key !== "sigma";
    if (!(v > 0) || (whole && !Number.isInteger(v))) {
      throw fieldError(source, `patchMap.${key}`, whole ? "a positive integer" : "a positive number", v);
    }
  }
}
