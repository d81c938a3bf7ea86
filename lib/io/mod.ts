/**
 * Files on disk: safetensors, atomic writes through one writer that turns a full disk or a permission error
 * into one clear message, the run lock, and one module per file format we write (per-image scores, run
 * information, `models_perf.csv`, the report's facts), each with its path, type, writer and reader.
 *
 * @example Write and read a safetensors file (PyTorch's weight format)
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./mod.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, { "fc.weight": { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } });
 * const file = await readSafetensors(path);
 * console.log(file.tensors.get("fc.weight")?.shape); // [2, 2]
 * await Deno.remove(path);
 * ```
 * @module
 */
export {
  appendTextFile,
  createFileExclusive,
  denoFsWriter,
  formatBytes,
  freeBytes,
  type FsWriter,
  getFsWriter,
  removeStaleTempFiles,
  setFsWriter,
  toWriteFailure,
  WriteFailure,
  writeFileAtomic,
  writeJsonAtomic,
  type WriteOptions,
  type WriteProblem,
  writeProblemOf,
} from "./atomic_write.ts";
export {
  arrayField,
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "./json_fields.ts";
export { LOCALIZATION_METHODS, type LocalizationMethod } from "./localization_file.ts";
export {
  formatPerfCsv,
  localizationColumns,
  parsePerfCsv,
  PERF_CSV_COLUMNS,
  perfCsvPath,
  type PerfEntry,
  type PerfLocalization,
  type PerfRow,
  readPerfCsv,
  writePerfCsv,
} from "./perf_csv.ts";
export { processAlive, processStartTicks } from "./process.ts";
export {
  readReportFacts,
  recordReportFact,
  type ReportFacts,
  reportFactsPath,
  type ReportFactValue,
  writeReportFacts,
} from "./report_facts.ts";
export {
  readRunInfo,
  type RunInfo,
  runInfoPath,
  type RunStatus,
  startedRunInfo,
  writeRunInfo,
} from "./run_info.ts";
export {
  acquireRunLock,
  RUN_LOCK_FORMAT,
  type RunLock,
  type RunLockOptions,
  type RunLockOwner,
  runLockPath,
} from "./run_lock.ts";
export {
  DATA_SHA256_KEY,
  type NamedTensor,
  parseSafetensors,
  readSafetensors,
  type ReadSafetensorsOptions,
  type SafetensorsDtype,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.ts";
export { readScores, type ScoredImage, type ScoresFile, scoresPath, writeScores } from "./scores_file.ts";

// Types and values the API above refers to, defined in other areas.
export type { FileKind } from "../util/errors.ts";
export type { HistoryEntry } from "../train/checkpoint.ts";
export type { TrainConfig } from "../train/config.ts";
export { UserError } from "../util/errors.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export type { OptimizerName } from "../train/optimizer.ts";
export type { ScheduleName } from "../train/schedule.ts";
export { OPTIMIZERS } from "../train/optimizer.ts";
export { SCHEDULES } from "../train/schedule.ts";
