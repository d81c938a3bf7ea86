/**
 * How the app server scores images: one small interface, {@link ScoringEngine}, with two implementations —
 * the TensorFlow.js graph model (`model.json`, the default) and ONNX Runtime on the bundle's `model.onnx`
 * (`--engine onnxruntime`, optional package `onnxruntime-node`). Both score the embedding in float64 with
 * the bundle's density, so the two give the same numbers up to float32 rounding of the forward pass.
 * @module
 */
import { join } from "node:path";
import type { RgbImage } from "../data/images.ts";
import {
  INFERENCE_ENGINES,
  type InferenceBundle,
  loadBundle,
  packImages,
  runBundleBatch,
} from "../export/infer.ts";
import {
  type ExecutionProvider,
  loadOnnxBundle,
  type OnnxBundle,
  runOnnxBatch,
} from "../export/onnx_engine.ts";
import { ONNX_MODEL_FILE } from "../export/onnx/model_file.ts";
import { BUNDLE_FILES, type BundleMetadata, readBundleMetadata } from "../export/bundle_metadata.ts";
import { scoreEmbeddings } from "../eval/density.ts";
import { UserError } from "../util/errors.ts";

/** The engines the server can run. */
export type EngineName = typeof INFERENCE_ENGINES[number];

/** Per-pixel anomaly maps of a batch: `n × height × width` row-major. */
export interface AnomalyMaps {
  /** Values. */
  data: Float32Array;
  /** Map height. */
  height: number;
  /** Map width. */
  width: number;
}

/** What one batch gives: a score per image, and the maps when the model has them. */
export interface EngineOutput {
  /** Anomaly scores, one per image. */
  scores: Float64Array;
  /** Anomaly maps (absent when the bundle has no map output). */
  maps?: AnomalyMaps;
}

/** Scores batches of images already resized to the bundle's side, for one bundle. */
export interface ScoringEngine {
  /** Which engine this is. */
  readonly name: EngineName;
  /** The bundle's metadata. */
  readonly metadata: BundleMetadata;
  /** Score a batch (and compute its anomaly maps when the bundle has them). */
  score(images: RgbImage[]): Promise<EngineOutput>;
  /** Release the model. */
  dispose(): Promise<void>;
}

/** Options of {@link loadScoringEngine}. */
export interface EngineOptions {
  /** Engine (default tfjs). */
  engine?: EngineName;
  /** onnxruntime execution provider (default cpu; ignored by tfjs). */
  executionProvider?: ExecutionProvider;
}

/** The TensorFlow.js engine over a loaded bundle. */
export function tfjsEngine(bundle: InferenceBundle): ScoringEngine {
  const size = bundle.metadata.imageSize;
  return {
    name: "tfjs",
    metadata: bundle.metadata,
    async score(images) {
      // Scores and maps from one forward pass.
      const { scores, maps } = await runBundleBatch(bundle, images, { maps: true });
      return maps
        ? { scores: scores!, maps: { data: maps, height: size, width: size } }
        : { scores: scores! };
    },
    dispose() {
      bundle.model.dispose();
      return Promise.resolve();
    },
  };
}

/** The onnxruntime engine over a loaded ONNX bundle. */
export function onnxEngine(bundle: OnnxBundle): ScoringEngine {
  const { height, width } = bundle.info;
  return {
    name: "onnxruntime",
    metadata: bundle.metadata,
    async score(images) {
      const n = images.length;
      const out = await runOnnxBatch(bundle, packImages(images, height, "onnx engine"), n);
      // As the tfjs engine: the float32 embedding scored in float64 with the bundle's density.
      const scores = scoreEmbeddings(bundle.fitted.density, out.embedding, n);
      if (!out.anomalyMap) return { scores };
      if (out.anomalyMap.length !== n * height * width) {
        throw new RangeError(
          `model.onnx gave ${out.anomalyMap.length} map values for ${n} ${height}x${width} images`,
        );
      }
      return { scores, maps: { data: out.anomalyMap, height, width } };
    },
    dispose() {
      return bundle.session.release();
    },
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

/**
 * Load the engine for the bundle in `dir`. The onnxruntime engine needs the bundle's `model.onnx`: a bundle
 * without it is a {@link UserError} naming the file and the export that writes it; a missing
 * `onnxruntime-node` is the engine's own UserError.
 */
export async function loadScoringEngine(dir: string, options: EngineOptions = {}): Promise<ScoringEngine> {
  const engine = options.engine ?? "tfjs";
  // The app shows only a graph's own anomaly_map (the page runs model.json itself): a patch bundle is served
  // with scores and no map (its summary says has_anomaly_map false), so its patch model is not loaded.
  if (engine === "tfjs") return tfjsEngine(await loadBundle(dir, { patchMap: false }));
  if (engine !== "onnxruntime") {
    throw new UserError(`unknown engine "${engine}"`, `use ${INFERENCE_ENGINES.join(" or ")}`);
  }
  const metadata = await readBundleMetadata(dir);
  const onnxPath = join(dir, metadata.onnx?.file ?? ONNX_MODEL_FILE);
  if ((metadata.formats && !metadata.formats.includes("onnx")) || !await isFile(onnxPath)) {
    throw new UserError(
      `the onnxruntime engine needs ${onnxPath}, which this bundle does not have (${
        join(dir, BUNDLE_FILES.metadata)
      } lists ${(metadata.formats ?? ["tfjs"]).join(", ")} only)`,
      "export the bundle again with `deno task export --format onnx` (or `--format all`, which keeps the " +
        "in-browser model too), or serve it with `--engine tfjs`",
    );
  }
  return onnxEngine(
    await loadOnnxBundle(dir, { executionProviders: [options.executionProvider ?? "cpu"], patchMap: false }),
  );
}
