/**
 * ProjectionNet: ResNet18 trunk with SSPCAB between layer3 and layer4, a global-average-pooled 512-d
 * embedding, an MLP head (`head_layer` × [Linear 512, BN1d, ReLU], then [Linear 128, BN1d, ReLU]) and a linear
 * classifier over 2 or 3 classes (original / CutPaste / scar). Mirrors the PyTorch/Paddle reference.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { batchNorm, batchNormSpecs, type ForwardContext, linear, linearSpecs } from "./layers.ts";
import { createParams, type ParamSpec, type ParamStore } from "./params.ts";
import { RESNET18_EMBED_DIM, resnet18Specs, resnetLayer4Pool, resnetToLayer3 } from "./resnet18.ts";
import { DEFAULT_SSPCAB, sspcab, type SspcabConfig, sspcabSpecs } from "./sspcab.ts";
import type { StemConv } from "./stem.ts";
import { createRng } from "../util/rng.ts";
import type { NamedTensorMap, Scalar, Tensor1D, Tensor2D, Tensor4D } from "../util/tensor_types.ts";

/** ProjectionNet hyper-parameters. */
export interface ProjectionNetConfig {
  /** Widths of the head's hidden layers, e.g. `[512, 128]` for `head_layer` 1. */
  headLayers: number[];
  /** Classifier outputs: 3 for CutPaste 3-way, 2 for the binary variants. */
  numClasses: number;
  /** SSPCAB block configuration, or null for plain CutPaste. */
  sspcab: SspcabConfig | null;
  /** Weight of SSPCAB's reconstruction MSE in the loss (0.01 in the paper). */
  sspcabLambda: number;
  /** How the stem's 7×7/2 convolution is computed (`stem.ts`; unset: its default). Same numbers either way. */
  stemConv?: StemConv;
  /** Eval mode: BatchNorm + ReLU as one fused pass (`layers.ts`; unset: on). Same numbers either way. */
  fuseEvalBatchNorm?: boolean;
}

/** Head widths for the reference's `--head_layer N`: N × 512, then 128. */
export function headLayersFor(headLayer: number): number[] {
  return [...Array(headLayer).fill(512), 128];
}

/** The reference configuration: head_layer 1, 3 classes, SSPCAB k=1 d=1 r=8, λ = 0.01. */
export function defaultProjectionNetConfig(
  overrides: Partial<ProjectionNetConfig> = {},
): ProjectionNetConfig {
  return {
    headLayers: headLayersFor(1),
    numClasses: 3,
    sspcab: { ...DEFAULT_SSPCAB },
    sspcabLambda: 0.01,
    ...overrides,
  };
}

/** A ProjectionNet: its configuration, parameter declarations and variables. */
export interface ProjectionNet {
  /** Hyper-parameters. */
  config: ProjectionNetConfig;
  /** Every parameter and buffer, in state-dict order. */
  specs: ParamSpec[];
  /** The variables by PyTorch name. */
  params: ParamStore;
}

/** Parameter declarations of a ProjectionNet (PyTorch names: `resnet18.*`, `SSPCAB.*`, `head.*`, `out.*`). */
export function projectionNetSpecs(config: ProjectionNetConfig): ParamSpec[] {
  const specs = [...resnet18Specs("resnet18.")];
  let last = RESNET18_EMBED_DIM;
  config.headLayers.forEach((width, i) => {
    specs.push(...linearSpecs(`head.${3 * i}`, last, width), ...batchNormSpecs(`head.${3 * i + 1}`, width));
    last = width;
  });
  specs.push(...linearSpecs("out", last, config.numClasses));
  if (config.sspcab) specs.push(...sspcabSpecs(config.sspcab, "SSPCAB."));
  return specs;
}

/** Create a ProjectionNet with PyTorch-default random initialisation from `seed`. */
export function createProjectionNet(config: ProjectionNetConfig, seed = 0): ProjectionNet {
  const specs = projectionNetSpecs(config);
  return { config, specs, params: createParams(specs, createRng(seed)) };
}

