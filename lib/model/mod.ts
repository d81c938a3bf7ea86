/**
 * The network: ResNet18 (torchvision layout, PyTorch padding and BatchNorm numerics), SSPCAB, the MLP head and
 * the ProjectionNet that joins them, its parameters, PyTorch-named state dicts and ImageNet weights.
 *
 * @example Embed a batch with a randomly initialised ProjectionNet
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createProjectionNet, defaultProjectionNetConfig, disposeParams, projectionNetEmbed } from "./mod.ts";
 * await tf.setBackend("cpu");
 * const net = createProjectionNet(defaultProjectionNetConfig(), 0);
 * const embedding = projectionNetEmbed(net, tf.randomNormal([2, 32, 32, 3]));
 * assert.ok(embedding.shape[0] === 2 && embedding.shape[1] === 512);
 * disposeParams(net.params);
 * ```
 * @module
 */
export {
  batchNorm,
  batchNormRelu,
  batchNormSpecs,
  BN_EPS,
  BN_MOMENTUM,
  conv2d,
  convSpecs,
  type ForwardContext,
  linear,
  linearSpecs,
  param,
} from "./layers.ts";
export {
  countParams,
  createParams,
  disposeParams,
  fromTorchLayout,
  type ParamInit,
  type ParamKind,
  type ParamSpec,
  type ParamStore,
  torchShape,
  toTorchLayout,
} from "./params.ts";
export {
  defaultPretrainedPath,
  downloadPretrained,
  manualDownloadHint,
  PRETRAINED_SOURCE,
  sha256Hex,
  verifyResnet18Weights,
} from "./pretrained.ts";
export {
  createProjectionNet,
  crossEntropy,
  defaultProjectionNetConfig,
  headLayersFor,
  type LossParts,
  type ProjectionNet,
  type ProjectionNetConfig,
  projectionNetEmbed,
  projectionNetForward,
  projectionNetLoss,
  type ProjectionNetOutputs,
  projectionNetSpecs,
  trainableNames,
} from "./projection_net.ts";
export {
  RESNET18_EMBED_DIM,
  RESNET18_WIDTHS,
  resnet18Specs,
  resnetLayer,
  resnetLayer4Pool,
  resnetStem,
  resnetToLayer3,
} from "./resnet18.ts";
export {
  conv2dSpaceToDepth,
  conv2dSpaceToDepthFilterGrad,
  DEFAULT_STEM_CONV,
  spaceToDepthFilter,
  spaceToDepthInput,
  type SpaceToDepthOptions,
  type StemConv,
  stemConv2d,
} from "./stem.ts";
export { DEFAULT_SSPCAB, sspcab, type SspcabConfig, sspcabOffsets, sspcabSpecs } from "./sspcab.ts";
export {
  applyStateDict,
  detectStateDictKind,
  type LoadReport,
  loadStateDict,
  saveStateDict,
  type StateDictKind,
  stateDictTensors,
} from "./state_dict.ts";

// Types and values the API above refers to, defined in other areas.
export type { NamedTensor } from "../io/safetensors.ts";
export type { Rng } from "../util/rng.ts";
export type { TensorToWrite } from "../io/safetensors.ts";
export type { SafetensorsDtype } from "../io/safetensors.ts";
export type { NamedTensorMap } from "../util/tensor_types.ts";
export type { Scalar } from "../util/tensor_types.ts";
export type { Tensor } from "../util/tensor_types.ts";
export type { Tensor1D } from "../util/tensor_types.ts";
export type { Tensor2D } from "../util/tensor_types.ts";
export type { Tensor4D } from "../util/tensor_types.ts";
export type { Variable } from "../util/tensor_types.ts";
