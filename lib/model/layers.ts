/**
 * The building blocks of the networks, written as functions over a {@link ParamStore}, with PyTorch numerics:
 * explicit symmetric zero padding (never TF's asymmetric "same" for strided convs), BatchNorm with eps 1e-5
 * that normalises with the batch's biased variance in training and updates running statistics with PyTorch's
 * momentum 0.1 (unbiased variance), and linear layers.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamKind, ParamSpec, ParamStore } from "./params.ts";
import type { Tensor, Tensor2D, Tensor4D, Variable } from "../util/tensor_types.ts";
import type { StemConv } from "./stem.ts";

/** BatchNorm epsilon (PyTorch default). */
export const BN_EPS = 1e-5;
/** PyTorch BatchNorm momentum (weight of the new batch statistic in the running average). */
export const BN_MOMENTUM = 0.1;

/** State passed through a forward pass. */
export interface ForwardContext {
  /** The parameters. */
  params: ParamStore;
  /** Training mode: BatchNorm uses batch statistics and updates its running statistics. */
  training: boolean;
  /** When false, training-mode BatchNorm does not update running statistics (e.g. for a gradient check). */
  updateRunningStats?: boolean;
  /** How ResNet's strided stem convolution is computed (default: `DEFAULT_STEM_CONV` of `stem.ts`). */
  stemConv?: StemConv;
  /** Eval mode: BatchNorm (and a ReLU after it) as one fused per-channel pass (default true; see `batchNorm`). */
  fuseEvalBatchNorm?: boolean;
}

/** Look up a parameter by PyTorch name, with an error naming it when missing. */
export function param(ctx: ForwardContext, name: string): Variable {
  const v = ctx.params.get(name);
  if (!v) throw new Error(`model parameter "${name}" is missing`);
  return v;
}

/** Parameter declarations of a conv layer (`name.weight`, plus `name.bias` when `bias`). */
export function convSpecs(
  name: string,
  inC: number,
  outC: number,
  k: number,
  opts: { bias?: boolean; init?: "kaiming_fan_out" | "default" } = {},
): ParamSpec[] {
  const fanIn = inC * k * k;
  const specs: ParamSpec[] = [{
    name: `${name}.weight`,
    kind: "conv",
    shape: [k, k, inC, outC],
    init: opts.init === "kaiming_fan_out"
      ? { type: "kaiming_normal_fan_out" }
      : { type: "uniform_fan_in", fanIn },
  }];
  if (opts.bias) {
    specs.push({
      name: `${name}.bias`,
      kind: "vector",
      shape: [outC],
      init: { type: "uniform_fan_in", fanIn },
    });
  }
  return specs;
}

/** Parameter declarations of a BatchNorm layer (affine weight/bias and running mean/var buffers). */
export function batchNormSpecs(name: string, channels: number): ParamSpec[] {
  const v = (suffix: string, kind: ParamKind, value: number): ParamSpec => ({
    name: `${name}.${suffix}`,
    kind,
    shape: [channels],
    init: { type: "const", value },
  });
  return [
    v("weight", "vector", 1),
    v("bias", "vector", 0),
    v("running_mean", "buffer", 0),
    v("running_var", "buffer", 1),
  ];
}

/** Parameter declarations of a linear layer (PyTorch default init). */
export function linearSpecs(name: string, inF: number, outF: number): ParamSpec[] {
  return [
    {
      name: `${name}.weight`,
      kind: "linear",
      shape: [inF, outF],
      init: { type: "uniform_fan_in", fanIn: inF },
    },
    { name: `${name}.bias`, kind: "vector", shape: [outF], init: { type: "uniform_fan_in", fanIn: inF } },
  ];
}

/** 2-D convolution, NHWC, PyTorch-style symmetric zero padding `pad`, optional bias. */
export function conv2d(
  ctx: ForwardContext,
  name: string,
  x: Tensor4D,
  stride: number,
  pad: number,
  bias = false,
): Tensor4D {
  const w = param(ctx, `${name}.weight`) as Tensor4D;
  let y = tf.conv2d(x, w, stride, pad === 0 ? "valid" : pad);
  if (bias) y = tf.add(y, param(ctx, `${name}.bias`));
  return y;
}

function updateRunningStats(
  ctx: ForwardContext,
  name: string,
  mean: Tensor,
  variance: Tensor,
  count: number,
): void {
  if (ctx.updateRunningStats === false) return;
  const rm = param(ctx, `${name}.running_mean`);
  const rv = param(ctx, `${name}.running_var`);
  const unbiased = count > 1 ? count / (count - 1) : 1;
  tf.tidy(() => {
    rm.assign(tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
    rv.assign(tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(variance, BN_MOMENTUM * unbiased)));
  });
}

