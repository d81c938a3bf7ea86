/**
 * `deno task predict` — is this image normal or anomalous? One line per image with its score and the
 * threshold. Accepts several files or a folder. `--heatmap DIR` also writes an anomaly-map overlay PNG per
 * image (`--map sspcab|gradcam`) and prints its path on the line after the verdict.
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

const SUMMARY = "Predict whether images are normal or anomalous with a trained, evaluated model.";

const FLAGS = defineFlags({
  data_type: { type: "string", aliases: ["type"], help: "category of the model (e.g. bottle)" },
  img_file: { type: "string", aliases: ["img_path"], help: "image file or folder (more may follow)" },
  model_dir: MODEL_DIR_FLAG,
  batch_size: { type: "number", default: 16, help: "images per forward pass" },
  heatmap: { type: "string", help: "also write an anomaly-map overlay PNG per image into this folder" },
  map: { type: "string", default: "sspcab", choices: HEATMAP_MAPS, help: "the map --heatmap draws" },
  max_pixels: MAX_PIXELS_FLAG,
  backend: BACKEND_FLAG,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("predict", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.data_type) throw new UserError("--data_type is required", "e.g. --data_type bottle");
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
    for (const p of predictions) {
      console.log(formatPrediction(p));
      if (p.heatmapPath) console.log(`  heatmap: ${p.heatmapPath}`);
    }
  });
}
