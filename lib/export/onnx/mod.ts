/**
 * ONNX export: the model builder (`buildOnnxModel`), float64 whitening of the Gaussian for a float32-sound
 * score, the graph builder, the protobuf schema subset and the `model.onnx` file helpers. The engine that runs
 * the file is `../onnx_engine.ts`.
 * @module
 */
export {
  BATCH_DIM,
  buildOnnxModel,
  ONNX_EXPORT_VERSION,
  ONNX_IR_VERSION,
  ONNX_MODEL_FORMAT,
  ONNX_OPSET,
  type OnnxDensity,
  type OnnxExportOptions,
  type OnnxModelArtifacts,
} from "./export.ts";
export {
  type InitializerValues,
  type OnnxAttrValue,
  OnnxGraphBuilder,
  tensorValueInfo,
} from "./graph_builder.ts";
export {
  buildBundleOnnx,
  ONNX_MODEL_FILE,
  type OnnxModelInfo,
  onnxModelInfo,
  readOnnxFile,
  trainingSummary,
  writeOnnxModel,
} from "./model_file.ts";
export {
  type AttributeJson,
  AttributeType,
  DataType,
  decodeModel,
  type DimJson,
  encodeModel,
  type GraphJson,
  type ModelJson,
  modelProtoType,
  type NodeJson,
  ONNX_PROTO_SUBSET,
  type TensorJson,
  type ValueInfoJson,
} from "./schema.ts";
export { type Whitening, whiteningMatrix } from "./whiten.ts";

// Types and values the API above refers to, defined in other areas.
export type { FittedModel } from "../../eval/fitted_model.ts";
export type { Matrix } from "../../eval/linalg.ts";
export type { ProjectionNet } from "../../model/projection_net.ts";
export type { TrainedModel } from "../../train/model_file.ts";
export type { Density } from "../../eval/density.ts";
export type { ModelRef } from "../../train/model_file.ts";
export type { ParamSpec } from "../../model/params.ts";
export type { ParamStore } from "../../model/params.ts";
export type { ProjectionNetConfig } from "../../model/projection_net.ts";
export type { TrainConfig } from "../../train/config.ts";
export type { CutPasteVariant } from "../../augment/cutpaste.ts";
export type { GaussianDensity } from "../../eval/density.ts";
export type { KdeDensity } from "../../eval/density.ts";
export type { OptimizerName } from "../../train/optimizer.ts";
export type { ParamInit } from "../../model/params.ts";
export type { ParamKind } from "../../model/params.ts";
export type { ScheduleName } from "../../train/schedule.ts";
export type { SspcabConfig } from "../../model/sspcab.ts";
export type { StemConv } from "../../model/stem.ts";
export type { Variable } from "../../util/tensor_types.ts";
export { OPTIMIZERS } from "../../train/optimizer.ts";
export { SCHEDULES } from "../../train/schedule.ts";
