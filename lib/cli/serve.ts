/**
 * `deno task serve` — the inspection app: the page (the model runs in the browser) and the JSON API over one
 * bundle or a folder of bundles, on 127.0.0.1 unless `--host` says otherwise. `--engine onnxruntime` scores
 * the API's images with the bundles' model.onnx (`--execution_provider cpu|cuda|tensorrt`) instead of tfjs.
 * @module
 */
import { BACKEND_FLAG, EXECUTION_PROVIDER_FLAG, parseCommand, positiveInt, startBackend } from "./common.ts";
import { INFERENCE_ENGINES } from "../export/infer.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { DEFAULT_LIMITS, startAppServer } from "../app/server.ts";
import { findBundleDirs } from "../app/models.ts";

const SUMMARY = "Serve the inspection app and its HTTP API over exported bundles.";

const FLAGS = defineFlags({
  model_dir: { type: "string", help: "bundle folder (outputs/inference/<category>) or a folder of them" },
  port: { type: "number", default: 8080, help: "port (0 picks a free one)" },
  host: { type: "string", default: "127.0.0.1", help: "interface to bind (0.0.0.0: every interface)" },
  max_bytes: { type: "number", default: DEFAULT_LIMITS.maxBytes, help: "largest request body (bytes)" },
  max_pixels: { type: "number", default: DEFAULT_LIMITS.maxPixels, help: "largest image (pixels)" },
  max_images: { type: "number", default: DEFAULT_LIMITS.maxImages, help: "most images per request" },
  batch_size: { type: "number", default: DEFAULT_LIMITS.batchSize, help: "images per forward pass" },
  backend: BACKEND_FLAG,
  engine: {
    type: "string",
    default: "tfjs",
    choices: INFERENCE_ENGINES,
    help: "what scores /api/predict: tfjs runs model.json; onnxruntime runs model.onnx " +
      "(optional package onnxruntime-node); the page always runs model.json in the browser",
  },
  execution_provider: EXECUTION_PROVIDER_FLAG,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("serve", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.model_dir) {
      throw new UserError("--model_dir is required", "e.g. --model_dir outputs/inference/bottle");
    }
    if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535) {
      throw new UserError("--port must be a port number");
    }
    for (const name of ["max_bytes", "max_pixels", "max_images", "batch_size"] as const) {
      positiveInt(name, flags[name]);
    }
    await findBundleDirs(flags.model_dir); // a wrong folder is reported before the backend starts
    const engine = flags.engine;
    if (engine === "tfjs") await startBackend(flags.backend);
    const server = await startAppServer({
      engine,
      executionProvider: flags.execution_provider,
      modelDir: flags.model_dir,
      hostname: flags.host,
      port: flags.port,
      limits: {
        maxBytes: flags.max_bytes,
        maxPixels: flags.max_pixels,
        maxImages: flags.max_images,
        batchSize: flags.batch_size,
      },
      log: (line) => console.error(line),
    });
    console.log(`serving ${server.models.map((m) => m.name).join(", ")} (${engine} engine) at ${server.url}`);
    Deno.addSignalListener("SIGINT", () => server.close().then(() => Deno.exit(0)));
    await server.finished;
  });
}
