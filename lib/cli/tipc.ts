/**
 * `deno task tipc` — the reference's automated smoke test: train (3 steps on lite data) → eval → export →
 * infer on a CPU backend, each step reported as it succeeds, a non-zero exit on any failure. Uses
 * `SSPCAB_DATA_DIR` when set, otherwise the generated synthetic data set.
 * @module
 */
import { parseCommand } from "./common.ts";
import { runCli } from "../util/errors.ts";
import { runPipeline } from "../pipeline/run_pipeline.ts";
import { pipelineFlags, pipelineOptionsFromFlags } from "./pipeline_flags.ts";

const SUMMARY = "Smoke-test the whole pipeline (train → eval → export → infer) on lite data, on CPU.";
const FLAGS = pipelineFlags({
  outputDir: "outputs/tipc",
  epochs: 3,
  testEpochs: 3,
  batchSize: 2,
  size: 64,
  backend: "wasm",
  backendChoices: ["wasm", "cpu"] as const,
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("tipc", SUMMARY, FLAGS);
    if (!flags) return;
    const started = performance.now();
    const result = await runPipeline(pipelineOptionsFromFlags(flags, false));
    console.log(
      `tipc passed: ${result.steps.length} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  });
}
