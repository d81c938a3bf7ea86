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
import type { FlagSpec } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { formatPrediction, predictImages } from "../predict/predict.ts";

const SUMMARY = "Predict whether images are normal or anomalous with a trained, evaluated model.";

const FLAGS: FlagSpec[] = [
  { name: "data_type", type: "string", aliases: ["type"], help: "category of the model (e.g. bottle)" },
  { name: "img_file", type: "string", aliases: ["img_path"], help: "image file or folder (more may follow)" },
  MODEL_DIR_FLAG,
  { name: "batch_size", type: "number", default: 16, help: "images per forward pass" },
  MAX_PIXELS_FLAG,
  BACKEND_FLAG,
];

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("predict", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.data_type) throw new UserError("--data_type is required", "e.g. --data_type bottle");
    const inputs = [...(flags.img_file ? [String(flags.img_file)] : []), ...flags._];
    await startBackend(flags.backend, () => {});
    const predictions = await predictImages({
      category: String(flags.data_type),
      modelDir: String(flags.model_dir),
      inputs,
      batchSize: Number(flags.batch_size),
      maxPixels: maxPixelsFrom(flags),
    });
    for (const p of predictions) console.log(formatPrediction(p));
  });
}
