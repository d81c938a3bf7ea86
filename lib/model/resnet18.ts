/**
 * ResNet18 in torchvision's layout (conv1 7×7/2 pad 3, maxpool 3/2 pad 1, four stages of two BasicBlocks with
 * 64/128/256/512 channels, 1×1/2 downsample), split so SSPCAB can sit between layer3 and layer4. NHWC.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  batchNorm,
  batchNormRelu,
  batchNormSpecs,
  conv2d,
  convSpecs,
  type ForwardContext,
  param,
} from "./layers.ts";
import { stemConv2d } from "./stem.ts";
import type { ParamSpec } from "./params.ts";
import type { Tensor2D, Tensor4D } from "../util/tensor_types.ts";

/** Output channels of layer1…layer4. */
export const RESNET18_WIDTHS = [64, 128, 256, 512] as const;
/** Embedding size (channels after layer4 and average pooling). */
export const RESNET18_EMBED_DIM = 512;

/** Parameter declarations of ResNet18 (without `fc`), names prefixed by `prefix` (e.g. `resnet18.`). */
export function resnet18Specs(prefix = "resnet18."): ParamSpec[] {
  const specs: ParamSpec[] = [
    ...convSpecs(`${prefix}conv1`, 3, 64, 7, { init: "kaiming_fan_out" }),
    ...batchNormSpecs(`${prefix}bn1`, 64),
  ];
  let inC = 64;
  RESNET18_WIDTHS.forEach((outC, li) => {
    for (let b = 0; b < 2; b++) {
      const name = `${prefix}layer${li + 1}.${b}`;
      const stride = li > 0 && b === 0 ? 2 : 1;
      specs.push(
        ...convSpecs(`${name}.conv1`, inC, outC, 3, { init: "kaiming_fan_out" }),
        ...batchNormSpecs(`${name}.bn1`, outC),
        ...convSpecs(`${name}.conv2`, outC, outC, 3, { init: "kaiming_fan_out" }),
        ...batchNormSpecs(`${name}.bn2`, outC),
      );
      if (stride !== 1 || inC !== outC) {
        specs.push(
          ...convSpecs(`${name}.downsample.0`, inC, outC, 1, { init: "kaiming_fan_out" }),
          ...batchNormSpecs(`${name}.downsample.1`, outC),
        );
      }
      inC = outC;
    }
  });
  return specs;
}

function basicBlock(ctx: ForwardContext, name: string, x: Tensor4D, stride: number): Tensor4D {
  let out = batchNormRelu(ctx, `${name}.bn1`, conv2d(ctx, `${name}.conv1`, x, stride, 1));
  out = batchNorm(ctx, `${name}.bn2`, conv2d(ctx, `${name}.conv2`, out, 1, 1));
  const identity = ctx.params.has(`${name}.downsample.0.weight`)
    ? batchNorm(ctx, `${name}.downsample.1`, conv2d(ctx, `${name}.downsample.0`, x, stride, 0))
    : x;
  return tf.relu(tf.add(out, identity));
}

/** Run one ResNet stage (`layer1`…`layer4`, index 1-based). */
export function resnetLayer(
  ctx: ForwardContext,
  x: Tensor4D,
  index: number,
  prefix = "resnet18.",
): Tensor4D {
  const stride = index > 1 ? 2 : 1;
  const y = basicBlock(ctx, `${prefix}layer${index}.0`, x, stride);
  return basicBlock(ctx, `${prefix}layer${index}.1`, y, 1);
}

/** The stem: conv1 → bn1 → ReLU → maxpool 3/2 pad 1 (conv1 computed as `ctx.stemConv` says, see `stem.ts`). */
export function resnetStem(ctx: ForwardContext, x: Tensor4D, prefix = "resnet18."): Tensor4D {
  const w = param(ctx, `${prefix}conv1.weight`) as Tensor4D;
  const y = batchNormRelu(ctx, `${prefix}bn1`, stemConv2d(x, w, 2, 3, ctx.stemConv));
  // tfjs pads max pooling with −∞, like PyTorch.
  return tf.maxPool(y, 3, 2, 1);
}

/** conv1 … layer3: the features SSPCAB sees (stride 16, 256 channels). */
export function resnetToLayer3(ctx: ForwardContext, x: Tensor4D, prefix = "resnet18."): Tensor4D {
  let y = resnetStem(ctx, x, prefix);
  for (let i = 1; i <= 3; i++) y = resnetLayer(ctx, y, i, prefix);
  return y;
}

/** layer4 and global average pooling: [N, H, W, 256] → [N, 512]. */
export function resnetLayer4Pool(ctx: ForwardContext, x: Tensor4D, prefix = "resnet18."): Tensor2D {
  return tf.mean(resnetLayer(ctx, x, 4, prefix), [1, 2]) as Tensor2D;
}

/** Side of ResNet18's layer3 features for an input of side `inputSide` (conv1 /2, maxpool /2, layer2 /2, layer3 /2). */
export function resnetLayer3Side(inputSide: number): number {
  const down = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  return down(down(down(down(inputSide, 7, 2, 3), 3, 2, 1), 3, 2, 1), 3, 2, 1);
}
