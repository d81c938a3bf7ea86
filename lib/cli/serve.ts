/**
 * `deno task serve` — the inspection app: the page (the model runs in the browser) and the JSON API over one
 * bundle or a folder of bundles, on 127.0.0.1 unless `--host` says otherwise. `--engine onnxruntime` scores
 * the API's images with the bundles' model.onnx (`--execution_provider cpu|cuda|tensorrt`) instead of tfjs.
 * @module
 */
import { BACKEND_FLAG, parseCommand, startBackend } from "./common.ts";
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
    choices: ["tfjs", "onnxruntime"],
    help: "what scores /api/predict: tfjs runs model.json; onnxruntime runs model.onnx " +
      "(optional package onnxruntime-node); the page always runs model.json in the browser",
  },
  execution_provider: {
    type: "string",
    default: "cpu",
    choices: ["cpu", "cuda", "tensorrt"],
    help: "onnxruntime execution provider (cuda/tensorrt need a GPU install of onnxruntime-node)",
  },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("serve", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.model_dir) {
      throw new UserError("--model_dir is required", "e.g. --model_dir outputs/inference/bottle");
    }
    for (const name of ["port", "max_bytes", "max_pixels", "max_images", "batch_size"] as const) {
      const v = flags[name];
      if (!Number.isInteger(v) || v < (name === "port" ? 0 : 1) || (name === "port" && v > 65535)) {
        throw new UserError(`--${name} must be a ${name === "port" ? "port number" : "positive integer"}`);
      }
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
