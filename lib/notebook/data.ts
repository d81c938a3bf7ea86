/**
 * A notebook's data, as a displayable summary: {@link ensureDataset} (the one way to get a data set, see
 * `lib/pipeline/ensure_dataset.ts`) with the notebook's parameters, paths relative to the project root, the
 * archive extraction shown as live progress, and messages that name the `SSPCAB_*` variables.
 * @module
 */
import { type DataInfo, ensureDataset, pickCategory as pickFrom } from "../pipeline/ensure_dataset.ts";
import { displayPath, PROJECT_ROOT } from "./params.ts";
import { type Displayable, JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";
import { withLiveProgress } from "./progress.ts";

export type { DataInfo, DataSource } from "../pipeline/ensure_dataset.ts";
export { ensureSyntheticDataset, syntheticOptions } from "../pipeline/ensure_dataset.ts";

/** {@link DataInfo} that displays in a notebook as a short Markdown summary. */
export type PreparedData = DataInfo & Displayable;

/** Options of {@link prepareData}: the notebook parameters it needs. */
export interface PrepareDataOptions {
  /** `SSPCAB_DATA_DIR` (empty: not given). */
  dataDir: string;
  /** `SSPCAB_ARCHIVE` (empty: none). */
  archive?: string;
  /** `SSPCAB_OUTPUT_DIR`: the synthetic set goes to `<outputDir>/synthetic`. */
  outputDir: string;
  /** Side of the synthetic images (the notebook's image size; at least 32). */
  size: number;
  /** The default MVTec folder (default `data/mvtec`). */
  defaultDir?: string;
}

function summary(data: DataInfo): MimeBundle {
  const what = {
    archive: "extracted from the official archive",
    given: "given by SSPCAB_DATA_DIR",
    mvtec: "found the default MVTec AD folder",
    synthetic: "no MVTec AD folder found: using the generated synthetic MVTec-like set",
  }[data.source];
  const text = `**Data:** \`${data.dataDir}\` — ${what}. ${data.note}\n\n` +
    `**Categories (${data.categories.length}):** ${data.categories.join(", ") || "(none)"}`;
  return { "text/markdown": text, "text/plain": text.replaceAll("**", "").replaceAll("`", "") };
}

/** Decide the data folder from the notebook parameters (see {@link ensureDataset}) and prepare it. */
export async function prepareData(options: PrepareDataOptions): Promise<PreparedData> {
  const info = await withLiveProgress(
    "MVTec AD archive",
    () =>
      ensureDataset({
        ...options,
        root: PROJECT_ROOT,
        dataDirName: "SSPCAB_DATA_DIR (relative to the project root)",
      }),
  );
  const data: DataInfo = { ...info, dataDir: displayPath(info.dataDir) };
  return { ...data, [JUPYTER_DISPLAY]: () => summary(data) };
}

/**
 * The category to work on: `requested` (`SSPCAB_CATEGORY`) when given — it must be present — else the first
 * category present.
 */
export function pickCategory(requested: string, data: Pick<DataInfo, "categories" | "dataDir">): string {
  return pickFrom(requested, data, "SSPCAB_CATEGORY");
}
