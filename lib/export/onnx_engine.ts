/**
 * The native inference engine: runs a bundle's `model.onnx` with ONNX Runtime for Node (`onnxruntime-node`,
 * which ships its CPU library inside the npm package). It is an optional dependency — large (about 115 MB
 * to download, 300 MB unpacked, every platform's binaries) — so it is not in this project's imports; add it
 * with
 *
 *     deno add npm:onnxruntime-node@1.31.1
 *
 * and this module loads it on demand (a clear {@link UserError} says so when it is missing). No install
 * script is needed for the CPU engine.
 *
 * Execution providers: `cpu` always; `cuda` and `tensorrt` when the install has them — onnxruntime-node's
 * install script fetches the CUDA 12 provider libraries (`deno install --allow-scripts=npm:onnxruntime-node`
 * with network access), and they need CUDA 12 + cuDNN 9 (TensorRT 10 for `tensorrt`) on the library path.
 * The CPU provider is always appended as the fallback for operators a GPU provider does not take.
 *
 * The verdicts are those of the TensorFlow.js engine (`infer.ts`): the same {@link Prediction} objects, so
 * the same lines and JSON; each batch of images goes through in one `session.run`. A `patch` bundle's map
 * comes from its `patch_model.onnx`, run in a second session with the same options.
 * @module
 */
import { dirname, join } from "node:path";
import { loadRgb } from "../data/images.ts";
import { expandImagePaths } from "../data/image_paths.ts";
import { type FittedModel, loadFittedModel } from "../eval/fitted_model.ts";
import { scoreEmbeddings } from "../eval/density.ts";
import type { Prediction } from "../pipeline/predict.ts";
import { UserError } from "../util/errors.ts";
import { BUNDLE_FILES, type BundleMetadata, readBundleMetadata } from "./bundle_metadata.ts";
import { ANOMALY_MAP_OUTPUT } from "./graph_model.ts";
import {
  heatmapFields,
  heatmapSource,
  type InferOptions,
  loadBundlePatchMap,
  packedPatchMaps,
  requirePatchMap,
} from "./infer.ts";
import type { PatchMapBundle } from "./patch_maps.ts";
import { heatmapPaths } from "../pipeline/heatmap.ts";
import { ONNX_MODEL_FILE, type OnnxModelInfo, onnxModelInfo, readOnnxFile } from "./onnx/model_file.ts";

/** The npm package of the engine. */
export const ONNXRUNTIME_PACKAGE = "onnxruntime-node";
/** The version this project is tested with. */
export const ONNXRUNTIME_VERSION = "1.31.1";
/** The one command that adds the engine to a checkout. */
export const ONNXRUNTIME_ADD_COMMAND = `deno add npm:${ONNXRUNTIME_PACKAGE}@${ONNXRUNTIME_VERSION}`;

/** Execution providers the engine can be asked for. */
export type ExecutionProvider = "cpu" | "cuda" | "tensorrt";

/** The part of onnxruntime's `Tensor` used here. */
export interface OrtTensor {
  /** Element type (`float32`, `uint8`, `bool`, …). */
  readonly type: string;
  /** Shape. */
  readonly dims: readonly number[];
  /** Values (`Uint8Array` of 0/1 for bool). */
  readonly data: ArrayLike<number>;
}

/** The part of onnxruntime's `InferenceSession` used here. */
export interface OrtSession {
  /** Graph input names. */
  readonly inputNames: readonly string[];
  /** Graph output names. */
  readonly outputNames: readonly string[];
  /** Run the graph on named inputs, computing the named outputs (default all). */
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  /** Free the native session. */
  release(): Promise<void>;
}

