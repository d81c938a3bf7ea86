/**
 * `deno task infer` — run an exported bundle on images (no training code involved).
 * @module
 */
import { BACKEND_FLAG, MAX_PIXELS_FLAG, maxPixelsFrom, parseCommand, startBackend } from "./common.ts";
import type { FlagSpec } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { inferImages, loadBundle } from "../export/infer.ts";
import { formatPrediction } from "../predict/predict.ts";

const SUMMARY = "Run an exported inference bundle on images.";

const FLAGS: FlagSpec[] = [
  { name: "model_dir", type: "string", help: "bundle folder written by `deno task export`" },
  { name: "img_path", type: "string", aliases: ["img_file"], help: "image file or folder (more may follow)" },
  { name: "batch_size", type: "number", default: 8, help: "images per forward pass" },
  MAX_PIXELS_FLAG,
  BACKEND_FLAG,
];

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("infer", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.model_dir) {
      throw new UserError("--model_dir is required", "pass the folder written by `deno task export`");
    }
    const inputs = [...(flags.img_path ? [String(flags.img_path)] : []), ...flags._];
    await startBackend(flags.backend, () => {});
    const bundle = await loadBundle(String(flags.model_dir));
    const options = { batchSize: Number(flags.batch_size), maxPixels: maxPixelsFrom(flags) };
    for (const p of await inferImages(bundle, inputs, options)) {
      console.log(formatPrediction(p));
    }
  });
}
