/**
 * Timing of the ProjectionNet workloads on the active backend: one 3-way training step (forward + backward +
 * SGD, trunk unfrozen, SSPCAB on) and one eval-mode embedding pass, with peak RSS and the live tensor count.
 * @module
 */
import { median } from "../util/stats.ts";
import * as tf from "@tensorflow/tfjs-core";
import { createProjectionNet, defaultProjectionNetConfig, trainableNames } from "../model/projection_net.ts";
import { disposeParams } from "../model/params.ts";
import { lossAndGradients } from "../train/gradients.ts";
import { createOptimizer } from "../train/optimizer.ts";
import { embedImages } from "../eval/embed.ts";
import { createRgbImage } from "../data/rgb_image.ts";
import { createRng } from "../util/rng.ts";

/** What to measure. */
export interface MeasureOptions {
  /** Image side. */
  size: number;
  /** Items per training batch (the step sees 3× as many images); also the embedding batch. */
  batch: number;
  /** Measured repetitions (after one warm-up). */
  steps: number;
  /** Skip the training step (e.g. on a backend where it takes hours). */
  forwardOnly?: boolean;
}

/** Measured figures (seconds are medians). */
export interface Measurement {
  /** Median seconds per training step (NaN when skipped). */
  trainStepS: number;
  /** Median seconds per embedding pass of `batch` images. */
  forwardS: number;
  /** Images per training step. */
  trainImages: number;
  /** Images per embedding pass. */
  forwardImages: number;
  /** Peak resident memory seen, MiB. */
  peakRssMb: number;
  /** Live tensors after each training step (flat when nothing leaks). */
  tensorCounts: number[];
}

/** Run the measurement on the active backend (call `initBackend` first). */
export async function measureWorkloads(options: MeasureOptions): Promise<Measurement> {
  const { size, batch, steps } = options;
  let peak = Deno.memoryUsage().rss;
  const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));
  const net = createProjectionNet(defaultProjectionNetConfig(), 0);
  const rng = createRng(1);
  const n = 3 * batch;
  const pixels = new Float32Array(n * size * size * 3).map(() => rng.normal());
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch));
  const names = trainableNames(net, false);
  const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });
  const train: number[] = [];
  const tensorCounts: number[] = [];
  if (!options.forwardOnly) {
    for (let i = 0; i <= steps; i++) {
      const t = performance.now();
      const x = tf.tensor4d(pixels, [n, size, size, 3]);
      const y = tf.tensor1d(labels, "int32");
      const r = await lossAndGradients(net, x, y, names);
      optimizer.step(net.params, r.grads, 0.03);
      await r.logits.data();
      tf.dispose([x, y, r.logits, ...r.grads.values()]);
      if (i) train.push((performance.now() - t) / 1000);
      tensorCounts.push(tf.memory().numTensors);
      sample();
    }
  }
  const images = Array.from({ length: batch }, () => {
    const img = createRgbImage(size, size);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(0, 255);
    return img;
  });
  const forward: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    await embedImages(net, images, { batchSize: batch });
    if (i) forward.push((performance.now() - t) / 1000);
    sample();
  }
  optimizer.dispose();
  disposeParams(net.params);
  return {
    trainStepS: median(train),
    forwardS: median(forward),
    trainImages: n,
    forwardImages: batch,
    peakRssMb: peak / 2 ** 20,
    tensorCounts,
  };
}
