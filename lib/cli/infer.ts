/**
 * `deno task infer` — run an exported bundle on images (no training code involved); `--heatmap DIR` also
 * writes the bundle's anomaly map (its graph's `anomaly_map`, or a patch bundle's map from its patch model)
 * with the predicted-mask outline per image and adds the map's maximum and defect area to each line.
 * @module
 */
import {
  BACKEND_FLAG,
  EXECUTION_PROVIDER_FLAG,
  MAX_PIXELS_FLAG,
  maxPixelsFrom,
  parseCommand,
  startBackend,
} from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { disposeBundle, INFERENCE_ENGINES, inferImages, loadBundle } from "../export/infer.ts";
import { inferImagesOnnx, loadOnnxBundle, releaseOnnxBundle } from "../export/onnx_engine.ts";
import { formatPrediction, type Prediction } from "../pipeline/predict.ts";
import { predictionLines } from "../pipeline/heatmap.ts";

const SUMMARY = "Run an exported inference bundle on images.";

const FLAGS = defineFlags({
  model_dir: { type: "string", help: "bundle folder written by `deno task export`" },
  img_path: { type: "string", aliases: ["img_file"], help: "image file or folder (more may follow)" },
  batch_size: { type: "number", default: 8, help: "images per forward pass" },
  max_pixels: MAX_PIXELS_FLAG,
  backend: BACKEND_FLAG,
  engine: {
    type: "string",
    default: "tfjs",
    choices: INFERENCE_ENGINES,
    help: "tfjs runs model.json; onnxruntime runs model.onnx (optional package onnxruntime-node)",
  },
  execution_provider: EXECUTION_PROVIDER_FLAG,
  heatmap: {
    type: "string",
    help:
      "also write <stem>.heatmap.png per image (the bundle's anomaly map and predicted mask) into this folder",
  },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("infer", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.model_dir) {
      throw new UserError("--model_dir is required", "pass the folder written by `deno task export`");
    }
    const inputs = [...(flags.img_path ? [flags.img_path] : []), ...flags._];
    const batchSize = flags.batch_size;
    const maxPixels = maxPixelsFrom(flags.max_pixels);
    const options = { batchSize, maxPixels, ...(flags.heatmap ? { heatmap: flags.heatmap } : {}) };
    const print = (ps: Prediction[]) => {
      for (const line of predictionLines(ps, formatPrediction, true)) console.log(line);
    };
    if (flags.engine === "onnxruntime") {
      const bundle = await loadOnnxBundle(flags.model_dir, {
        executionProviders: [flags.execution_provider],
      });
      try {
        print(await inferImagesOnnx(bundle, inputs, options));
      } finally {
        await releaseOnnxBundle(bundle);
      }
      return;
    }
    await startBackend(flags.backend, () => {});
    const bundle = await loadBundle(flags.model_dir);
    try {
      print(await inferImages(bundle, inputs, options));
    } finally {
      await disposeBundle(bundle);
    }
  });
}
