/**
 * SSPCAB's own anomaly signal: at every layer3 position, the squared error between SSPCAB's output (its
 * prediction of the position from the masked context) and its input, averaged over channels —
 * `mean_c (SSPCAB(F)[y, x, c] − F[y, x, c])²` with `F` = layer3 — upsampled bilinearly to the input size,
 * optionally smoothed. Its spatial mean is the training loss's reconstruction term. One forward pass to
 * SSPCAB, no density needed. The image score of the map is its maximum.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ProjectionNet } from "../model/projection_net.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { UserError } from "../util/errors.ts";
import { gaussianBlur, resizeBilinear } from "./resample.ts";
import { imagesToTensor, trunkTo } from "./trunk.ts";
import { sspcab } from "../model/sspcab.ts";
import type { Tensor3D, Tensor4D } from "../util/tensor_types.ts";

/** Options of {@link sspcabMaps}. */
export interface SspcabMapOptions {
  /** Standard deviation in input pixels of a Gaussian smoothing after upsampling; 0 = none (default 0). */
  sigma?: number;
  /** Images per forward pass (default 16). */
  batchSize?: number;
}

/**
 * The per-position SSPCAB reconstruction error `[N, H/16, W/16]` of an NHWC batch of normalised images (eval
 * mode). Throws a {@link UserError} when the model has no SSPCAB block. The caller disposes the result.
 */
export function sspcabErrorGrid(net: ProjectionNet, x: Tensor4D): Tensor3D {
  const cfg = net.config.sspcab;
  if (!cfg) {
    throw new UserError(
      "the SSPCAB map needs a model with the SSPCAB block; this one was trained without it",
      "use --localization gradcam or patch for this model",
    );
  }
  return tf.tidy(() => {
    const f = trunkTo(net, x, "layer3");
    const s = sspcab({ params: net.params, training: false }, cfg, f);
    return tf.mean(tf.squaredDifference(s, f), 3) as Tensor3D;
  });
}

/** SSPCAB anomaly maps of equally sized images: one `height × width` `Float32Array` per image. */
export async function sspcabMaps(
  net: ProjectionNet,
  images: readonly RgbImage[],
  options: SspcabMapOptions = {},
): Promise<Float32Array[]> {
  const sigma = options.sigma ?? 0;
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const out: Float32Array[] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const { width, height } = chunk[0];
    const x = imagesToTensor(chunk);
    const grid = sspcabErrorGrid(net, x);
    const [n, h, w] = grid.shape;
    const values = await grid.data() as Float32Array;
    tf.dispose([x, grid]);
    for (let i = 0; i < n; i++) {
      const up = resizeBilinear(values.subarray(i * h * w, (i + 1) * h * w), h, w, height, width);
      out.push(sigma > 0 ? gaussianBlur(up, height, width, sigma) : up);
    }
  }
  return out;
}
