/**
 * `deno task pipeline` — the main job: the whole method end to end on the embedded default (a generated
 * MVTec-like data set; no download), or on `--data_dir`: train → eval (AUROC, plots) → export → infer.
 * Prints where the results are.
 * @module
 */
import { parseCommand } from "./common.ts";
import { runCli } from "../util/errors.ts";
import { runPipeline } from "../pipeline/run_pipeline.ts";
import { plotDir } from "../pipeline/run_eval.ts";
import { perfCsvPath } from "../io/perf_csv.ts";
import { pipelineFlags, pipelineOptionsFromFlags } from "./pipeline_flags.ts";
import { BACKEND_CHOICES } from "../backend/mod.ts";
import { ENV } from "../config/env.ts";

const SUMMARY = "Run CutPaste + SSPCAB end to end (train → eval → export → infer) on one category.";
const FLAGS = pipelineFlags({
  outputDir: "outputs/pipeline",
  epochs: 60,
  testEpochs: 20,
  batchSize: 8,
  size: 128,
  backend: () => ENV.backend.get(),
  backendChoices: BACKEND_CHOICES,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("pipeline", SUMMARY, FLAGS);
    if (!flags) return;
    const started = performance.now();
    const result = await runPipeline(pipelineOptionsFromFlags(flags, true));
    console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s. Results:`);
    console.log(`  AUROC table      ${perfCsvPath(result.modelDir)}`);
    console.log(`  plots            ${plotDir(result.modelDir, result.category)}`);
    console.log(`  trained model    ${result.modelDir}`);
    console.log(`  inference bundle ${result.bundleDir}`);
  });
}
