/**
 * The run information file training writes for each category (`<model dir>/model-<category>.json`): the
 * configuration, the status (`training`, `done`, `interrupted`), steps done, the best AUROC and its step, the
 * wall time and the per-step history. This module owns its type, its writer and its validating reader; its
 * path comes from {@link runPaths} with the other files of a run.
 * @module
 */
import { modelName, runPaths, type TrainConfig } from "../train/config.ts";
import type { HistoryEntry } from "../train/checkpoint.ts";
import { writeJsonAtomic } from "./atomic_write.ts";
import {
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "./json_fields.ts";

/** Where a run stands. */
export type RunStatus = "training" | "done" | "interrupted";

/** What training recorded about a run. */
export interface RunInfo {
  /** The model's name, `model-<category>`. */
  name: string;
  /** The training configuration. */
  config: TrainConfig;
  /** Where the run stands. */
  status: RunStatus;
  /** Steps completed (0 while training has not finished a step). */
  steps: number;
  /** Best test AUROC seen (null when never evaluated). */
  bestAuroc: number | null;
  /** Step of the best AUROC (the model evaluated later). */
  bestStep: number;
  /** Wall time of the run in seconds (0 while training). */
  seconds: number;
  /** Per-step history (empty while training). */
  history: HistoryEntry[];
}

/** Where training writes the run information of `category` in `modelDir`. */
export function runInfoPath(modelDir: string, category: string): string {
  return runPaths({ category, modelDir, logDir: "" }).runInfo;
}

/** Write the run information atomically (the file is the run's model name + `.json`). */
export async function writeRunInfo(path: string, info: RunInfo): Promise<void> {
  await writeJsonAtomic(path, info);
}

/** The record written when a run starts: its configuration and `status: "training"`. */
export function startedRunInfo(config: TrainConfig): RunInfo {
  return {
    name: modelName(config.category),
    config,
    status: "training",
    steps: 0,
    bestAuroc: null,
    bestStep: 0,
    seconds: 0,
    history: [],
  };
}

const STATUSES: readonly RunStatus[] = ["training", "done", "interrupted"];

/**
 * Read and validate a run information file. Files written before the status fields existed (only `name`
 * and `config`) read with `steps: 0`; a missing file is a `UserError` saying to train first.
 */
export async function readRunInfo(path: string): Promise<RunInfo> {
  const source: JsonSource = { path, fix: "train this category again (`deno task train`) to rewrite it" };
  const doc = objectField(
    source,
    await readJsonFile(source, "train this category first (`deno task train`)"),
    "",
  );
  const config = objectField(source, doc.config, "config") as unknown as TrainConfig;
  stringField(source, doc.config as Record<string, unknown>, "category", "config.category");
  numberField(source, doc.config as Record<string, unknown>, "size", "config.size");
  const status = (doc.status ?? "training") as RunStatus;
  if (!STATUSES.includes(status)) throw fieldError(source, "status", `one of ${STATUSES.join(", ")}`, status);
  const optionalNumber = (key: string, fallback: number) =>
    doc[key] === undefined ? fallback : numberField(source, doc, key);
  return {
    name: typeof doc.name === "string" ? doc.name : modelName(config.category),
    config,
    status,
    steps: optionalNumber("steps", 0),
    bestAuroc: doc.bestAuroc === null || doc.bestAuroc === undefined
      ? null
      : numberField(source, doc, "bestAuroc"),
    bestStep: optionalNumber("bestStep", 0),
    seconds: optionalNumber("seconds", 0),
    history: Array.isArray(doc.history) ? doc.history as HistoryEntry[] : [],
  };
}
