/**
 * `deno task export` — write the self-contained inference bundle (TensorFlow.js graph model with the score
 * inside, density, threshold, metadata) of a trained and evaluated model; for the `patch` map also the patch
 * model (`patch_model.json` / `patch_model.onnx`), which `infer` runs over each image's grid of patches.
 * @module
 */
import { join } from "node:path";
import { MODEL_DIR_FLAG, parseCommand, startBackend } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { exportBundle } from "../export/bundle.ts";
import { runPaths } from "../train/config.ts";
import { LOCALIZATION_METHODS } from "../io/localization_file.ts";

const SUMMARY = "Export a trained model as a TensorFlow.js inference bundle.";

const FLAGS = defineFlags({
  data_type: { type: "string", aliases: ["type"], help: "category (e.g. bottle)" },
  model_path: { type: "string", help: "model file (default: <model_dir>/model-<data_type>.safetensors)" },
  model_dir: MODEL_DIR_FLAG,
  save_inference_dir: { type: "string", help: "output folder (default: outputs/inference/<data_type>)" },
  format: {
    type: "string",
    default: "tfjs",
    choices: ["tfjs", "onnx", "all"],
    help: "model files: TensorFlow.js graph model, model.onnx, or both",
  },
  map: {
    type: "string",
    choices: LOCALIZATION_METHODS,
    help: "the anomaly map the bundle carries (default: the map eval ranked best by AU-PRO, else sspcab); " +
      "patch adds the patch model (needs `eval --localization patch`)",
  },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("export", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.data_type) throw new UserError("--data_type is required", "e.g. --data_type bottle");
    const category = flags.data_type;
    await startBackend("cpu", () => {});
    let modelPath = flags.model_path || runPaths({ category, modelDir: flags.model_dir, logDir: "" }).best;
    if ((await Deno.stat(modelPath).catch(() => null))?.isDirectory) {
      modelPath = runPaths({ category, modelDir: modelPath, logDir: "" }).best;
    }
    const outDir = flags.save_inference_dir || join("outputs", "inference", category);
    const result = await exportBundle({ modelPath, category, outDir, format: flags.format, map: flags.map });
    const m = result.metadata.anomalyMap;
    const mapText = m
      ? `, anomaly map ${m.method}${
        m.pixelThreshold === null
          ? " (no pixel threshold)"
          : ` (pixel threshold ${m.pixelThreshold.toFixed(6)})`
      }`
      : ", no anomaly map";
    console.log(
      `exported ${category} (image size ${result.metadata.imageSize}, threshold ${
        result.metadata.threshold.toFixed(6)
      }${mapText})`,
    );
    const patch = result.metadata.patchMap;
    if (patch) {
      console.log(
        `patch model: ${patch.patchSize}x${patch.patchSize} patches, stride ${patch.stride}, sigma ${patch.sigma}`,
      );
    }
    if (result.note) console.log(`note: ${result.note}`);
    for (const f of result.files) console.log(`  ${f}`);
  });
}
