/**
 * Path helpers with the `@std/path` names, over Node's built-in `path` and `url` modules (the JSR registry is
 * not reachable from every machine we run on, the npm registry is; Deno ships `node:path`).
 * @module
 */
import * as nodePath from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Join path segments. */
export const join: (...paths: string[]) => string = nodePath.join;
/** Resolve to an absolute path. */
export const resolve: (...paths: string[]) => string = nodePath.resolve;
/** The directory part of a path. */
export const dirname: (path: string) => string = nodePath.dirname;
/** The last segment of a path, without `ext` when given. */
export const basename: (path: string, ext?: string) => string = nodePath.basename;
/** The extension of a path, with its dot. */
export const extname: (path: string) => string = nodePath.extname;
/** The relative path from `from` to `to`. */
export const relative: (from: string, to: string) => string = nodePath.relative;
/** Normalise `..` and `.` segments. */
export const normalize: (path: string) => string = nodePath.normalize;
/** Whether a path is absolute. */
export const isAbsolute: (path: string) => boolean = nodePath.isAbsolute;
/** The platform path separator. */
export const SEPARATOR: string = nodePath.sep;

/** Convert a `file:` URL to a path. */
export function fromFileUrl(url: string | URL): string {
  return fileURLToPath(url);
}

/** Convert a path to a `file:` URL. */
export function toFileUrl(path: string): URL {
  return pathToFileURL(path);
}
