/**
 * The inspection app's server: one `Deno.serve` process that serves the page (which runs the model in the
 * browser) and a JSON API over one or more exported bundles.
 *
 * - `GET /healthz` → `{status: "ok", models}`.
 * - `GET /api/models` → `{models: [ModelSummary…], engine}` (category, image size, threshold, training
 *   summary; `engine`: `tfjs` or `onnxruntime`, what scores `/api/predict`).
 * - `POST /api/predict?model=<name>` with a PNG/JPEG body (raw, `?name=` labels it), or `multipart/form-data`
 *   with one or more image parts → one result `{image, model, pred_score, pred_label, verdict, threshold,
 *   timing_ms}` for a raw body, `{model, results: [...]}` for multipart. `anomaly_map_png` (a data URL) is
 *   present only when the bundle outputs an anomaly map.
 * - The page: `/`, `/app.js`, `/style.css`, `/wasm/*.wasm`, `/models/index.json`, `/models/<name>/<file>`.
 *
 * Bad requests get `{error, status}` with 400 (bad model name or request), 404 (unknown model or path),
 * 405, 413 (over the byte or pixel limit), 415 (not a PNG/JPEG) or 422 (corrupt or truncated image); an
 * unexpected failure is a 500 with a generic message, never a stack trace. Models are loaded once;
 * forward passes run one at a time, concurrent requests' images batched together, and every tensor is
 * disposed.
 * @module
 */
import sharp from "sharp";
import { join } from "node:path";
import { decodeRgb, type RgbImage } from "../data/images.ts";
import { isUserError } from "../util/errors.ts";
import { imageDimensions, sniffImageFormat } from "./image_sniff.ts";
import type { AnomalyMaps, EngineName, EngineOptions } from "./engine.ts";
import { disposeServedModels, isValidModelName, loadServedModels, type ServedModel } from "./models.ts";
import { buildPageAssets, mediaType, type StaticAsset } from "./assets.ts";

/** Limits on what one request may carry. */
export interface RequestLimits {
  /** Largest request body in bytes (default 32 MiB). */
  maxBytes: number;
  /** Largest image in pixels, width × height (default 40 megapixels). */
  maxPixels: number;
  /** Most images in one multipart request (default 64). */
  maxImages: number;
  /** Images per forward pass (default 8). */
  batchSize: number;
}

/** Default {@link RequestLimits}. */
export const DEFAULT_LIMITS: RequestLimits = {
  maxBytes: 32 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxImages: 64,
  batchSize: 8,
};

/** One prediction as the API returns it. */
export interface PredictionResult {
  /** The image's name (multipart file name, `?name=`, or `image`). */
  image: string;
  /** The model that scored it. */
  model: string;
  /** Anomaly score (Mahalanobis distance for a Gaussian density). */
  pred_score: number;
  /** 1 = anomalous (score ≥ threshold), 0 = normal. */
  pred_label: 0 | 1;
  /** `anomalous` or `normal`. */
  verdict: "anomalous" | "normal";
  /** The bundle's threshold. */
  threshold: number;
  /** A PNG data URL of the anomaly map; only present when the bundle outputs one. */
  anomaly_map_png?: string;
  /** Milliseconds spent on this image: its decode plus its share of the forward pass. */
  timing_ms: number;
}

