/**
 * A soak test of the training step: many ProjectionNet steps (3-way, SSPCAB on, trunk unfrozen, SGD) on the
 * active backend, sampling resident memory, the live tensor count, tensor bytes and — on `wasm` — the size of
 * the wasm heap at intervals, and judging whether they stay flat after a warm-up.
 * @module
 */
import { median } from "../util/stats.ts";
import * as tf from "@tensorflow/tfjs-core";
import { createProjectionNet, defaultProjectionNetConfig, trainableNames } from "../model/projection_net.ts";
import { disposeParams } from "../model/params.ts";
import { lossAndGradients } from "../train/gradients.ts";
import { createOptimizer } from "../train/optimizer.ts";
import { createRng } from "../util/rng.ts";

/** What to run. */
export interface SoakOptions {
  /** Training steps. */
  steps: number;
  /** Image side. */
  size: number;
  /** Items per batch (the step sees 3× as many images). */
  batch: number;
  /** Sample every this many steps (default: about 20 samples). */
  every?: number;
  /** Steps not judged (allocators and operator caches fill up first; default: a fifth, at least 5). */
  warmup?: number;
  /** Called with each sample as it is taken. */
  onSample?: (sample: SoakSample) => void;
}

/** One sample, taken after a step. */
export interface SoakSample {
  /** Steps done. */
  step: number;
  /** Seconds since the soak began. */
  elapsedS: number;
  /** Loss of the last step. */
  loss: number;
  /** Resident set size, MiB. */
  rssMb: number;
  /** V8's used JS heap, MiB. */
  jsHeapMb: number;
  /** Live tensors. */
  tensors: number;
  /** Bytes held by live tensors, MiB. */
  tensorMb: number;
  /** Size of the wasm heap, MiB (it only grows: its high-water mark); NaN on other backends. */
  wasmHeapMb: number;
}

/** The verdict on a soak run. */
export interface SoakResult {
  /** Every sample, in order. */
  samples: SoakSample[];
  /** Warm-up steps excluded from the verdict. */
  warmup: number;
  /** Whether the live tensor count was the same in every judged sample. */
  tensorsFlat: boolean;
  /**
   * RSS growth over the judged samples, MiB: the median of their last third minus the median of their first
   * third (robust to the allocator's step-to-step wobble).
   */
  rssGrowthMb: number;
  /** Whether that growth stayed within {@link RSS_TOLERANCE_MB} (or 5 % of the RSS). */
  rssFlat: boolean;
  /** Growth of the wasm heap over the judged samples, MiB (0 when not on wasm). */
  wasmHeapGrowthMb: number;
  /** Peak RSS over the whole run, MiB. */
  peakRssMb: number;
}

/** RSS may wander this much (MiB) after the warm-up before it counts as growth (allocator noise). */
export const RSS_TOLERANCE_MB = 64;

/** Size of the wasm backend's heap in MiB, or NaN when the active backend is not wasm. */
export function wasmHeapMb(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const bytes = b.wasm?.HEAPU8?.length;
  return bytes == null ? NaN : bytes / 2 ** 20;
}

/** Run the soak on the active backend (call `initBackend` first). */
export async function soakTraining(options: SoakOptions): Promise<SoakResult> {
  const { steps, size, batch } = options;
  const every = Math.max(1, options.every ?? Math.ceil(steps / 20));
  const warmup = Math.min(steps - 1, Math.max(0, options.warmup ?? Math.max(5, Math.ceil(steps / 5))));
  const net = createProjectionNet(defaultProjectionNetConfig(), 0);
  const rng = createRng(1);
  const n = 3 * batch;
  // A few different batches, cycled, so that the step sees changing data as in training.
  const batches = Array.from(
    { length: 4 },
    () => new Float32Array(n * size * size * 3).map(() => rng.normal()),
  );
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch));
  const names = trainableNames(net, false);
  const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });
  const samples: SoakSample[] = [];
  let peak = 0;
  const start = performance.now();
  try {
    for (let step = 1; step <= steps; step++) {
      const x = tf.tensor4d(batches[step % batches.length], [n, size, size, 3]);
      const y = tf.tensor1d(labels, "int32");
      const r = await lossAndGradients(net, x, y, names);
      optimizer.step(net.params, r.grads, 0.03);
      tf.dispose([x, y, r.logits, ...r.grads.values()]);
      const usage = Deno.memoryUsage();
      const rss = usage.rss / 2 ** 20;
      peak = Math.max(peak, rss);
      if (step % every === 0 || step === steps || step === warmup) {
        const memory = tf.memory();
        const sample: SoakSample = {
          step,
          elapsedS: (performance.now() - start) / 1000,
          loss: r.loss,
          rssMb: rss,
          jsHeapMb: usage.heapUsed / 2 ** 20,
          tensors: memory.numTensors,
          tensorMb: memory.numBytes / 2 ** 20,
          wasmHeapMb: wasmHeapMb(),
        };
        samples.push(sample);
        options.onSample?.(sample);
      }
    }
  } finally {
    optimizer.dispose();
    disposeParams(net.params);
  }
  const judged = samples.filter((s) => s.step >= warmup);
  const first = judged[0];
  const last = judged[judged.length - 1];
  const third = Math.max(1, Math.floor(judged.length / 3));
  const rssGrowthMb = median(judged.slice(-third).map((s) => s.rssMb)) -
    median(judged.slice(0, third).map((s) => s.rssMb));
  const heapGrowth = last.wasmHeapMb - first.wasmHeapMb;
  return {
    samples,
    warmup,
    tensorsFlat: judged.every((s) => s.tensors === first.tensors),
    rssGrowthMb,
    rssFlat: rssGrowthMb <= Math.max(RSS_TOLERANCE_MB, 0.05 * first.rssMb),
    wasmHeapGrowthMb: Number.isNaN(heapGrowth) ? 0 : heapGrowth,
    peakRssMb: peak,
  };
}
