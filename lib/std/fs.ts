/**
 * File-system helpers with the `@std/fs` names we use, over Deno's own API (the JSR registry is not reachable
 * from every machine we run on).
 * @module
 */
import { join } from "./path.ts";

/** Whether a path exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Create a folder and its parents when missing. */
export async function ensureDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
}

/** Make a folder exist and be empty. */
export async function emptyDir(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  await Deno.mkdir(path, { recursive: true });
}

/** An entry yielded by {@link walk}. */
export interface WalkEntry {
  /** Full path. */
  path: string;
  /** Base name. */
  name: string;
  /** Whether it is a regular file. */
  isFile: boolean;
  /** Whether it is a folder. */
  isDirectory: boolean;
  /** Whether it is a symbolic link. */
  isSymlink: boolean;
}

/** Recursively list a folder (depth first, sorted by name), folders included. */
export async function* walk(root: string): AsyncGenerator<WalkEntry> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(root)) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(root, e.name);
    yield { path, name: e.name, isFile: e.isFile, isDirectory: e.isDirectory, isSymlink: e.isSymlink };
    if (e.isDirectory) yield* walk(path);
  }
}
