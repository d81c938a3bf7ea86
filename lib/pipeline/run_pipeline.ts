/**
 * The whole walkthrough as one automated run — data → train → eval → export → infer — executed through the
 * real command-line entry points (as the reference's TIPC script does), each step reported as it succeeds
 * and the first failure stopping the run with the step's output.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listCategory } from "../data/mvtec.ts";
import { ensureDataset, pickCategory } from "./ensure_dataset.ts";
import { UserError } from "../util/errors.ts";

/** Options of {@link runPipeline}. */
export interface PipelineOptions {
  /** MVTec-layout data folder; when absent, the synthetic set is generated into `outputDir/synthetic`. */
  dataDir?: string;
  /** Category to run (default: the first one found). */
  category?: string;
  /** Where models, plots, bundles go. */
  outputDir: string;
  /** Training steps. */
  epochs: number;
  /** Evaluate every this many steps. */
  testEpochs: number;
  /** Items per batch. */
  batchSize: number;
  /** Image side. */
  size: number;
  /** Backend for training/eval/infer. */
  backend: string;
  /** Extra flags for `train` (e.g. `--no-pretrained`). */
  trainFlags?: string[];
  /** Called with each step's status line. */
  report?: (line: string) => void;
  /** Show the commands' own output (progress bars, log lines) live. */
  verbose?: boolean;
}

/** One step's outcome. */
export interface PipelineStep {
  /** Step name. */
  name: string;
  /** Seconds taken. */
  seconds: number;
  /** The command's standard output. */
  output: string;
}

const CLI_DIR = fileURLToPath(new URL("../cli/", import.meta.url));

async function runTask(
  name: string,
  script: string,
  args: string[],
  verbose: boolean,
): Promise<PipelineStep> {
  const started = performance.now();
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(CLI_DIR, script), ...args],
    stdout: "piped",
    stderr: verbose ? "inherit" : "piped",
    env: { NO_COLOR: "1" },
  });
  const result = await command.output();
  const output = new TextDecoder().decode(result.stdout);
  if (verbose) await Deno.stdout.write(result.stdout);
  if (!result.success) {
    const err = verbose ? "" : new TextDecoder().decode(result.stderr);
    throw new UserError(
      `step "${name}" failed (exit code ${result.code}): deno run -A lib/cli/${script} ${args.join(" ")}\n${
        (output + err).trim().split("\n").slice(-25).join("\n")
      }`,
    );
  }
  return { name, seconds: (performance.now() - started) / 1000, output };
}

/** Run data → train → eval → export → infer; returns each step and where the results are. */
export async function runPipeline(
  options: PipelineOptions,
): Promise<
  { steps: PipelineStep[]; dataDir: string; category: string; modelDir: string; bundleDir: string }
> {
  const report = options.report ?? console.log;
  const steps: PipelineStep[] = [];
  const started = performance.now();
  const data = await ensureDataset({
    dataDir: options.dataDir,
    outputDir: options.outputDir,
    size: options.size,
    defaultDir: null, // the embedded synthetic set unless a folder is given
  });
  const dataDir = data.dataDir;
  if (data.source === "synthetic") {
    steps.push({ name: "data", seconds: (performance.now() - started) / 1000, output: "" });
    report(`ok   data     synthetic MVTec-like set (${data.categories.join(", ")}) in ${dataDir}`);
  } else {
    report(`ok   data     ${dataDir}`);
  }
  const category = pickCategory(options.category ?? "", data);
  const records = await listCategory(dataDir, category);
  const modelDir = join(options.outputDir, "models");
  const bundleDir = join(options.outputDir, "inference", category);
  const common = ["--backend", options.backend];
  const verbose = options.verbose ?? false;

  const step = async (name: string, script: string, args: string[], summary: (s: PipelineStep) => string) => {
    const s = await runTask(name, script, args, verbose);
    steps.push(s);
    report(`ok   ${name.padEnd(8)} ${summary(s)} (${s.seconds.toFixed(1)} s)`);
    return s;
  };
  const lastLine = (s: PipelineStep, pattern: RegExp) =>
    s.output.split("\n").filter((l) => pattern.test(l)).pop()?.trim() ?? "";

  await step("train", "train.ts", [
    "--type",
    category,
    "--data_dir",
    dataDir,
    "--model_dir",
    modelDir,
    "--log_dir",
    join(options.outputDir, "logdirs"),
    "--epochs",
    String(options.epochs),
    "--test_epochs",
    String(options.testEpochs),
    "--batch_size",
    String(options.batchSize),
    "--size",
    String(options.size),
    ...(options.trainFlags ?? []),
    ...common,
  ], (s) => lastLine(s, /best AUROC/));
  await step("eval", "eval.ts", [
    "--type",
    category,
    "--data_dir",
    dataDir,
    "--model_dir",
    modelDir,
    "--save_plots",
    ...common,
  ], (s) => lastLine(s, /^mean AUROC/));
  await step("export", "export.ts", [
    "--data_type",
    category,
    "--model_dir",
    modelDir,
    "--save_inference_dir",
    bundleDir,
  ], (s) => lastLine(s, /^exported/));
  const good = records.find((r) => r.split === "test" && r.label === 0);
  const bad = records.find((r) => r.split === "test" && r.label === 1);
  const samples = [good, bad].filter((r) => r !== undefined).map((r) => r!.path);
  const inferStep = await step(
    "infer",
    "infer.ts",
    ["--model_dir", bundleDir, ...samples, ...common],
    () => "bundle ran on a good and a defective image",
  );
  for (const line of inferStep.output.trim().split("\n")) report(`       ${line}`);
  return { steps, dataDir, category, modelDir, bundleDir };
}
