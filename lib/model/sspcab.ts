/**
 * SSPCAB — the self-supervised predictive convolutional attentive block (Ristea et al., CVPR 2022): a masked
 * convolution whose receptive field is four k×k sub-kernels at distance d around a masked centre, followed by
 * squeeze-and-excitation. It predicts each position of its input from the context only, and its
 * reconstruction error (MSE against the input) is added to the training loss.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { conv2d, convSpecs, type ForwardContext, linear, linearSpecs } from "./layers.ts";
import type { ParamSpec } from "./params.ts";
import type { Tensor2D, Tensor4D } from "../util/tensor_types.ts";

/** SSPCAB hyper-parameters. */
export interface SspcabConfig {
  /** Input/output channels (256 after ResNet18 layer3). */
  channels: number;
  /** Sub-kernel size k. */
  kernelDim: number;
  /** Distance d between the masked centre and the sub-kernels. */
  dilation: number;
  /** Squeeze-and-excitation reduction ratio r. */
  reductionRatio: number;
  /** Padding of the input: zeros (PyTorch reference) or reflect (the official TF code). */
  padding: "zeros" | "reflect";
}

/** The reference configuration: 256 channels, k = 1, d = 1, r = 8, zero padding. */
export const DEFAULT_SSPCAB: SspcabConfig = {
  channels: 256,
  kernelDim: 1,
  dilation: 1,
  reductionRatio: 8,
  padding: "zeros",
};

/** Parameter declarations (`conv1`…`conv4` with bias, `se.fc1`, `se.fc2`), names prefixed by `prefix`. */
export function sspcabSpecs(config: SspcabConfig, prefix = "SSPCAB."): ParamSpec[] {
  const c = config.channels;
  const reduced = Math.floor(c / config.reductionRatio);
  return [
    ...[1, 2, 3, 4].flatMap((i) => convSpecs(`${prefix}conv${i}`, c, c, config.kernelDim, { bias: true })),
    ...linearSpecs(`${prefix}se.fc1`, c, reduced),
    ...linearSpecs(`${prefix}se.fc2`, reduced, c),
  ];
}

/** The four corner offsets (row, col) of the sub-kernels relative to the padded input, in conv1…conv4 order. */
export function sspcabOffsets(config: SspcabConfig): Array<[number, number]> {
  const border = config.kernelDim + 2 * config.dilation + 1;
  return [[0, 0], [border, 0], [0, border], [border, border]];
}

/** SSPCAB forward: [N, H, W, C] → [N, H, W, C]. */
export function sspcab(
  ctx: ForwardContext,
  config: SspcabConfig,
  x: Tensor4D,
  prefix = "SSPCAB.",
): Tensor4D {
  const p = config.kernelDim + config.dilation;
  const border = config.kernelDim + 2 * config.dilation + 1;
  const [, h, w] = x.shape;
  const padding: Array<[number, number]> = [[0, 0], [p, p], [p, p], [0, 0]];
  const padded = config.padding === "reflect" ? tf.mirrorPad(x, padding, "reflect") : tf.pad(x, padding);
  const ph = h + 2 * p - border;
  const pw = w + 2 * p - border;
  let sum: Tensor4D | undefined;
  sspcabOffsets(config).forEach(([r, c], i) => {
    const view = tf.slice(padded, [0, r, c, 0], [-1, ph, pw, -1]);
    const y = conv2d(ctx, `${prefix}conv${i + 1}`, view, 1, 0, true);
    sum = sum ? tf.add(sum, y) : y;
  });
  const features = tf.relu(sum!);
  // Squeeze and excitation.
  const squeezed = tf.mean(features, [1, 2]) as Tensor2D;
  const excite = tf.sigmoid(
    linear(ctx, `${prefix}se.fc2`, tf.relu(linear(ctx, `${prefix}se.fc1`, squeezed))),
  );
  return tf.mul(features, tf.reshape(excite, [-1, 1, 1, config.channels]));
}

/**
 * Whether SSPCAB's output depends on its input on a `side × side` feature map. With zero padding, position
 * (0, 0) reads its last sub-kernel at distance d + 1…d + k, so a map smaller than d + 2 leaves every
 * sub-kernel on padding and the block outputs a constant (its input is then lost to the layers after it).
 * Reflect padding always sees content.
 */
export function sspcabSeesContext(config: SspcabConfig, side: number): boolean {
  return config.padding === "reflect" || side >= config.dilation + 2;
}
