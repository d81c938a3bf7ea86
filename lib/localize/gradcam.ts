/**
 * GradCAM anomaly maps of an image-level model, as in the CutPaste paper: the gradient of the image's anomaly
 * score — the Mahalanobis distance of its (L2-normalised) embedding under the fitted Gaussian, not a class
 * logit — with respect to a trunk activation `A` (default layer4); channel weights `α_c = mean over positions
 * of ∂score/∂A_c`; map `ReLU(Σ_c α_c A_c)`, upsampled bilinearly to the input size and smoothed with a
 * Gaussian (σ = 4 px by default). The image score of the map is its maximum.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import type { Density, GaussianDensity } from "../eval/density.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { UserError } from "../util/errors.ts";
import { gaussianBlur, resizeBilinear } from "./resample.ts";
import { imagesToTensor, trunkFrom, type TrunkLayer, trunkTo } from "./trunk.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from "../util/tensor_types.ts";

/** Options of {@link gradcamMaps}. */
export interface GradCamOptions {
  /** The trunk activation the gradient is taken with respect to (default `"layer4"`). */
  layer?: TrunkLayer;
  /** Standard deviation in input pixels of the final Gaussian smoothing; 0 turns it off (default 4). */
  sigma?: number;
  /** Images per forward/backward pass (default 8). */
  batchSize?: number;
}

/** Default GradCAM smoothing, in input pixels (the CutPaste paper's choice). */
export const GRADCAM_SIGMA = 4;

function gaussianOnly(density: Density): GaussianDensity {
  if (density.kind !== "gaussian") {
    throw new UserError(
      `GradCAM needs the Gaussian density (Mahalanobis score); this model was evaluated with "${density.kind}"`,
      "evaluate with --density gaussian",
    );
  }
  return density;
}

/**
 * The anomaly score as a differentiable tensor: `sqrt((z − μ)ᵀ P (z − μ))` per row of `embeds`, where `z` is
 * the embedding L2-normalised when the density says so — the number {@link mahalanobisScores} computes, in
 * float32. The quadratic form is floored at 1e-12 so the gradient stays finite.
 */
export function mahalanobisScoreTensor(density: GaussianDensity, embeds: Tensor2D): Tensor1D {
  return tf.tidy(() => {
    const d = density.dim;
    if (embeds.shape[1] !== d) {
      throw new UserError(`the embeddings have ${embeds.shape[1]} dimensions, the density ${d}`);
    }
    let z: Tensor2D = embeds;
    if (density.l2Normalize) {
      const norm = tf.sqrt(tf.sum(tf.square(embeds), 1, true));
      z = tf.div(embeds, tf.maximum(norm, 1e-12));
    }
    const mu = tf.tensor1d(Float32Array.from(density.location));
    const p = tf.tensor2d(Float32Array.from(density.precision.data), [d, d]);
    const diff = tf.sub(z, mu) as Tensor2D;
    const q = tf.sum(tf.mul(tf.matMul(diff, p), diff), 1);
    return tf.sqrt(tf.maximum(q, 1e-12)) as Tensor1D;
  });
}

/** Raw GradCAM of one batch, before upsampling: the activation-resolution maps and the images' scores. */
export interface GradCamRaw {
  /** `ReLU(Σ_c α_c A_c)`, `[N, h, w]` at the layer's resolution. */
  cams: Tensor3D;
  /** The channel weights `α` (spatial means of the score gradient), `[N, C]`. */
  weights: Tensor2D;
  /** Each image's anomaly score (Mahalanobis distance), `[N]`. */
  scores: Tensor1D;
}

/**
 * GradCAM at the activation's resolution for an NHWC batch of normalised images (see the module doc). The
 * caller disposes the returned tensors.
 */
export function gradcamRaw(
  net: ProjectionNet,
  density: Density,
  x: Tensor4D,
  layer: TrunkLayer = "layer4",
): GradCamRaw {
  const g = gaussianOnly(density);
  return tf.tidy(() => {
    const a = trunkTo(net, x, layer);
    // The images of a batch are independent in eval mode, so the gradient of the sum is each image's own.
    const grad = tf.grad((act: Tensor) =>
      tf.sum(mahalanobisScoreTensor(g, trunkFrom(net, act as Tensor4D, layer)))
    )(a) as Tensor4D;
    const weights = tf.mean(grad, [1, 2]) as Tensor2D;
    const [n, , , c] = a.shape;
    const cams = tf.relu(tf.sum(tf.mul(a, tf.reshape(weights, [n, 1, 1, c])), 3)) as Tensor3D;
    const scores = mahalanobisScoreTensor(g, trunkFrom(net, a, layer));
    return { cams, weights, scores };
  });
}

/**
 * GradCAM anomaly maps of equally sized images: one `height × width` `Float32Array` per image, non-negative;
 * the map's maximum is the image's localisation score. Needs a Gaussian density fitted on the model's
 * embeddings (as `deno task eval` writes it).
 */
export async function gradcamMaps(
  net: ProjectionNet,
  density: Density,
  images: readonly RgbImage[],
  options: GradCamOptions = {},
): Promise<Float32Array[]> {
  const layer = options.layer ?? "layer4";
  const sigma = options.sigma ?? GRADCAM_SIGMA;
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const out: Float32Array[] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const { width, height } = chunk[0];
    const x = imagesToTensor(chunk);
    const raw = gradcamRaw(net, density, x, layer);
    const [n, h, w] = raw.cams.shape;
    const values = await raw.cams.data() as Float32Array;
    tf.dispose([x, raw.cams, raw.weights, raw.scores]);
    for (let i = 0; i < n; i++) {
      const small = values.subarray(i * h * w, (i + 1) * h * w);
      const up = resizeBilinear(small, h, w, height, width);
      out.push(sigma > 0 ? gaussianBlur(up, height, width, sigma) : up);
    }
  }
  return out;
}
