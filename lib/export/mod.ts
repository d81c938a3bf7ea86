/**
 * Export: the TensorFlow.js graph model written from our network (with an anomaly map — SSPCAB's or GradCAM's — as an output), the
 * ONNX model (`./onnx/`), the patch-level map's own small model (`patch_model.json` / `patch_model.onnx`), the
 * inference bundle (graph model and/or model.onnx + density + threshold + metadata) and running a bundle on
 * images without any training code — with TensorFlow.js or, optionally, ONNX Runtime.
 *
 * @example A network as a TensorFlow.js graph model that takes raw RGB and outputs its embedding
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createProjectionNet, defaultProjectionNetConfig, disposeParams } from "../model/mod.ts";
 * import { buildGraphModel, loadGraphModelFromArtifacts } from "./mod.ts";
 * await tf.setBackend("cpu");
 * const net = createProjectionNet(defaultProjectionNetConfig(), 0);
 * const graph = await loadGraphModelFromArtifacts(await buildGraphModel(net, { imageSize: 32 }));
 * const embedding = graph.execute({ image: tf.fill([1, 32, 32, 3], 128) }, "embedding") as tf.Tensor;
 * assert.deepEqual(embedding.shape, [1, 512]);
 * disposeParams(net.params);
 * ```
 * @module
 */
export { chooseExportMap, exportBundle, type ExportMapChoice } from "./bundle.ts";
export {
  GRAPH_MAP_METHODS,
  type GraphMapMethod,
  type GraphMapSpec,
  graphMapSpec,
  symmetricPart,
  transposeToFloat32,
  upsampleMatrix,
} from "./map_spec.ts";
export {
  graphModelDirHandler,
  loadGraphModelFromArtifacts,
  loadGraphModelFromDir,
  manifestByteLength,
  MODEL_JSON_FILE,
  readGraphModelArtifacts,
  readGraphModelJson,
  writeGraphModel,
  type WrittenGraphModel,
} from "./bundle_io.ts";
export {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type BundleAnomalyMap,
  type BundleFormat,
  type BundleMetadata,
  bundleMetadataPath,
  type BundlePatchMap,
  readBundleMetadata,
  writeBundleMetadata,
} from "./bundle_metadata.ts";
export {
  ANOMALY_MAP_OUTPUT,
  type AttrValue,
  buildGraphModel,
  foldBatchNorm,
  GRAPH_MODEL_EXPORT_VERSION,
  GRAPH_MODEL_FORMAT,
  GRAPH_MODEL_WEIGHTS_FILE,
  type GraphDensity,
  type GraphModelArtifacts,
  type GraphModelJson,
  type GraphModelOptions,
  type GraphNodeJson,
  layer3Size,
  layer4Size,
  type SignatureEntry,
  type TensorShapeJson,
  type WeightEntry,
} from "./graph_model.ts";
export {
  bundleAnomalyMap,
  type BundleBatchOutput,
  disposeBundle,
  hasAnomalyMap,
  heatmapFields,
  heatmapSource,
  INFERENCE_ENGINES,
  type InferenceBundle,
  inferImages,
  inferMaps,
  type InferOptions,
  loadBundle,
  type LoadBundleOptions,
  loadBundlePatchMap,
  packedPatchMaps,
  packImages,
  requirePatchMap,
  runBundleBatch,
  scoreRgbImages,
} from "./infer.ts";
export {
  buildPatchGraph,
  PATCH_MAP_KIND,
  PATCH_MODEL_FILE,
  PATCH_ONNX_FILE,
  PATCH_WEIGHTS_FILE,
  type PatchMapInfo,
  type PatchMapSettings,
  patchMapSettings,
  writePatchGraph,
  type WritePatchGraphOptions,
  type WrittenPatchGraph,
} from "./patch_graph.ts";
export {
  loadPatchMaps,
  type LoadPatchMapsOptions,
  type PatchMapBundle,
  patchMapsFromBundle,
  type PatchMapsFromBundleOptions,
} from "./patch_maps.ts";
export {
  createOnnxSession,
  type ExecutionProvider,
  inferImagesOnnx,
  loadOnnxBundle,
  type LoadOnnxBundleOptions,
  loadOnnxRuntime,
  type OnnxBatchOutputs,
  type OnnxBundle,
  ONNXRUNTIME_ADD_COMMAND,
  ONNXRUNTIME_PACKAGE,
  ONNXRUNTIME_VERSION,
  type OnnxSessionOptions,
  type OrtModule,
  type OrtSession,
  type OrtTensor,
  releaseOnnxBundle,
  runOnnxBatch,
} from "./onnx_engine.ts";
export {
  buildOnnxModel,
  ONNX_MODEL_FILE,
  ONNX_OPSET,
  type OnnxDensity,
  type OnnxExportOptions,
  type OnnxModelArtifacts,
  type OnnxModelInfo,
  onnxModelInfo,
  readOnnxFile,
  writeOnnxModel,
} from "./onnx/mod.ts";

// Types and values the API above refers to, defined in other areas.
export type { FittedMap } from "../eval/fitted_model.ts";
export type { LocalizationMethod } from "../io/localization_file.ts";
export type { FittedModel } from "../eval/fitted_model.ts";
export type { GraphModel } from "../util/tensor_types.ts";
export type { IOHandler } from "../util/tensor_types.ts";
export type { ModelArtifacts } from "../util/tensor_types.ts";
export type { ModelJson } from "./onnx/schema.ts";
export type { Prediction } from "../pipeline/predict.ts";
export type { ProjectionNet } from "../model/projection_net.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { WeightsManifestConfig } from "../util/tensor_types.ts";
export type { Density } from "../eval/density.ts";
export type { GraphJson } from "./onnx/schema.ts";
export type { ModelRef } from "../train/model_file.ts";
export type { ParamSpec } from "../model/params.ts";
export type { ParamStore } from "../model/params.ts";
export type { ProjectionNetConfig } from "../model/projection_net.ts";
export type { GaussianDensity } from "../eval/density.ts";
export type { KdeDensity } from "../eval/density.ts";
export type { NodeJson } from "./onnx/schema.ts";
export type { ParamInit } from "../model/params.ts";
export type { ParamKind } from "../model/params.ts";
export type { SspcabConfig } from "../model/sspcab.ts";
export type { StemConv } from "../model/stem.ts";
export type { TensorJson } from "./onnx/schema.ts";
export type { ValueInfoJson } from "./onnx/schema.ts";
export type { Variable } from "../util/tensor_types.ts";
export type { AttributeJson } from "./onnx/schema.ts";
export type { DimJson } from "./onnx/schema.ts";
export type { Matrix } from "../eval/linalg.ts";
