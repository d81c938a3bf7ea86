/**
 * The training batch source: builds batches in a web worker and keeps `prefetch` of them in flight, so the
 * reader cost seen by the training loop is only the wait for a batch that is not ready yet. Falls back to
 * building on the main thread when workers are unavailable.
 * @module
 */
import { type Batch, type BatchPlan, buildBatch } from "./batch_plan.ts";
import type { RgbImage } from "../data/rgb_image.ts";

/** A source of training batches by step. */
export interface BatchSource {
  /** The batch of `step` (steps must be requested in increasing order). */
  get(step: number): Promise<Batch>;
  /** Stop the worker. */
  close(): void;
}

/** Start a batch source over resized training images; `prefetch` batches are built ahead. */
export function createBatchSource(
  plan: BatchPlan,
  images: readonly RgbImage[],
  options: { prefetch?: number; useWorker?: boolean } = {},
): BatchSource {
  const prefetch = Math.max(1, options.prefetch ?? 2);
  if (options.useWorker === false || typeof Worker === "undefined") {
    return { get: (step) => Promise.resolve(buildBatch(plan, images, step)), close: () => {} };
  }
  const worker = new Worker(new URL("./batch_worker.ts", import.meta.url).href, { type: "module" });
  worker.postMessage({ type: "init", plan, images });
  const pending = new Map<
    number,
    { resolve: (b: Batch) => void; reject: (e: Error) => void; promise: Promise<Batch> }
  >();
  let nextRequested = -1;
  let closed = false;
  let failure: Error | undefined;

  worker.onmessage = (event: MessageEvent) => {
    const msg = event.data;
    if (msg.type === "batch") pending.get(msg.batch.step)?.resolve(msg.batch);
    else if (msg.type === "error") pending.get(msg.step)?.reject(new Error(`batch worker: ${msg.message}`));
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    failure = new Error(`batch worker crashed: ${event.message}`);
    for (const p of pending.values()) p.reject(failure);
  };

  const request = (step: number) => {
    if (pending.has(step)) return;
    let resolve!: (b: Batch) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Batch>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    pending.set(step, { resolve, reject, promise });
    worker.postMessage({ type: "build", step });
  };

  return {
    async get(step) {
      if (closed) throw new Error("batch source is closed");
      if (failure) throw failure;
      if (step > nextRequested) nextRequested = step - 1;
      while (nextRequested < step + prefetch - 1) request(++nextRequested);
      request(step);
      const batch = await pending.get(step)!.promise;
      pending.delete(step);
      for (const s of [...pending.keys()]) if (s < step) pending.delete(s);
      return batch;
    },
    close() {
      closed = true;
      worker.terminate();
    },
  };
}
