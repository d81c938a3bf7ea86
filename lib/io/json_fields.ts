/**
 * Small validating readers for the JSON files we write: each check names the file and the field that is
 * wrong, and says how to rewrite the file, so a hand-edited or truncated file never surfaces as a
 * `TypeError` deep inside a view.
 * @module
 */
import { UserError } from "../util/errors.ts";

/** Where a JSON document came from and how to rewrite it, for messages. */
export interface JsonSource {
  /** The file's path, as shown to the user. */
  path: string;
  /** What to do when it is bad, e.g. "run `deno task eval` again to rewrite it". */
  fix: string;
}

/**
 * Read and parse a JSON file; a missing file or invalid JSON is a {@link UserError} naming the file.
 *
 * @param source the file and the fix to suggest
 * @param missingFix what to do when the file does not exist (default: `source.fix`)
 */
export async function readJsonFile(source: JsonSource, missingFix?: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(source.path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`${source.path} not found`, missingFix ?? source.fix);
    }
    throw new UserError(`cannot read ${source.path}: ${(err as Error).message}`, source.fix);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${source.path} is not valid JSON (truncated or edited?)`, source.fix);
  }
}

/** The error for a field that is not what it must be: names the file, the field, and what was found. */
export function fieldError(source: JsonSource, field: string, wanted: string, value: unknown): UserError {
  const got = value === undefined ? "missing" : `got ${JSON.stringify(value)?.slice(0, 40)}`;
  return new UserError(`${source.path}: field "${field}" must be ${wanted} (${got})`, source.fix);
}

/** `value` as a JSON object (a record), else a {@link UserError} naming `field`. */
export function objectField(source: JsonSource, value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fieldError(source, field, "an object", value);
  }
  return value as Record<string, unknown>;
}

/** `obj[key]` as a finite number. */
export function numberField(
  source: JsonSource,
  obj: Record<string, unknown>,
  key: string,
  where = key,
): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw fieldError(source, where, "a finite number", v);
  return v;
}

/** `obj[key]` as a string. */
export function stringField(
  source: JsonSource,
  obj: Record<string, unknown>,
  key: string,
  where = key,
): string {
  const v = obj[key];
  if (typeof v !== "string") throw fieldError(source, where, "a string", v);
  return v;
}

/** `obj[key]` as an array. */
export function arrayField(
  source: JsonSource,
  obj: Record<string, unknown>,
  key: string,
  where = key,
): unknown[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw fieldError(source, where, "an array", v);
  return v;
}
