/**
 * Web worker that builds training batches (colour jitter, CutPaste, normalisation) off the main thread, so
 * data preparation overlaps the network's compute. Protocol: `{ type: "init", plan, images }` once, then
 * `{ type: "build", step }` → `{ type: "batch", batch }` (pixel buffers transferred, not copied).
 * @module
 */
/// <reference lib="deno.worker" />
import { type BatchPlan, buildBatch } from "./batch_plan.ts";
import type { RgbImage } from "../data/rgb_image.ts";

let plan: BatchPlan | undefined;
let images: RgbImage[] = [];

self.onmessage = (event: MessageEvent) => {
  const msg = event.data;
  try {
    if (msg.type === "init") {
      plan = msg.plan;
      images = msg.images;
      return;
    }
    if (msg.type === "build") {
      if (!plan) throw new Error("batch worker used before init");
      const batch = buildBatch(plan, images, msg.step);
      self.postMessage({ type: "batch", batch }, [
        batch.pixels.buffer as ArrayBuffer,
        batch.labels.buffer as ArrayBuffer,
      ]);
    }
  } catch (err) {
    self.postMessage({ type: "error", step: msg.step, message: (err as Error).message });
  }
};