/** The part of the `onnxruntime-node` module used here. */
export interface OrtModule {
  /** Session factory. */
  InferenceSession: {
    create(model: string | Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  /** Tensor constructor. */
  Tensor: new (type: string, data: Float32Array | Uint8Array, dims: readonly number[]) => OrtTensor;
  /** Runtime environment (versions). */
  env: { versions?: Record<string, string> };
}

let ortModule: Promise<OrtModule> | undefined;

/**
 * Load `onnxruntime-node` (once). Missing from the project's imports → a {@link UserError} with the command
 * that adds it; present but failing to load (e.g. a platform without prebuilt binaries) → one naming why.
 */
export function loadOnnxRuntime(): Promise<OrtModule> {
  ortModule ??= (async () => {
    // A computed specifier: type checking and `deno install` must not require the optional package.
    const specifier: string = ONNXRUNTIME_PACKAGE;
    try {
      const mod = await import(specifier);
      return (mod.default?.InferenceSession ? mod.default : mod) as OrtModule;
    } catch (err) {
      ortModule = undefined;
      const msg = (err as Error).message ?? String(err);
      if (/not a dependency|Cannot find|not found|Could not resolve|Relative import path/i.test(msg)) {
        throw new UserError(
          `the onnxruntime engine needs the optional package ${ONNXRUNTIME_PACKAGE}, which is not installed`,
          `add it once with: ${ONNXRUNTIME_ADD_COMMAND}`,
        );
      }
      throw new UserError(
        `${ONNXRUNTIME_PACKAGE} is installed but failed to load: ${msg.split("\n")[0]}`,
        `reinstall it with: ${ONNXRUNTIME_ADD_COMMAND}, or use the tfjs engine`,
      );
    }
  })();
  return ortModule;
}

/** Options of {@link createOnnxSession}. */
export interface OnnxSessionOptions {
  /** Providers in order of preference (default `["cpu"]`); `cpu` is always added last. */
  executionProviders?: readonly ExecutionProvider[];
  /** Threads inside one operator (default: onnxruntime's choice, all cores). */
  intraOpThreads?: number;
}

const PROVIDER_HELP: Record<Exclude<ExecutionProvider, "cpu">, string> = {
  cuda: "the CUDA provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9, and onnxruntime-node's CUDA " +
    "libraries (fetched by its install script: deno install --allow-scripts=npm:onnxruntime-node)",
  tensorrt: "the TensorRT provider needs what CUDA needs plus TensorRT 10 on the library path " +
    "(onnxruntime-node's install script fetches the provider library: " +
    "deno install --allow-scripts=npm:onnxruntime-node)",
};

/** Create an onnxruntime session for a model file or its bytes. */
export async function createOnnxSession(
  model: string | Uint8Array,
  options: OnnxSessionOptions = {},
): Promise<OrtSession> {
  const ort = await loadOnnxRuntime();
  const requested = options.executionProviders ?? ["cpu"];
  for (const p of requested) {
    if (!["cpu", "cuda", "tensorrt"].includes(p)) {
      throw new UserError(`unknown execution provider "${p}"`, "use cpu, cuda or tensorrt");
    }
  }
  const providers = [...new Set([...requested.filter((p) => p !== "cpu"), "cpu"])];
  const sessionOptions: Record<string, unknown> = {
    executionProviders: providers,
    graphOptimizationLevel: "all",
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
  };
  try {
    return await ort.InferenceSession.create(model, sessionOptions);
  } catch (err) {
    const msg = ((err as Error).message ?? String(err)).split("\n")[0];
    const gpu = providers.find((p) => p !== "cpu") as Exclude<ExecutionProvider, "cpu"> | undefined;
    if (gpu) {
      throw new UserError(
        `onnxruntime could not start the ${gpu} execution provider: ${msg}`,
        `${PROVIDER_HELP[gpu]}; or run on cpu`,
      );
    }
    const where = typeof model === "string" ? model : "the ONNX model";
    throw new UserError(`onnxruntime could not load ${where}: ${msg}`, "export the model again");
  }
}

/** A bundle loaded for the onnxruntime engine. */
export interface OnnxBundle {
  /** The session. */
  session: OrtSession;
  /** The bundle's metadata. */
  metadata: BundleMetadata;
  /** The fitted density (scores a KDE bundle, whose graph has no `score`). */
  fitted: FittedModel;
  /** What the model file says about itself. */
  info: OnnxModelInfo;
  /** Path of `model.onnx`. */
  modelPath: string;
  /** The patch model (`patch_model.onnx`) of a bundle whose map is `patch`, loaded by {@link loadOnnxBundle}. */
  patch?: PatchMapBundle;
}

/** Options of {@link loadOnnxBundle}: the session's, for both sessions. */
export interface LoadOnnxBundleOptions extends OnnxSessionOptions {
  /** Load the patch model of a `patch` bundle (default true; without it the bundle draws no map). */
  patchMap?: boolean;
}

/**
 * Load a bundle's `model.onnx` (plus metadata and density) into an onnxruntime session; a bundle whose map is
 * `patch` also gets its `patch_model.onnx` in a second session with the same options. Free both with
 * {@link releaseOnnxBundle}.
 */
export async function loadOnnxBundle(dir: string, options: LoadOnnxBundleOptions = {}): Promise<OnnxBundle> {
  const { patchMap: withPatch = true, ...sessionOptions } = options;
  const metadata = await readBundleMetadata(dir);
  if (metadata.formats && !metadata.formats.includes("onnx")) {
    throw new UserError(
      `${join(dir, BUNDLE_FILES.metadata)}: this bundle holds no ONNX model (${
        metadata.formats.join(", ")
      } only)`,
      "export again with `deno task export --format onnx` (or all), or run it with the tfjs engine",
    );
  }
  const modelPath = join(dir, metadata.onnx?.file ?? ONNX_MODEL_FILE);
  const bytes = await readOnnxFile(modelPath);
  const info = onnxModelInfo(bytes, modelPath);
  if (info.height !== metadata.imageSize || info.width !== metadata.imageSize) {
    throw new UserError(
      `${modelPath} takes ${info.height}x${info.width} images, but ${
        join(dir, BUNDLE_FILES.metadata)
      } says ${metadata.imageSize}`,
      "the files come from different exports — export the model again",
    );
  }
  const fitted = await loadFittedModel(join(dir, BUNDLE_FILES.density));
  const patch = withPatch
    ? await loadBundlePatchMap(dir, metadata, fitted, { engine: "onnxruntime", onnx: sessionOptions })
    : undefined;
  try {
    const session = await createOnnxSession(bytes, sessionOptions);
    return { session, metadata, fitted, info, modelPath, ...(patch ? { patch } : {}) };
  } catch (err) {
    await patch?.dispose();
    throw err;
  }
}

/** Free a bundle loaded by {@link loadOnnxBundle}: its session and the patch model's. */
export async function releaseOnnxBundle(bundle: OnnxBundle): Promise<void> {
  await bundle.session.release();
  await bundle.patch?.dispose();
}

/** Raw outputs of one batch. */
export interface OnnxBatchOutputs {
  /** Embeddings, `n × 512` row-major. */
  embedding: Float32Array;
  /** Scores (absent when the graph has no `score`). */
  score?: Float32Array;
  /** Labels, 1 = anomalous (absent when the graph has no `pred_label`). */
  predLabel?: Uint8Array;
  /**
   * Per-pixel anomaly maps, `n × H × W` row-major: SSPCAB's reconstruction error (absent when the graph has no
   * `anomaly_map`, i.e. the model has no SSPCAB).
   */
  anomalyMap?: Float32Array;
}

/**
 * Run one batch of raw RGB pixels (`n × H × W × 3`, 0…255; uint8 or float values) through the session in
 * one call. `anomalyMap: false` leaves the map out (onnxruntime then skips its nodes).
 */
export async function runOnnxBatch(
  bundle: Pick<OnnxBundle, "session" | "info">,
  pixels: Uint8Array | Float32Array,
  n: number,
  options: { anomalyMap?: boolean } = {},
): Promise<OnnxBatchOutputs> {
  const ort = await loadOnnxRuntime();
  const { height, width, inputType, outputs } = bundle.info;
  if (pixels.length !== n * height * width * 3) {
    throw new Error(`runOnnxBatch: ${pixels.length} values for ${n} images of ${height}x${width}x3`);
  }
  const data = inputType === "uint8"
    ? (pixels instanceof Uint8Array ? pixels : Uint8Array.from(pixels))
    : (pixels instanceof Float32Array ? pixels : Float32Array.from(pixels));
  const image = new ort.Tensor(inputType, data, [n, height, width, 3]);
  const withMap = (options.anomalyMap ?? true) && outputs.includes(ANOMALY_MAP_OUTPUT);
  const fetches = outputs.filter((o) => withMap || o !== ANOMALY_MAP_OUTPUT);
  const out = await bundle.session.run({ image }, fetches);
  return {
    embedding: Float32Array.from(out.embedding.data),
    ...(outputs.includes("score") ? { score: Float32Array.from(out.score.data) } : {}),
    ...(outputs.includes("pred_label") ? { predLabel: Uint8Array.from(out.pred_label.data) } : {}),
    ...(withMap ? { anomalyMap: Float32Array.from(out[ANOMALY_MAP_OUTPUT].data) } : {}),
  };
}

/**
 * Score images with a loaded ONNX bundle, `batchSize` at a time (each batch in one call): the graph's own
 * `score` and `pred_label` for a Gaussian density; for a KDE bundle the embedding is scored in float64 with
 * the bundle's density, as the tfjs engine does.
 */
export async function inferImagesOnnx(
  bundle: OnnxBundle,
  inputs: string[],
  options: InferOptions = {},
): Promise<Prediction[]> {
  const paths = await expandImagePaths(inputs);
  const dir = dirname(bundle.modelPath);
  const map = options.heatmap !== undefined ? heatmapSource(bundle.metadata, dir) : null;
  const patch = map?.method === "patch" ? requirePatchMap(bundle, dir) : undefined;
  if (map && !patch && !bundle.info.outputs.includes(ANOMALY_MAP_OUTPUT)) {
    throw new UserError(
      `${bundle.modelPath} has no ${ANOMALY_MAP_OUTPUT} output`,
      "export the bundle again with `deno task export --format onnx`",
    );
  }
  const names = options.heatmap !== undefined ? heatmapPaths("", paths) : [];
  const { height, width } = bundle.info;
  const per = height * width * 3;
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const threshold = bundle.metadata.threshold;
  const out: Prediction[] = [];
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const images = await Promise.all(
      chunk.map((p) => loadRgb(p, { width, height }, { maxPixels: options.maxPixels })),
    );
    const pixels = new Uint8Array(chunk.length * per);
    images.forEach((img, i) => pixels.set(img.data, i * per));
    const res = await runOnnxBatch(bundle, pixels, chunk.length, { anomalyMap: map !== null && !patch });
    const scores = res.score ?? scoreEmbeddings(bundle.fitted.density, res.embedding, chunk.length);
    const maps = patch ? await packedPatchMaps(patch, images) : res.anomalyMap;
    const fields = map
      ? await heatmapFields(map, options.heatmap!, chunk, names.slice(start), images, maps!)
      : [];
    chunk.forEach((path, i) => {
      const score = Number(scores[i]);
      out.push({
        path,
        score,
        threshold,
        anomalous: res.predLabel ? res.predLabel[i] === 1 : score >= threshold,
        ...(fields[i] ?? {}),
      });
    });
  }
  return out;
}
