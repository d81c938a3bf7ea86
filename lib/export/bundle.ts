/**
 * The self-contained inference bundle: the network as a TensorFlow.js graph model (`model.json` + weights,
 * loadable by `tf.loadGraphModel` in a browser) and/or as an ONNX model (`model.onnx`, see `onnx/export.ts`),
 * each taking raw RGB and, for a Gaussian density, outputting the anomaly score itself (and the per-pixel
 * `anomaly_map` of an `sspcab` or `gradcam` map); for the `patch` map a second small model — the network at
 * the patch size, `patch_model.json` and/or `patch_model.onnx` (see `patch_graph.ts`) — that the runtime runs
 * over the grid of patches; `density.json` (the fitted density and threshold, and the patch density); and
 * `metadata.json` (category, image size, preprocessing, training configuration, metrics, the map and the
 * patch model's files and geometry, library version), written last.
 * @module
 */
import { join } from "node:path";
import { ANOMALY_MAP_OUTPUT, buildGraphModel } from "./graph_model.ts";
import { writeGraphModel } from "./bundle_io.ts";
import {
  type FittedMap,
  fittedMap,
  type FittedModel,
  fittedModelPath,
  loadFittedModel,
  saveFittedModel,
} from "../eval/fitted_model.ts";
import type { LocalizationMethod } from "../io/localization_file.ts";
import { LOCALIZATION_METHODS } from "../io/localization_file.ts";
import { type GraphMapSpec, graphMapSpec } from "./map_spec.ts";
import type { ProjectionNetConfig } from "../model/projection_net.ts";
import { checkDensityMatchesModel, loadTrainedModel } from "../train/model_file.ts";
import { disposeParams } from "../model/params.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../data/normalize.ts";
import { LIBRARY_VERSION } from "../version.ts";
import { UserError } from "../util/errors.ts";
import { buildBundleOnnx, ONNX_MODEL_FILE, writeOnnxModel } from "./onnx/model_file.ts";
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type BundleAnomalyMap,
  type BundleFormat,
  type BundleMetadata,
  type BundlePatchMap,
  writeBundleMetadata,
} from "./bundle_metadata.ts";
import { ONNX_OPSET } from "./onnx/export.ts";
import { PATCH_MODEL_FILE, PATCH_ONNX_FILE, patchMapSettings, writePatchGraph } from "./patch_graph.ts";
import { checkPatchSizeForModel } from "../localize/patch.ts";

/** The anomaly map an export puts into the bundle: the graph's spec and what metadata records. */
export interface ExportMapChoice {
  /** What the graph computes (`null`: no `anomaly_map` output). */
  spec: GraphMapSpec | null;
  /** What `metadata.json` records (`null`: no map). */
  anomalyMap: BundleAnomalyMap | null;
  /** Why the choice was made, when it is not the stored default map (printed by the CLI). */
  note?: string;
  /** The `patch` map: the fitted map (with its patch density) the bundle's patch model is written from. */
  patch?: FittedMap;
}

/**
 * Which map a bundle carries: `requested` (`--map`), else the fitted model's default map (the one eval
 * ranked best by AU-PRO), else — no stored map — the sspcab map without a pixel threshold when the model has
 * SSPCAB, else none. `patch` is not a graph output: it needs the patch map eval stored (with its patch density),
 * returned as `patch` for the bundle's own patch model, and the main graph gets no `anomaly_map`. A method
 * the model or density cannot give is a {@link UserError}.
 */
