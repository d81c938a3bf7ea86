/**
 * Flags shared by the two end-to-end commands (`pipeline`, the main job, and `tipc`, the smoke test), which
 * differ only in their defaults.
 * @module
 */
import { defineFlags, type FlagDefault, type ParsedFlags } from "./flags.ts";
import type { PipelineOptions } from "../pipeline/run_pipeline.ts";
import type { BackendChoice } from "../backend/mod.ts";
import { ENV } from "../config/env.ts";

/** Defaults of an end-to-end command; `B` is the set of backends it accepts. */
export interface PipelineDefaults<B extends BackendChoice> {
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
  /** Backend (a value or a function giving it, e.g. from the environment). */
  backend: FlagDefault<B>;
  /** Allowed backends. */
  backendChoices: readonly B[];
}

/** The flags of an end-to-end command with the given defaults. */
export function pipelineFlags<B extends BackendChoice>(d: PipelineDefaults<B>) {
  return defineFlags({
    data_dir: {
      type: "string",
      default: () => ENV.dataDir.get() ?? "",
      help: "data; SSPCAB_DATA_DIR sets the default (none: the generated synthetic set)",
    },
    type: { type: "string", default: "", help: "category (default: the first present)" },
    output_dir: { type: "string", default: d.outputDir, help: "where results go" },
    epochs: { type: "number", default: d.epochs, help: "training steps" },
    test_epochs: { type: "number", default: d.testEpochs, help: "evaluate every N steps" },
    batch_size: { type: "number", default: d.batchSize, help: "items per batch (×3 images for 3-way)" },
    size: { type: "number", default: d.size, help: "image side" },
    pretrained: { type: "string", default: "", help: "ImageNet ResNet18 weights (default: from scratch)" },
    backend: { type: "string", default: d.backend, choices: d.backendChoices, help: "compute backend" },
  });
}

/** The parsed flags of an end-to-end command. */
export type PipelineFlags = ParsedFlags<ReturnType<typeof pipelineFlags<BackendChoice>>>;

/** Pipeline options from parsed flags. */
export function pipelineOptionsFromFlags(flags: PipelineFlags, verbose: boolean): PipelineOptions {
  return {
    dataDir: flags.data_dir || undefined,
    category: flags.type || undefined,
    outputDir: flags.output_dir,
    epochs: flags.epochs,
    testEpochs: flags.test_epochs,
    batchSize: flags.batch_size,
    size: flags.size,
    backend: flags.backend,
    trainFlags: flags.pretrained
      ? ["--pretrained", flags.pretrained, "--freeze_resnet", "0"]
      : ["--no-pretrained"],
    verbose,
  };
}
