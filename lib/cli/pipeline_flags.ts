/**
 * Flags shared by the two end-to-end commands (`pipeline`, the main job, and `tipc`, the smoke test), which
 * differ only in their defaults.
 * @module
 */
import type { FlagSpec, ParsedFlags } from "./flags.ts";
import type { PipelineOptions } from "../pipeline/run_pipeline.ts";

/** Defaults of an end-to-end command. */
export interface PipelineDefaults {
  /** Output folder. */
  outputDir: string;
  /** Training steps. */
  epochs: number;
  /** Evaluate every N steps. */
  testEpochs: number;
  /** Items per batch. */
  batchSize: number;
  /** Image side. */
  size: number;
  /** Backend. */
  backend: string;
  /** Allowed backends (default: any). */
  backendChoices?: readonly string[];
}

/** The flags of an end-to-end command with the given defaults. */
export function pipelineFlags(d: PipelineDefaults): FlagSpec[] {
  return [
    {
      name: "data_dir",
      type: "string",
      default: Deno.env.get("SSPCAB_DATA_DIR") ?? "",
      help: "data (default: SSPCAB_DATA_DIR, else the generated synthetic set)",
    },
    { name: "type", type: "string", default: "", help: "category (default: the first present)" },
    { name: "output_dir", type: "string", default: d.outputDir, help: "where results go" },
    { name: "epochs", type: "number", default: d.epochs, help: "training steps" },
    { name: "test_epochs", type: "number", default: d.testEpochs, help: "evaluate every N steps" },
    {
      name: "batch_size",
      type: "number",
      default: d.batchSize,
      help: "items per batch (×3 images for 3-way)",
    },
    { name: "size", type: "number", default: d.size, help: "image side" },
    {
      name: "pretrained",
      type: "string",
      default: "",
      help: "ImageNet ResNet18 weights (default: from scratch)",
    },
    {
      name: "backend",
      type: "string",
      default: d.backend,
      choices: d.backendChoices,
      help: "compute backend",
    },
  ];
}

/** Pipeline options from parsed flags. */
export function pipelineOptionsFromFlags(flags: ParsedFlags, verbose: boolean): PipelineOptions {
  return {
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
    verbose,
  };
}