export function chooseExportMap(
  fitted: FittedModel,
  config: ProjectionNetConfig,
  requested?: LocalizationMethod,
): ExportMapChoice {
  if (requested !== undefined && !(LOCALIZATION_METHODS as readonly string[]).includes(requested)) {
    throw new UserError(`unknown map "${requested}"`, `use one of ${LOCALIZATION_METHODS.join(", ")}`);
  }
  const stored = fittedMap(fitted, requested);
  const method = requested ?? stored?.method;
  let note: string | undefined;
  if (!method) {
    if (!config.sspcab) {
      return {
        spec: null,
        anomalyMap: null,
        note: "no anomaly map: eval stored none and the model has no SSPCAB block",
      };
    }
    note = "the fitted density stores no evaluated map (eval ran without --localization): the bundle " +
      "carries the sspcab map with no pixel threshold";
  } else if (!stored) {
    note = `the fitted density stores no ${method} map (run \`deno task eval --localization ${method}\`): ` +
      "the bundle carries it with default options and no pixel threshold";
  }
  const chosen: LocalizationMethod = method ?? "sspcab";
  const options = stored?.options ?? {};
  switch (chosen) {
    case "sspcab":
      if (!config.sspcab) {
        throw new UserError(
          "the sspcab map needs a model with the SSPCAB block; this one was trained without it",
          "export with --map gradcam (or patch)",
        );
      }
      break;
    case "gradcam":
      if (fitted.density.kind !== "gaussian") {
        throw new UserError(
          `the gradcam map is the gradient of the Mahalanobis score; this model's density is "${fitted.density.kind}"`,
          "evaluate with --density gaussian, or export with --map sspcab",
        );
      }
      break;
    case "patch": {
      // The patch map is drawn by a second small model (patch_graph.ts) from the patch density eval stores;
      // the main graph outputs no anomaly_map.
      if (!stored?.patchDensity) {
        throw new UserError(
          `the patch map needs the patch density that \`deno task eval --localization patch\` stores; ` +
            `the fitted density has ${stored ? "a patch map without it" : "no patch map"}`,
          "run `deno task eval --localization patch` (for a model trained with --patch_size), then export " +
            "again — or export with --map sspcab or --map gradcam",
        );
      }
      return {
        spec: null,
        anomalyMap: {
          method: "patch",
          options: { ...stored.options },
          pixelThreshold: stored.pixelThreshold,
        },
        patch: stored,
      };
    }
  }
  const spec = graphMapSpec(chosen, options);
  return {
    spec,
    anomalyMap: {
      method: chosen,
      options: stored
        ? { ...stored.options }
        : { sigma: spec.sigma, layer: chosen === "gradcam" ? "layer4" : "layer3" },
      pixelThreshold: stored?.pixelThreshold ?? null,
    },
    ...(note ? { note } : {}),
  };
}

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
    /** The anomaly map to carry (default: the fitted model's default map, see {@link chooseExportMap}). */
    map?: LocalizationMethod;
  },
): Promise<{ dir: string; files: string[]; metadata: BundleMetadata; note?: string }> {
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
    const map = chooseExportMap(fitted, model.net.config, options.map);
    if (map.patch) {
      // Refuse a bad patch map (geometry, a patch too small for SSPCAB) before writing anything.
      const { settings } = patchMapSettings(map.patch, model.config.size, densityPath);
      checkPatchSizeForModel(model.net.config, settings.patchSize);
    }
    // Both model files output the chosen map.
    const outputs = [...(gaussian ? ["embedding", "score"] : ["embedding"])];
    if (map.spec) outputs.push(ANOMALY_MAP_OUTPUT);
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
        anomalyMap: map.spec ?? false,
        metadata: {
          category: options.category,
          ...(map.anomalyMap ? { pixelThreshold: map.anomalyMap.pixelThreshold } : {}),
        },
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
      const built = await buildBundleOnnx(model, fitted, {
        category: options.category,
        inputType: input,
        anomalyMap: map.spec ?? false,
        pixelThreshold: map.anomalyMap?.pixelThreshold ?? undefined,
      });
      files.push(await writeOnnxModel(options.outDir, built.bytes));
      onnx = { file: ONNX_MODEL_FILE, opset: ONNX_OPSET, input, outputs: built.outputs };
    }
    let patchMap: BundlePatchMap | undefined;
    if (map.patch) {
      const written = await writePatchGraph(options.outDir, model.net, map.patch, {
        imageSize: model.config.size,
        format,
        onnxInput: options.onnxInput,
        category: options.category,
      });
      files.push(...written.files);
      const { patchSize, stride, sigma } = written.info;
      patchMap = {
        ...(format === "onnx" ? {} : { file: PATCH_MODEL_FILE }),
        ...(format === "tfjs" ? {} : { onnx: PATCH_ONNX_FILE }),
        outputs: written.outputs,
        patchSize,
        stride,
        sigma,
      };
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
      ...(map.anomalyMap ? { anomalyMap: map.anomalyMap } : {}),
      ...(patchMap ? { patchMap } : {}),
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
      ...(map.note ? { note: map.note } : {}),
    };
  } finally {
    disposeParams(model.net.params);
  }
}
