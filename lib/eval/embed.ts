/**
 * Embedding images with a ProjectionNet (eval mode): batches of resized RGB images → rows of 512 floats.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type ProjectionNet, projectionNetEmbed } from "../model/projection_net.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { toNormalizedFloat32 } from "../data/normalize.ts";
import { createMatrix, type Matrix } from "./linalg.ts";

/** Embed images (all of the same size) in batches; returns an `n × 512` matrix. */
export async function embedImages(
  net: ProjectionNet,
  images: readonly RgbImage[],
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Matrix> {
  const batchSize = Math.max(1, options.batchSize ?? 32);
  let out: Float64Array | undefined;
  let dim = 0;
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const { width, height } = chunk[0];
    const x = tf.tensor4d(toNormalizedFloat32(chunk), [chunk.length, height, width, 3]);
    const e = projectionNetEmbed(net, x);
    const values = await e.data();
    dim = e.shape[1];
    tf.dispose([x, e]);
    out ??= new Float64Array(images.length * dim);
    out.set(values, start * dim);
    options.onProgress?.(Math.min(images.length, start + batchSize), images.length);
  }
  return createMatrix(images.length, dim, out ?? new Float64Array(0));
}
