/**
 * `model.onnx` in an inference bundle: building it from a trained model and its fitted density, writing it
 * atomically, and reading back the facts an engine needs (input type and size, outputs, threshold) from the
 * file itself, with errors that name the file.
 * @module
 */
import { join } from "node:path";
import type { TrainedModel } from "../../train/model_file.ts";
import type { FittedModel } from "../../eval/fitted_model.ts";
import { writeFileAtomic } from "../../io/atomic_write.ts";
import { UserError } from "../../util/errors.ts";
import { buildOnnxModel, ONNX_MODEL_FORMAT, type OnnxModelArtifacts } from "./export.ts";
import { DataType, decodeModel } from "./schema.ts";
import type { GraphMapSpec } from "../map_spec.ts";

/** File name of the ONNX model in a bundle. */
export const ONNX_MODEL_FILE = "model.onnx";

/** The training facts recorded in the model's `training` metadata (no file paths). */
export function trainingSummary(model: TrainedModel, fitted: FittedModel): Record<string, unknown> {
  const c = model.config;
  return {
    category: c.category,
    variant: c.variant,
    headLayer: c.headLayer,
    sspcab: c.sspcab,
    sspcabLambda: c.sspcabLambda,
    epochs: c.epochs,
    batchSize: c.batchSize,
    optimizer: c.optim,
    lr: c.lr,
    schedule: c.schedule,
    seed: c.seed,
    size: c.size,
    pretrained: c.pretrained !== null,
    step: model.step,
    checkpointAuroc: Number.isFinite(model.auroc) ? model.auroc : null,
    density: fitted.density.kind,
    densityTrainRows: fitted.density.nTrain,
    ...(fitted.density.kind === "gaussian" ? { shrinkage: fitted.density.shrinkage } : {}),
    testAuroc: Number.isFinite(fitted.auroc) ? fitted.auroc : null,
  };
}

/**
 * The ONNX model of a trained model with its fitted density: `embedding`, and for a Gaussian density also
 * `score` and `pred_label` against the fitted threshold (a KDE is scored by the engine from the embedding).
 */
export async function buildBundleOnnx(
  model: TrainedModel,
  fitted: FittedModel,
  options: {
    category: string;
    inputType?: "float32" | "uint8";
    /** The `anomaly_map` output (default: the sspcab map when the model has SSPCAB; `false` for none). */
    anomalyMap?: GraphMapSpec | false;
    /** The map's pixel threshold, recorded in the metadata. */
    pixelThreshold?: number;
  },
): Promise<OnnxModelArtifacts> {
  const gaussian = fitted.density.kind === "gaussian" ? fitted.density : null;
  return await buildOnnxModel(model.net, {
    imageSize: model.config.size,
    inputType: options.inputType,
    density: gaussian
      ? { mean: gaussian.location, precision: gaussian.precision.data, l2Normalize: gaussian.l2Normalize }
      : undefined,
    threshold: gaussian ? fitted.threshold : undefined,
    thresholds: { youden: fitted.threshold },
    category: options.category,
    training: trainingSummary(model, fitted),
    anomalyMap: options.anomalyMap,
    pixelThreshold: options.pixelThreshold,
  });
}

/** Write `dir/model.onnx` atomically; returns its path. */
export async function writeOnnxModel(dir: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, ONNX_MODEL_FILE);
  await writeFileAtomic(path, bytes);
  return path;
}

/** What an engine needs to know about an exported ONNX model. */
export interface OnnxModelInfo {
  /** Element type of the `image` input. */
  inputType: "float32" | "uint8";
  /** Input height. */
  height: number;
  /** Input width. */
  width: number;
  /** Graph output names. */
  outputs: string[];
  /** The decision threshold in the graph (absent without `pred_label`). */
  threshold?: number;
  /** Opset version of the default domain. */
  opset: number;
  /** All `metadata_props`. */
  metadata: Record<string, string>;
}

/** Read an ONNX model file written by this exporter and describe it; a foreign or damaged file is a UserError. */
export function onnxModelInfo(bytes: Uint8Array, path: string): OnnxModelInfo {
  let model;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new UserError(
      `${path} is not a valid ONNX file (${(err as Error).message})`,
      "export the model again with `deno task export`",
    );
  }
  const metadata = Object.fromEntries((model.metadata_props ?? []).map((p) => [p.key, p.value]));
  const input = model.graph?.input?.find((i) => i.name === "image");
  if (metadata.format !== ONNX_MODEL_FORMAT || !input) {
    throw new UserError(
      `${path} is not an ONNX model exported by this tool (no "image" input or format metadata)`,
      "export the model again with `deno task export`",
    );
  }
  const t = input.type.tensor_type;
  const dims = t.shape.dim.map((d) => "dim_value" in d ? Number(d.dim_value) : NaN);
  if (dims.length !== 4 || !(dims[1] > 0) || !(dims[2] > 0) || dims[3] !== 3) {
    throw new UserError(`${path}: input "image" is not [batch, H, W, 3]`, "export the model again");
  }
  const threshold = metadata.threshold !== undefined ? Number(metadata.threshold) : undefined;
  return {
    inputType: t.elem_type === DataType.UINT8 ? "uint8" : "float32",
    height: dims[1],
    width: dims[2],
    outputs: model.graph.output.map((o) => o.name),
    threshold,
    opset: model.opset_import.find((o) => !o.domain)?.version ?? 0,
    metadata,
  };
}

/** Read `path` (a `model.onnx`) with a UserError naming it when missing. */
export async function readOnnxFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `ONNX model ${path} not found`,
        "export it with `deno task export --format onnx` (or `--format all`)",
      );
    }
    throw new UserError(`cannot read ONNX model ${path}: ${(err as Error).message}`);
  }
}
