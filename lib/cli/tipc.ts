/**
 * `deno task tipc` — the reference's automated smoke test: train (3 steps on lite data) → eval → export →
 * infer on a CPU backend, each step reported as it succeeds, a non-zero exit on any failure. Uses
 * `SSPCAB_DATA_DIR` when set, otherwise the generated synthetic data set.
 * @module
 */
import { parseCommand } from "./common.ts";
import type { FlagSpec } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { runPipeline } from "../pipeline/run_pipeline.ts";

const SUMMARY = "Smoke-test the whole pipeline (train → eval → export → infer) on lite data, on CPU.";

const FLAGS: FlagSpec[] = [
  {
    name: "data_dir",
    type: "string",
    default: Deno.env.get("SSPCAB_DATA_DIR") ?? "",
    help: "data (default: SSPCAB_DATA_DIR, else synthetic)",
  },
  { name: "type", type: "string", default: "", help: "category (default: the first present)" },
  { name: "output_dir", type: "string", default: "outputs/tipc", help: "where results go" },
  { name: "epochs", type: "number", default: 3, help: "training steps" },
  { name: "batch_size", type: "number", default: 2, help: "items per batch" },
  { name: "size", type: "number", default: 64, help: "image side" },
  { name: "backend", type: "string", default: "wasm", choices: ["wasm", "cpu"], help: "CPU backend" },
];

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("tipc", SUMMARY, FLAGS);
    if (!flags) return;
    const started = performance.now();
    const result = await runPipeline({
      dataDir: flags.data_dir ? String(flags.data_dir) : undefined,
      category: flags.type ? String(flags.type) : undefined,
      outputDir: String(flags.output_dir),
      epochs: Number(flags.epochs),
      testEpochs: Number(flags.epochs),
      batchSize: Number(flags.batch_size),
      size: Number(flags.size),
      backend: String(flags.backend),
      trainFlags: ["--no-pretrained"],
    });
    console.log(
      `tipc passed: ${result.steps.length} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  });
}
