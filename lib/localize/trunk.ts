/**
 * The ProjectionNet trunk split at a named stage, so a localisation method can read (and differentiate with
 * respect to) an intermediate activation: stem → layer1 → layer2 → layer3 → SSPCAB → layer4 → average pool.
 * Eval mode (BatchNorm on running statistics), built from the same functions as {@link projectionNetForward}.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext } from "../model/layers.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import { resnetLayer, resnetStem } from "../model/resnet18.ts";
import { sspcab } from "../model/sspcab.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { toNormalizedFloat32 } from "../data/normalize.ts";
import { UserError } from "../util/errors.ts";
import type { Tensor2D, Tensor4D } from "../util/tensor_types.ts";

/**
 * Trunk stages a localisation method can read: the outputs of ResNet18's layer2 (stride 8, 128 channels),
 * layer3 (stride 16, 256), SSPCAB (stride 16, 256; equals layer3 when the model has no SSPCAB) and layer4
 * (stride 32, 512).
 */
export type TrunkLayer = "layer2" | "layer3" | "sspcab" | "layer4";

/** All {@link TrunkLayer} names, for flag validation. */
export const TRUNK_LAYERS: readonly TrunkLayer[] = Object.freeze(["layer2", "layer3", "sspcab", "layer4"]);

const ORDER: Record<TrunkLayer, number> = { layer2: 0, layer3: 1, sspcab: 2, layer4: 3 };

function evalContext(net: ProjectionNet): ForwardContext {
  return { params: net.params, training: false };
}

/**
 * The eval context of a pass that is differentiated (GradCAM): BatchNorm as `tf.batchNorm`, not the fused
 * depthwise-convolution form, whose input gradient the `wasm` backend does not have.
 */
function differentiableContext(net: ProjectionNet): ForwardContext {
  return { params: net.params, training: false, fuseEvalBatchNorm: false };
}

function checkLayer(layer: string): asserts layer is TrunkLayer {
  if (!(layer in ORDER)) {
    throw new UserError(`unknown trunk layer "${layer}"`, `use one of ${TRUNK_LAYERS.join(", ")}`);
  }
}

/** Run an NHWC batch of normalised images through the trunk up to and including `layer` (eval mode). */
export function trunkTo(net: ProjectionNet, x: Tensor4D, layer: TrunkLayer): Tensor4D {
  checkLayer(layer);
  const ctx = evalContext(net);
  let y = resnetStem(ctx, x);
  y = resnetLayer(ctx, y, 1);
  y = resnetLayer(ctx, y, 2);
  if (layer === "layer2") return y;
  y = resnetLayer(ctx, y, 3);
  if (layer === "layer3") return y;
  if (net.config.sspcab) y = sspcab(ctx, net.config.sspcab, y);
  if (layer === "sspcab") return y;
  return resnetLayer(ctx, y, 4);
}

/**
 * Continue from the activation of `layer` (as {@link trunkTo} returns it) to the 512-d embeddings; this part
 * can be differentiated on every backend.
 */
export function trunkFrom(net: ProjectionNet, a: Tensor4D, layer: TrunkLayer): Tensor2D {
  checkLayer(layer);
  const ctx = differentiableContext(net);
  let y = a;
  const at = ORDER[layer];
  if (at < ORDER.layer3) y = resnetLayer(ctx, y, 3);
  if (at < ORDER.sspcab && net.config.sspcab) y = sspcab(ctx, net.config.sspcab, y);
  if (at < ORDER.layer4) y = resnetLayer(ctx, y, 4);
  return tf.mean(y, [1, 2]) as Tensor2D;
}

/** Check that images share one size and return it (`what` names the caller in the error). */
export function commonSize(images: readonly RgbImage[], what: string): { height: number; width: number } {
  if (images.length === 0) throw new UserError(`${what}: no images given`);
  const { width, height } = images[0];
  images.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new UserError(
        `${what}: image ${i} is ${img.width}×${img.height}, image 0 is ${width}×${height}`,
        "resize every image to the model's input size first",
      );
    }
  });
  return { height, width };
}

/** An NHWC tensor of ImageNet-normalised images (all of one size). */
export function imagesToTensor(images: readonly RgbImage[]): Tensor4D {
  const { height, width } = commonSize(images, "imagesToTensor");
  return tf.tensor4d(toNormalizedFloat32(images), [images.length, height, width, 3]);
}
