/**
 * `deno task pipeline` — the main job: the whole method end to end on the embedded default (a generated
 * MVTec-like data set; no download), or on `--data_dir`: train → eval (AUROC, plots) → export → infer.
 * Prints where the results are.
 * @module
 */
import { parseCommand } from "./common.ts";
import type { FlagSpec } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { runPipeline } from "../pipeline/run_pipeline.ts";
import { perfCsvPath, plotDir } from "../eval/run_eval.ts";

const SUMMARY = "Run CutPaste + SSPCAB end to end (train → eval → export → infer) on one category.";

const FLAGS: FlagSpec[] = [
  {
    name: "data_dir",
    type: "string",
    default: Deno.env.get("SSPCAB_DATA_DIR") ?? "",
    help: "data (default: SSPCAB_DATA_DIR, else the generated synthetic set)",
  },
  { name: "type", type: "string", default: "", help: "category (default: the first present)" },
  { name: "output_dir", type: "string", default: "outputs/pipeline", help: "where results go" },
  { name: "epochs", type: "number", default: 60, help: "training steps" },
  { name: "test_epochs", type: "number", default: 20, help: "evaluate every N steps" },
  { name: "batch_size", type: "number", default: 8, help: "items per batch (×3 images)" },
  { name: "size", type: "number", default: 128, help: "image side" },
  {
    name: "pretrained",
    type: "string",
    default: "",
    help: "ImageNet ResNet18 weights (default: train from scratch)",
  },
  {
    name: "backend",
    type: "string",
    default: Deno.env.get("SSPCAB_BACKEND") ?? "auto",
    help: "compute backend",
  },
];

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("pipeline", SUMMARY, FLAGS);
    if (!flags) return;
    const started = performance.now();
    const result = await runPipeline({
      dataDir: flags.data_dir ? String(flags.data_dir) : undefined,
      category: flags.type ? String(flags.type) : undefined,
      outputDir: String(flags.output_dir),
      epochs: Number(flags.epochs),
      testEpochs: Number(flags.test_epochs),
      batchSize: Number(flags.batch_size),
      size: Number(flags.size),
      backend: String(flags.backend),
      trainFlags: flags.pretrained
        ? ["--pretrained", String(flags.pretrained), "--freeze_resnet", "0"]
        : ["--no-pretrained"],
      verbose: true,
    });
    console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s. Results:`);
    console.log(`  AUROC table      ${perfCsvPath(result.modelDir)}`);
    console.log(`  plots            ${plotDir(result.modelDir, result.category)}`);
    console.log(`  trained model    ${result.modelDir}`);
    console.log(`  inference bundle ${result.bundleDir}`);
  });
}
