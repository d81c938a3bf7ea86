/**
 * `deno task predict` — is this image normal or anomalous? One line per image with its score and the
 * threshold. Accepts several files or a folder. `--heatmap DIR` also writes an anomaly-map overlay PNG per
 * image with the predicted-mask outline (`--map sspcab|gradcam|patch`, default the map eval ranked best,
 * else sspcab), adds the map's maximum and defect area to the line and prints the PNG's path after it.
 * @module
 */
import {
  BACKEND_FLAG,
  MAX_PIXELS_FLAG,
  maxPixelsFrom,
  MODEL_DIR_FLAG,
  parseCommand,
  startBackend,
} from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { formatPrediction, HEATMAP_MAPS, predictImages } from "../pipeline/predict.ts";
import { predictionLines } from "../pipeline/heatmap.ts";

const SUMMARY = "Predict whether images are normal or anomalous with a trained, evaluated model.";

const FLAGS = defineFlags({
  data_type: { type: "string", aliases: ["type"], help: "category of the model (e.g. bottle)" },
  img_file: { type: "string", aliases: ["img_path"], help: "image file or folder (more may follow)" },
  model_dir: MODEL_DIR_FLAG,
  batch_size: { type: "number", default: 16, help: "images per forward pass" },
  heatmap: { type: "string", help: "also write an anomaly-map overlay PNG per image into this folder" },
  map: {
    type: "string",
    choices: HEATMAP_MAPS,
    help: "the map --heatmap draws (default: the map eval ranked best by AU-PRO, else sspcab)",
  },
  max_pixels: MAX_PIXELS_FLAG,
  backend: BACKEND_FLAG,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("predict", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.data_type) throw new UserError("--data_type is required", "e.g. --data_type bottle");
    if (flags.map && !flags.heatmap) {
      throw new UserError(
        "--map chooses the map --heatmap draws",
        "add --heatmap DIR (the folder for the PNGs)",
      );
    }
    const inputs = [...(flags.img_file ? [flags.img_file] : []), ...flags._];
    await startBackend(flags.backend, () => {});
    const predictions = await predictImages({
      maxPixels: maxPixelsFrom(flags.max_pixels),
      category: flags.data_type,
      modelDir: flags.model_dir,
      inputs,
      batchSize: flags.batch_size,
      ...(flags.heatmap ? { heatmap: { dir: flags.heatmap, map: flags.map } } : {}),
    });
    for (const line of predictionLines(predictions, formatPrediction)) console.log(line);
  });
}