/** Outputs of a forward pass. */
export interface ProjectionNetOutputs extends NamedTensorMap {
  /** layer3 features [N, H/16, W/16, 256]. */
  layer3: Tensor4D;
  /** SSPCAB output (equals layer3 when SSPCAB is off). */
  sspcab: Tensor4D;
  /** Embeddings [N, 512]. */
  embeds: Tensor2D;
  /** Class logits [N, numClasses]. */
  logits: Tensor2D;
  /** SSPCAB reconstruction MSE (scalar; 0 when SSPCAB is off). */
  mse: Scalar;
}

/** The configuration's choices of how (not what) the forward pass computes. */
function forwardChoices(config: ProjectionNetConfig): Pick<ForwardContext, "stemConv" | "fuseEvalBatchNorm"> {
  return { stemConv: config.stemConv, fuseEvalBatchNorm: config.fuseEvalBatchNorm };
}

/** Forward pass on an NHWC batch of normalised images. */
export function projectionNetForward(
  net: ProjectionNet,
  x: Tensor4D,
  options: { training: boolean; updateRunningStats?: boolean },
): ProjectionNetOutputs {
  const ctx: ForwardContext = { params: net.params, ...forwardChoices(net.config), ...options };
  const layer3 = resnetToLayer3(ctx, x);
  const cfg = net.config;
  const s = cfg.sspcab ? sspcab(ctx, cfg.sspcab, layer3) : layer3;
  const mse = cfg.sspcab ? tf.mean(tf.squaredDifference(s, layer3)) as Scalar : tf.scalar(0);
  const embeds = resnetLayer4Pool(ctx, s);
  let h: Tensor2D = embeds;
  cfg.headLayers.forEach((_, i) => {
    h = tf.relu(batchNorm(ctx, `head.${3 * i + 1}`, linear(ctx, `head.${3 * i}`, h)));
  });
  const logits = linear(ctx, "out", h);
  return { layer3, sspcab: s, embeds, logits, mse };
}

/** Embeddings only (eval mode, no head): what the density estimator is fitted on. */
export function projectionNetEmbed(net: ProjectionNet, x: Tensor4D): Tensor2D {
  return tf.tidy(() => {
    const ctx: ForwardContext = { params: net.params, training: false, ...forwardChoices(net.config) };
    const layer3 = resnetToLayer3(ctx, x);
    const s = net.config.sspcab ? sspcab(ctx, net.config.sspcab, layer3) : layer3;
    return resnetLayer4Pool(ctx, s);
  });
}

/** Mean cross-entropy of logits against integer labels (PyTorch `F.cross_entropy`). */
export function crossEntropy(logits: Tensor2D, labels: Tensor1D, numClasses: number): Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), numClasses);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as Scalar;
  });
}

/** The training loss and its parts: `loss = CE(logits, labels) + λ · MSE`. */
export interface LossParts {
  /** Total loss. */
  loss: Scalar;
  /** Cross-entropy part. */
  ce: Scalar;
  /** SSPCAB MSE part (unweighted). */
  mse: Scalar;
  /** Logits (for accuracy). */
  logits: Tensor2D;
}

/** Forward in training mode and compute the loss parts. */
export function projectionNetLoss(
  net: ProjectionNet,
  x: Tensor4D,
  labels: Tensor1D,
  options: { updateRunningStats?: boolean } = {},
): LossParts {
  const out = projectionNetForward(net, x, { training: true, ...options });
  const ce = crossEntropy(out.logits, labels, net.config.numClasses);
  const loss = tf.add(ce, tf.mul(out.mse, net.config.sspcabLambda)) as Scalar;
  return { loss, ce, mse: out.mse, logits: out.logits };
}

/** Names of trainable parameters; with `freezeTrunk`, ResNet18's are left out (the head and SSPCAB train). */
export function trainableNames(net: ProjectionNet, freezeTrunk: boolean): string[] {
  return net.specs
    .filter((s) => s.kind !== "buffer" && !(freezeTrunk && s.name.startsWith("resnet18.")))
    .map((s) => s.name);
}