/** An error answered with a status and a JSON body. */
export class HttpError extends Error {
  /** Create one; `message` is shown to the client. */
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function errorResponse(status: number, message: string): Response {
  return json({ error: message, status }, status);
}

/** Read a request body, refusing (413) more than `maxBytes`. */
async function readBody(req: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, `request body of ${declared} bytes is over the limit of ${maxBytes} bytes`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, `request body is over the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** An uploaded image, decoded and resized for its model. */
interface DecodedUpload {
  name: string;
  image: RgbImage;
  decodeMs: number;
}

/** Check and decode one upload: 415 not PNG/JPEG, 413 over the pixel limit, 422 corrupt or truncated. */
async function decodeUpload(
  bytes: Uint8Array,
  name: string,
  size: number,
  limits: RequestLimits,
): Promise<DecodedUpload> {
  const started = performance.now();
  if (bytes.byteLength === 0) throw new HttpError(400, `image "${name}" is empty`);
  const format = sniffImageFormat(bytes);
  if (!format) throw new HttpError(415, `"${name}" is not a PNG or JPEG image`);
  const dims = imageDimensions(bytes, format);
  if (!dims) throw new HttpError(422, `${format.toUpperCase()} image "${name}" is corrupt or truncated`);
  if (dims.width * dims.height > limits.maxPixels) {
    throw new HttpError(
      413,
      `image "${name}" is ${dims.width}x${dims.height} pixels, over the limit of ${limits.maxPixels} pixels`,
    );
  }
  try {
    const image = await decodeRgb(bytes, name, size, { maxPixels: limits.maxPixels });
    return { name, image, decodeMs: performance.now() - started };
  } catch (err) {
    if (isUserError(err)) {
      throw new HttpError(422, `${format.toUpperCase()} image "${name}" is corrupt or truncated`);
    }
    throw err;
  }
}

/** Encode an anomaly map (values 0..1 scaled to 0..255, one channel) as a PNG data URL. */
async function mapToPngDataUrl(values: Float32Array, height: number, width: number): Promise<string> {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = max > 0 ? Math.round((values[i] / max) * 255) : 0;
  const png = await sharp(bytes, { raw: { width, height, channels: 1 } }).toColourspace("b-w").png()
    .toBuffer();
  return `data:image/png;base64,${btoa(String.fromCharCode(...new Uint8Array(png)))}`;
}

/** The PNG data URLs of a batch's anomaly maps. */
async function mapsToPng(maps: AnomalyMaps, n: number): Promise<string[]> {
  const { data, height: h, width: w } = maps;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await mapToPngDataUrl(data.subarray(i * h * w, (i + 1) * h * w), h, w));
  }
  return out;
}

/** The scores (and maps) of one request's images, and its share of the forward pass time. */
interface BatchOutput {
  scores: Float64Array;
  maps?: string[];
  ms: number;
}

/** Images waiting for a forward pass. */
interface BatchJob {
  model: ServedModel;
  images: RgbImage[];
  resolve: (out: BatchOutput) => void;
  reject: (err: unknown) => void;
}

/** What the request handler serves. */
export interface AppHandlerOptions {
  /** The loaded bundles. */
  models: ServedModel[];
  /** The page's static files. */
  assets: Map<string, StaticAsset>;
  /** Request limits (defaults: {@link DEFAULT_LIMITS}). */
  limits?: Partial<RequestLimits>;
  /** Called with a line per failed request (status and message). */
  log?: (line: string) => void;
  /** The engine the models run on, as `/api/models` reports it (default tfjs). */
  engine?: EngineName;
}

/** Build the request handler (no socket: usable with `Deno.serve` or called directly). */
export function createAppHandler(options: AppHandlerOptions): (req: Request) => Promise<Response> {
  const limits: RequestLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const byName = new Map(options.models.map((m) => [m.name, m]));
  const log = options.log ?? (() => {});
  const engineName = options.engine ?? "tfjs";
  // Forward passes run one at a time; images of requests that arrive meanwhile for the same model are
  // gathered into the next pass (up to batchSize images), so concurrent clients share batches.
  const jobs: BatchJob[] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    try {
      while (jobs.length > 0) {
        const first = jobs.shift()!;
        const group = [first];
        let count = first.images.length;
        for (let i = 0; i < jobs.length && count < limits.batchSize;) {
          const j = jobs[i];
          if (j.model === first.model && count + j.images.length <= limits.batchSize) {
            group.push(j);
            count += j.images.length;
            jobs.splice(i, 1);
          } else i++;
        }
        const images = group.flatMap((j) => j.images);
        try {
          const t0 = performance.now();
          const { scores, maps: raw } = await first.model.engine.score(images);
          const maps = raw ? await mapsToPng(raw, images.length) : undefined;
          const ms = performance.now() - t0;
          let o = 0;
          for (const j of group) {
            const n = j.images.length;
            j.resolve({ scores: scores.slice(o, o + n), maps: maps?.slice(o, o + n), ms: (ms * n) / count });
            o += n;
          }
        } catch (err) {
          for (const j of group) j.reject(err);
        }
      }
    } finally {
      draining = false;
    }
  };
  const runBatched = (model: ServedModel, images: RgbImage[]): Promise<BatchOutput> =>
    new Promise((resolve, reject) => {
      jobs.push({ model, images, resolve, reject });
      if (!draining) drain();
    });
  const modelList = () => options.models.map((m) => m.summary);

  function pickModel(url: URL): ServedModel {
    const name = url.searchParams.get("model");
    if (name === null || name === "") {
      if (options.models.length === 1) return options.models[0];
      throw new HttpError(400, `pass ?model=<name>; one of: ${[...byName.keys()].join(", ")}`);
    }
    if (name.includes("/") || name.includes("\\") || name.includes("..") || !isValidModelName(name)) {
      throw new HttpError(400, `model name ${JSON.stringify(name)} is not a valid name`);
    }
    const model = byName.get(name);
    if (!model) {
      throw new HttpError(404, `no model named "${name}"; known: ${[...byName.keys()].join(", ")}`);
    }
    return model;
  }

  async function predict(req: Request, url: URL): Promise<Response> {
    const model = pickModel(url);
    const body = await readBody(req, limits.maxBytes);
    const contentType = req.headers.get("content-type") ?? "";
    const multipart = contentType.toLowerCase().startsWith("multipart/form-data");
    const uploads: { name: string; bytes: Uint8Array }[] = [];
    if (multipart) {
      let form: FormData;
      try {
        form = await new Response(body, { headers: { "content-type": contentType } }).formData();
      } catch {
        throw new HttpError(400, "the multipart/form-data body cannot be parsed");
      }
      let index = 0;
      for (const [, value] of form.entries()) {
        if (typeof value === "string") continue;
        index++;
        uploads.push({
          name: value.name || `image-${index}`,
          bytes: new Uint8Array(await value.arrayBuffer()),
        });
      }
      if (uploads.length === 0) throw new HttpError(400, "the multipart body holds no file part");
      if (uploads.length > limits.maxImages) {
        throw new HttpError(
          413,
          `${uploads.length} images in one request, over the limit of ${limits.maxImages}`,
        );
      }
    } else {
      uploads.push({ name: url.searchParams.get("name") || "image", bytes: body });
    }
    const size = model.summary.image_size;
    const decoded: DecodedUpload[] = [];
    for (const u of uploads) decoded.push(await decodeUpload(u.bytes, u.name, size, limits));
    const results: PredictionResult[] = [];
    for (let start = 0; start < decoded.length; start += limits.batchSize) {
      const chunk = decoded.slice(start, start + limits.batchSize);
      const { scores, maps, ms } = await runBatched(model, chunk.map((d) => d.image));
      chunk.forEach((d, i) => {
        const score = scores[i];
        const threshold = model.summary.threshold;
        const anomalous = score >= threshold;
        const result: PredictionResult = {
          image: d.name,
          model: model.name,
          pred_score: score,
          pred_label: anomalous ? 1 : 0,
          verdict: anomalous ? "anomalous" : "normal",
          threshold,
          timing_ms: Math.round((d.decodeMs + ms / chunk.length) * 1000) / 1000,
        };
        if (maps) result.anomaly_map_png = maps[i];
        results.push(result);
      });
    }
    return multipart ? json({ model: model.name, results }) : json(results[0]);
  }

  async function serveBundleFile(name: string, file: string): Promise<Response> {
    if (!isValidModelName(name)) throw new HttpError(400, `model name ${JSON.stringify(name)} is not valid`);
    const model = byName.get(name);
    if (!model) throw new HttpError(404, `no model named "${name}"`);
    if (!model.summary.files.includes(file)) {
      throw new HttpError(404, `model "${name}" has no file "${file}"`);
    }
    const body = await Deno.readFile(join(model.dir, file));
    return new Response(body, { headers: { "content-type": mediaType(file), "cache-control": "no-cache" } });
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const method = req.method;
    const readOnly = method === "GET" || method === "HEAD";
    if (path === "/api/predict") {
      if (method !== "POST") throw new HttpError(405, "use POST with an image body");
      return await predict(req, url);
    }
    if (path === "/healthz" || path === "/api/models" || path === "/models/index.json") {
      if (!readOnly) throw new HttpError(405, `use GET for ${path}`);
      if (path === "/healthz") return json({ status: "ok", models: options.models.length });
      // The page's index also says an API is behind it (the static build writes `api: false`).
      return json(
        path === "/models/index.json"
          ? { models: modelList(), api: true, engine: engineName }
          : { models: modelList(), engine: engineName },
      );
    }
    if (path.startsWith("/api/")) throw new HttpError(404, `no API endpoint ${path}`);
    if (!readOnly) throw new HttpError(405, `use GET for ${path}`);
    const models = /^\/models\/([^/]+)\/([^/]+)$/.exec(path);
    if (models) {
      let name: string;
      let file: string;
      try {
        name = decodeURIComponent(models[1]);
        file = decodeURIComponent(models[2]);
      } catch {
        throw new HttpError(400, `malformed percent-encoding in ${path}`);
      }
      return await serveBundleFile(name, file);
    }
    const asset = options.assets.get(path === "/" ? "index.html" : path.slice(1));
    if (!asset) throw new HttpError(404, `not found: ${path}`);
    return new Response(asset.body, { headers: { "content-type": asset.type, "cache-control": "no-cache" } });
  }

  return async (req: Request): Promise<Response> => {
    try {
      return await route(req);
    } catch (err) {
      if (err instanceof HttpError) {
        log(`${err.status} ${req.method} ${new URL(req.url).pathname}: ${err.message}`);
        return errorResponse(err.status, err.message);
      }
      log(`500 ${req.method} ${new URL(req.url).pathname}: ${(err as Error)?.message ?? String(err)}`);
      return errorResponse(500, "internal error while handling the request");
    }
  };
}

/** Options of {@link startAppServer}. */
export interface AppServerOptions {
  /** A bundle folder, or a folder of bundle folders. */
  modelDir: string;
  /** Interface to bind (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Request limits. */
  limits?: Partial<RequestLimits>;
  /** Prebuilt page files (default: built now). */
  assets?: Map<string, StaticAsset>;
  /** Log lines (failed requests); default silent. */
  log?: (line: string) => void;
  /**
   * Engine for `/api/predict` (default tfjs: the graph model; onnxruntime: the bundle's model.onnx through
   * the optional package onnxruntime-node) and its execution provider. The page always runs model.json.
   */
  engine?: EngineOptions["engine"];
  /** onnxruntime execution provider (default cpu). */
  executionProvider?: EngineOptions["executionProvider"];
}

/** A running app server. */
export interface AppServer {
  /** Base URL, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** The served bundles. */
  models: ServedModel[];
  /** Stop listening and release the models. */
  close(): Promise<void>;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
}

/** Load the bundles, build the page and start serving (bound to 127.0.0.1 unless told otherwise). */
export async function startAppServer(options: AppServerOptions): Promise<AppServer> {
  const engine = options.engine ?? "tfjs";
  const models = await loadServedModels(options.modelDir, {
    engine,
    executionProvider: options.executionProvider,
  });
  let assets: Map<string, StaticAsset>;
  try {
    assets = options.assets ?? await buildPageAssets();
  } catch (err) {
    await disposeServedModels(models);
    throw err;
  }
  const handler = createAppHandler({ models, assets, limits: options.limits, log: options.log, engine });
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve({ hostname, port: options.port ?? 8080, onListen: () => {} }, handler);
  const port = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closed = false;
  return {
    url: `http://${host}:${port}/`,
    port,
    models,
    finished: server.finished,
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown();
      await disposeServedModels(models);
    },
  };
}
