/**
 * Files on disk: safetensors, atomic writes, and one module per file format we write (per-image scores, run
 * information, `models_perf.csv`), each with its path, type, writer and validating reader.
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
export { writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";
export {
  arrayField,
  fieldError,
  type JsonSource,
  numberField,
  objectField,
  readJsonFile,
  stringField,
} from "./json_fields.ts";
export {
  formatPerfCsv,
  parsePerfCsv,
  PERF_CSV_COLUMNS,
  perfCsvPath,
  type PerfEntry,
  type PerfRow,
  readPerfCsv,
  writePerfCsv,
} from "./perf_csv.ts";
export {
  readRunInfo,
  type RunInfo,
  runInfoPath,
  type RunStatus,
  startedRunInfo,
  writeRunInfo,
} from "./run_info.ts";
export {
  type NamedTensor,
  parseSafetensors,
  readSafetensors,
  type SafetensorsDtype,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.ts";
export { readScores, type ScoredImage, type ScoresFile, scoresPath, writeScores } from "./scores_file.ts";

// Types and values the API above refers to, defined in other areas.
export type { HistoryEntry } from "../train/checkpoint.ts";
export type { TrainConfig } from "../train/config.ts";
export { UserError } from "../util/errors.ts";
export type { CutPasteVariant } from "../augment/cutpaste.ts";
export type { OptimizerName } from "../train/optimizer.ts";
export type { ScheduleName } from "../train/schedule.ts";
export { OPTIMIZERS } from "../train/optimizer.ts";
export { SCHEDULES } from "../train/schedule.ts";
