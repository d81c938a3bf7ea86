/**
 * The report's facts file (`<output dir>/report/facts.json`): a flat JSON object of short facts the notebooks
 * record for the report's title page (e.g. the backend actually used). This module owns its path, its type,
 * its writer and its reader; the report runner creates the file and passes its path to the notebooks through
 * `SSPCAB_REPORT_FACTS`.
 * @module
 */
import { join } from "node:path";
import { writeJsonAtomic } from "./atomic_write.ts";

/** One fact's value. */
export type ReportFactValue = string | number | boolean;

/** All facts, by key. */
export type ReportFacts = Record<string, ReportFactValue>;

/** Where the report runner keeps the facts of a report written into `reportDir`. */
export function reportFactsPath(reportDir: string): string {
  return join(reportDir, "facts.json");
}

/** Start an empty facts file (atomically). */
export async function writeReportFacts(path: string, facts: ReportFacts = {}): Promise<void> {
  await writeJsonAtomic(path, facts);
}

/**
 * Read the facts. A missing, unreadable or malformed file reads as no facts (the title page then shows
 * none): facts are a courtesy of the notebooks, never a reason to fail a report. Values that are not a
 * string, number or boolean are dropped.
 */
export async function readReportFacts(path: string): Promise<ReportFacts> {
  let doc: unknown;
  try {
    doc = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return {};
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return {};
  const facts: ReportFacts = {};
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") facts[k] = v;
  }
  return facts;
}

/** Record one fact in the file at `path`; facts with the same key are overwritten. */
export async function recordReportFact(path: string, key: string, value: ReportFactValue): Promise<void> {
  const facts = await readReportFacts(path);
  facts[key] = value;
  await writeReportFacts(path, facts);
}
