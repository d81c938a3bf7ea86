/**
 * The self-contained inference bundle: the network as a TensorFlow.js graph model (`model.json` + weights,
 * loadable by `tf.loadGraphModel` in a browser) and/or as an ONNX model (`model.onnx`, see `onnx/export.ts`),
 * each taking raw RGB and, for a Gaussian density, outputting the anomaly score itself (and, for a model with
 * SSPCAB, the per-pixel `anomaly_map`); `density.json` (the fitted density and threshold); and `metadata.json` (category,
 * image size, preprocessing, training configuration, metrics, library version).
 * @module
 */
import { join } from "node:path";
import { ANOMALY_MAP_OUTPUT, buildGraphModel } from "./graph_model.ts";
import { writeGraphModel } from "./bundle_io.ts";
import { fittedModelPath, loadFittedModel, saveFittedModel } from "../eval/fitted_model.ts";
import { checkDensityMatchesModel, loadTrainedModel } from "../train/model_file.ts";
import { disposeParams } from "../model/params.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../data/normalize.ts";
import { LIBRARY_VERSION } from "../version.ts";
import { UserError } from "../util/errors.ts";
import { buildBundleOnnx, ONNX_MODEL_FILE, writeOnnxModel } from "./onnx/model_file.ts";
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type BundleFormat,
  type BundleMetadata,
  writeBundleMetadata,
} from "./bundle_metadata.ts";
import { ONNX_OPSET } from "./onnx/export.ts";

/** Export a trained model and its fitted density (from `eval`) as an inference bundle in `outDir`. */
export async function exportBundle(
  options: {
    modelPath: string;
    category: string;
    densityPath?: string;
    outDir: string;
    /** Model files to write (default `tfjs`). */
    format?: BundleFormat;
    /** Element type of the ONNX model's `image` input (default float32). */
    onnxInput?: "float32" | "uint8";
  },
): Promise<{ dir: string; files: string[]; metadata: BundleMetadata }> {
  const densityPath = options.densityPath ?? fittedModelPath(join(options.modelPath, ".."), options.category);
  const fitted = await loadFittedModel(densityPath);
  const model = await loadTrainedModel(options.modelPath, {
    fallback: { category: options.category, size: fitted.imageSize },
  });
  try {
    checkDensityMatchesModel(densityPath, fitted.model, model);
    const gaussian = fitted.density.kind === "gaussian";
    const format = options.format ?? "tfjs";
    if (!["tfjs", "onnx", "all"].includes(format)) {
      throw new UserError(`unknown export format "${format}"`, "use tfjs, onnx or all");
    }
    const files: string[] = [];
    // Both model files output SSPCAB's reconstruction-error map when the model has the block.
    const outputs = [...(gaussian ? ["embedding", "score"] : ["embedding"])];
    if (model.net.config.sspcab) outputs.push(ANOMALY_MAP_OUTPUT);
    if (format === "tfjs" || format === "all") {
      const artifacts = await buildGraphModel(model.net, {
        imageSize: model.config.size,
        density: fitted.density.kind === "gaussian"
          ? {
            mean: fitted.density.location,
            precision: fitted.density.precision.data,
            l2Normalize: fitted.density.l2Normalize,
          }
          : undefined,
        metadata: { category: options.category },
      });
      const graphOutputs = Object.keys(artifacts.modelJson.signature.outputs);
      if (outputs.some((o) => !graphOutputs.includes(o))) {
        throw new Error(`export: the graph model outputs ${graphOutputs}, the bundle expects ${outputs}`);
      }
      const written = await writeGraphModel(options.outDir, artifacts);
      files.push(written.modelJson, ...written.weights);
    }
    let onnx: BundleMetadata["onnx"];
    if (format === "onnx" || format === "all") {
      const input = options.onnxInput ?? "float32";
      const built = await buildBundleOnnx(model, fitted, { category: options.category, inputType: input });
      files.push(await writeOnnxModel(options.outDir, built.bytes));
      onnx = { file: ONNX_MODEL_FILE, opset: ONNX_OPSET, input, outputs: built.outputs };
    }
    await saveFittedModel(join(options.outDir, BUNDLE_FILES.density), fitted);
    const metadata: BundleMetadata = {
      format: BUNDLE_FORMAT,
      category: options.category,
      imageSize: model.config.size,
      preprocessing: {
        resize: `bicubic to ${model.config.size}x${model.config.size}, RGB`,
        input: "float32 [N, H, W, 3] in 0..255; the graph applies (x/255 - mean)/std",
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
      },
      threshold: fitted.threshold,
      density: fitted.density.kind,
      outputs,
      metrics: { auroc: fitted.auroc, step: model.step },
      training: model.config,
      libraryVersion: LIBRARY_VERSION,
      exportedAt: new Date().toISOString(),
      formats: format === "all" ? ["tfjs", "onnx"] : [format],
      ...(onnx ? { onnx } : {}),
    };
    await writeBundleMetadata(options.outDir, metadata);
    return {
      dir: options.outDir,
      files: [
        ...files,
        join(options.outDir, BUNDLE_FILES.density),
        join(options.outDir, BUNDLE_FILES.metadata),
      ],
      metadata,
    };
  } finally {
    disposeParams(model.net.params);
  }
}