/**
 * Training-mode BatchNorm as one node of the gradient tape: it saves only the normalised input x̂ and 1/σ
 * (not every intermediate of the plain-op formula), which keeps the backward pass's memory at one tensor per
 * layer. Gradients: dβ = Σdy, dγ = Σdy·x̂, dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
 *
 * Written for few passes over the activations, most of a ResNet step's elementwise work being here: the
 * per-channel affine maps (x̂ from x; y and mean(dy) + x̂·mean(dy·x̂) from x̂) are `tf.batchNorm` calls,
 * one pass each (on `wasm` an XNNPACK kernel, see `lib/backend/kernels/FusedBatchNorm.ts`), and the variance
 * is the mean of one `squaredDifference` pass.
 */
function batchNormTrain(
  ctx: ForwardContext,
  name: string,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
): Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1];
  const node = tf.customGrad(
    ((input: Tensor, g: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
      const mean = tf.mean(input, axes);
      const variance = tf.mean(tf.squaredDifference(input, mean), axes);
      updateRunningStats(ctx, name, mean, variance, count);
      const invStd = tf.rsqrt(tf.add(variance, BN_EPS));
      const xHat = tf.batchNorm(input, mean, variance, undefined, undefined, BN_EPS);
      save([xHat, invStd, g]);
      // y = x̂·γ + β: a batch-norm of x̂ with mean 0, variance 1 and no epsilon.
      const zero = tf.zerosLike(mean);
      const one = tf.onesLike(variance);
      return {
        value: tf.batchNorm(xHat, zero, one, b, g, 0),
        gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
          const grad = dy as Tensor;
          const [xh, inv, gam] = saved;
          const dBeta = tf.sum(grad, axes);
          const dGamma = tf.sum(tf.mul(grad, xh), axes);
          // dx = k·dy − k·(mean(dy) + x̂·mean(dy·x̂)) with k = γ/σ; the second term is a batch-norm of x̂
          // with mean 0, variance 1, no epsilon, scale −k·mean(dy·x̂) and offset −k·mean(dy).
          const k = tf.mul(gam, inv);
          const kn = tf.mul(k, -1 / count);
          const projection = tf.batchNorm(
            xh,
            tf.zerosLike(dBeta),
            tf.onesLike(dBeta),
            tf.mul(kn, dBeta),
            tf.mul(kn, dGamma),
            0,
          );
          const dx = tf.add(tf.mul(grad, k), projection);
          return [dx, dGamma, dBeta];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (node as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, gamma, beta);
}

/**
 * Eval-mode BatchNorm of an NHWC batch as one per-channel affine map, y = x·s + t with s = γ/√(var + ε) and
 * t = β − mean·s (the running statistics folded in: the same function, rounded once less), optionally with the
 * ReLU that follows fused in: one fused 1×1 depthwise convolution (scale s, bias t, activation), a single pass
 * over the activations where `tf.batchNorm` and `tf.relu` take two or three (on `wasm` the normalisation is a
 * subtraction and a depthwise convolution).
 */
function batchNormEval4D(ctx: ForwardContext, name: string, x: Tensor4D, relu: boolean): Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const scale = tf.mul(
      param(ctx, `${name}.weight`),
      tf.rsqrt(tf.add(param(ctx, `${name}.running_var`), BN_EPS)),
    );
    const shift = tf.sub(param(ctx, `${name}.bias`), tf.mul(param(ctx, `${name}.running_mean`), scale));
    return tf.fused.depthwiseConv2d({
      x,
      filter: tf.reshape(scale, [1, 1, c, 1]) as Tensor4D,
      strides: 1,
      pad: "valid",
      bias: shift,
      activation: relu ? "relu" : "linear",
    });
  });
}

/**
 * BatchNorm over all axes but the last (NHWC images or [N, C] rows). Training mode normalises with the batch's
 * mean and biased variance and updates the running statistics; eval mode uses the running statistics.
 */
export function batchNorm<T extends Tensor>(ctx: ForwardContext, name: string, x: T): T {
  const gamma = param(ctx, `${name}.weight`);
  const beta = param(ctx, `${name}.bias`);
  if (!ctx.training) {
    if (x.rank === 4 && ctx.fuseEvalBatchNorm !== false) {
      return batchNormEval4D(ctx, name, x as unknown as Tensor4D, false) as unknown as T;
    }
    return tf.batchNorm(
      x,
      param(ctx, `${name}.running_mean`),
      param(ctx, `${name}.running_var`),
      beta,
      gamma,
      BN_EPS,
    ) as T;
  }
  return batchNormTrain(ctx, name, x, gamma, beta) as T;
}

/** `relu(batchNorm(x))`; in eval mode one fused pass over an NHWC batch (see {@link batchNorm}). */
export function batchNormRelu(ctx: ForwardContext, name: string, x: Tensor4D): Tensor4D {
  if (!ctx.training && ctx.fuseEvalBatchNorm !== false) return batchNormEval4D(ctx, name, x, true);
  return tf.relu(batchNorm(ctx, name, x));
}

/** Linear layer: `x @ W + b` with W stored [in, out]. */
export function linear(ctx: ForwardContext, name: string, x: Tensor2D): Tensor2D {
  return tf.add(tf.matMul(x, param(ctx, `${name}.weight`) as Tensor2D), param(ctx, `${name}.bias`));
}
