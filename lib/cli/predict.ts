/**
 * `deno task predict` — is this image normal or anomalous? One line per image with its score and the
 * threshold. Accepts several files or a folder.
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
import { formatPrediction, predictImages } from "../pipeline/predict.ts";

const SUMMARY = "Predict whether images are normal or anomalous with a trained, evaluated model.";

const FLAGS = defineFlags({
  data_type: { type: "string", aliases: ["type"], help: "category of the model (e.g. bottle)" },
  img_file: { type: "string", aliases: ["img_path"], help: "image file or folder (more may follow)" },
  model_dir: MODEL_DIR_FLAG,
  batch_size: { type: "number", default: 16, help: "images per forward pass" },
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
    });
    for (const p of predictions) console.log(formatPrediction(p));
  });
}
