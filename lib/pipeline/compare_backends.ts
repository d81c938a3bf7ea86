/**
 * Run one exported bundle on each compute backend in turn and time it: the numbers behind the notebook's
 * backend comparison (same predictions everywhere, latency per backend).
 * @module
 */
import { type BackendChoice, type BackendInfo, initBackend } from "../backend/mod.ts";
import { inferImages, loadBundle } from "../export/infer.ts";
import type { Prediction } from "./predict.ts";
import { median } from "../util/stats.ts";

/** One backend's run of the bundle in {@link compareBackends}. */
export interface BackendRun {
  /** Backend asked for. */
  backend: string;
  /** Whether it started. */
  available: boolean;
  /** The device (when available) or why it is not available. */
  device: string;
  /** Milliseconds to load the bundle onto the backend. */
  loadMs: number;
  /** Median milliseconds per image (one image per call: decode, resize, graph, score). */
  medianMs: number;
  /** Each timed run, ms. */
  timesMs: number[];
  /** The bundle's predictions for every image (one at a time). */
  predictions: Prediction[];
}

/** Options of {@link compareBackends}. */
export interface CompareBackendsOptions {
  /** The exported bundle's folder. */
  bundleDir: string;
  /** Images to score on every backend; the first one is also timed. */
  images: readonly string[];
  /** Backends to try (default: the active one, then wasm, cpu, webgpu). */
  backends?: readonly BackendChoice[];
  /** Timed runs per backend (default 5; at least 2, fewer when `budgetMs` runs out). */
  runs?: number;
  /** Time budget of the timed runs per backend in ms (default 15000). */
  budgetMs?: number;
  /** The backend to return to at the end (default: the one active at the start). */
  restore?: BackendChoice;
}

/**
 * Run the bundle on each backend in turn: switch (`initBackend`), load the bundle, score every image once
 * (one image per call — this also warms the backend up: shader compilation, kernel set-up), then time
 * `runs` single-image inferences of the first image and keep the median. A backend that cannot start here
 * is reported with the reason. The starting backend is restored at the end.
 */
export async function compareBackends(options: CompareBackendsOptions): Promise<BackendRun[]> {
  const start = await initBackend("auto");
  const wanted = options.backends ??
    [start.name as BackendChoice, "wasm", "cpu", "webgpu"];
  const backends = [...new Set(wanted)];
  const runs = Math.max(2, options.runs ?? 5);
  const budget = options.budgetMs ?? 15000;
  const out: BackendRun[] = [];
  try {
    for (const backend of backends) {
      let info: BackendInfo;
      try {
        info = await initBackend(backend);
      } catch (err) {
        out.push({
          backend,
          available: false,
          device: (err as Error).message.split("\n")[0],
          loadMs: NaN,
          medianMs: NaN,
          timesMs: [],
          predictions: [],
        });
        continue;
      }
      const t0 = performance.now();
      const bundle = await loadBundle(options.bundleDir, { patchMap: false });
      const loadMs = performance.now() - t0;
      try {
        const predictions = await inferImages(bundle, [...options.images], { batchSize: 1 });
        const timesMs: number[] = [];
        let spent = 0;
        while (timesMs.length < runs && (timesMs.length < 2 || spent < budget)) {
          const t = performance.now();
          await inferImages(bundle, [options.images[0]], { batchSize: 1 });
          timesMs.push(performance.now() - t);
          spent += timesMs[timesMs.length - 1];
        }
        out.push({
          backend: info.name,
          available: true,
          device: info.device,
          loadMs,
          medianMs: median(timesMs),
          timesMs,
          predictions,
        });
      } finally {
        bundle.model.dispose();
      }
    }
  } finally {
    await initBackend(options.restore ?? (start.name as BackendChoice));
  }
  return out;
}
