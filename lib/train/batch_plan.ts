/**
 * Which images and which random numbers make up training step `s`, as a pure function of (seed, step): the
 * reference's data set of the category's train images repeated to `datasetLength` items, shuffled each pass,
 * batched with `drop_last`; each item (or, in patch mode, a random square crop of it) colour-jittered and
 * CutPaste-augmented. Because nothing depends on
 * history, a resumed run sees exactly the batches an uninterrupted run would have seen.
 * @module
 */
import { augmentTrainingItem, type CutPasteVariant } from "../augment/cutpaste.ts";
import { randomSquareCrop } from "../augment/patch_crop.ts";
import { toNormalizedFloat32 } from "../data/normalize.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { createRng, shuffleInPlace } from "../util/rng.ts";

/** What the batch builder needs to know. */
export interface BatchPlan {
  /** Number of distinct training images. */
  imageCount: number;
  /** Items per batch. */
  batchSize: number;
  /** Items per pass (train images repeated to this length). */
  datasetLength: number;
  /** Base seed. */
  seed: number;
  /** CutPaste variant. */
  variant: CutPasteVariant;
  /**
   * Patch-level training (the CutPaste paper's patch model): each item is first cut to a random
   * `patchSize²` crop of its image, and colour jitter and CutPaste are applied inside the crop. Unset or null:
   * whole images (and exactly the same random draws as without this option).
   */
  patchSize?: number | null;
}

/** A built batch: NHWC normalised images (`count` of them) and their class labels. */
export interface Batch {
  /** Step index. */
  step: number;
  /** Images in the batch (`batchSize` × views per item). */
  count: number;
  /** Side length. */
  size: number;
  /** Normalised pixels, NHWC. */
  pixels: Float32Array;
  /** Class label per image. */
  labels: Int32Array;
}

const mix = (a: number, b: number) =>
  (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;

/** Batches per pass (drop_last). */
export function batchesPerPass(plan: BatchPlan): number {
  const n = Math.floor(plan.datasetLength / plan.batchSize);
  if (n < 1) {
    throw new Error(`batch size ${plan.batchSize} exceeds the data set length ${plan.datasetLength}`);
  }
  return n;
}

/** Image indices of the items of step `step`. */
export function batchImageIndices(plan: BatchPlan, step: number): number[] {
  const perPass = batchesPerPass(plan);
  const pass = Math.floor(step / perPass);
  const order = Array.from({ length: plan.datasetLength }, (_, i) => i % plan.imageCount);
  shuffleInPlace(order, createRng(mix(plan.seed, pass)));
  const start = (step % perPass) * plan.batchSize;
  return order.slice(start, start + plan.batchSize);
}

/** Build step `step`'s batch from the (resized, shared, unmodified) training images. */
export function buildBatch(plan: BatchPlan, images: readonly RgbImage[], step: number): Batch {
  const rng = createRng(mix(plan.seed ^ 0x5bd1e995, step));
  const views: RgbImage[][] = [];
  const viewLabels: number[] = [];
  for (const index of batchImageIndices(plan, step)) {
    const source = plan.patchSize ? randomSquareCrop(images[index], plan.patchSize, rng) : images[index];
    const item = augmentTrainingItem(plan.variant, source, rng);
    item.images.forEach((img, v) => {
      (views[v] ??= []).push(img);
      viewLabels[v] = item.labels[v];
    });
  }
  // Reference order: all originals, then all CutPaste, then all scar (torch.cat of the per-view batches).
  const ordered = views.flat();
  const labels = new Int32Array(ordered.length);
  let k = 0;
  views.forEach((group, v) => group.forEach(() => (labels[k++] = viewLabels[v])));
  const size = plan.patchSize || images[0].width;
  return { step, count: ordered.length, size, pixels: toNormalizedFloat32(ordered), labels };
}
