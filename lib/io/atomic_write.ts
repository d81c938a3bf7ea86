/**
 * The one place every output file is written through. Files are written atomically: data goes to a temporary
 * file beside the target (`<target>.<pid>.<id>.tmp`), is flushed, then renamed over the target, so a crash or
 * a kill never leaves a half-written checkpoint or result behind. A failure of the file system (disk full,
 * quota, permission, read-only, too many open files, I/O error) becomes one {@link WriteFailure} naming the
 * file, what went wrong and, for a full disk, the space needed and free; the temp file is removed and the
 * previous file stays intact.
 *
 * All file system calls go through an {@link FsWriter}, replaceable with {@link setFsWriter} (or per call),
 * so tests can make writes fail with ENOSPC or pause inside a write without a real full disk.
 * @module
 */
import { statfsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UserError } from "../util/errors.ts";
import { processAlive } from "./process.ts";

/** The file system calls the writers use. */
export interface FsWriter {
  /** Create `dir` and its parents (no error when it exists). */
  mkdir(dir: string): Promise<void>;
  /**
   * Create `path`, which must not exist (`AlreadyExists` otherwise), write all of `bytes`, flush it to disk
   * unless `sync` is false, close.
   */
  writeNew(path: string, bytes: Uint8Array, sync?: boolean): Promise<void>;
  /** Append `bytes` to `path`, creating it when missing. */
  append(path: string, bytes: Uint8Array): Promise<void>;
  /** Rename `from` to `to`, replacing `to` atomically. */
  rename(from: string, to: string): Promise<void>;
  /** Make `newPath` a second name (hard link) of `existing`. */
  link(existing: string, newPath: string): Promise<void>;
  /** Remove a file. */
  remove(path: string): Promise<void>;
}

/** The real file system, through Deno's APIs. */
export const denoFsWriter: FsWriter = {
  async mkdir(dir) {
    await Deno.mkdir(dir, { recursive: true });
  },
  async writeNew(path, bytes, sync = true) {
    const file = await Deno.open(path, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      if (sync) await file.sync();
    } finally {
      file.close();
    }
  },
  async append(path, bytes) {
    await Deno.writeFile(path, bytes, { append: true, create: true });
  },
  async rename(from, to) {
    await Deno.rename(from, to);
  },
  async link(existing, newPath) {
    await Deno.link(existing, newPath);
  },
  async remove(path) {
    await Deno.remove(path);
  },
};

let currentWriter: FsWriter = denoFsWriter;

/** The writer used when a call names none ({@link denoFsWriter} unless replaced). */
export function getFsWriter(): FsWriter {
  return currentWriter;
}

/** Replace the default writer (tests); returns the previous one so it can be restored. */
export function setFsWriter(writer: FsWriter): FsWriter {
  const previous = currentWriter;
  currentWriter = writer;
  return previous;
}

/** File system error codes that are the user's environment, not a bug, with what they mean. */
const FS_PROBLEMS: Record<string, { what: string; fix: string }> = {
  ENOSPC: {
    what: "no space left on the device",
    fix: "free disk space there, or write to another disk (e.g. --model_dir)",
  },
  EDQUOT: {
    what: "the disk quota is exceeded",
    fix: "free space within your quota, or write to another disk (e.g. --model_dir)",
  },
  EFBIG: {
    what: "the file is larger than the file system allows",
    fix: "write to another disk (e.g. --model_dir)",
  },
  EACCES: {
    what: "permission denied",
    fix: "make the folder writable for this user, or write to another folder (e.g. --model_dir)",
  },
  EPERM: {
    what: "the operation is not permitted",
    fix: "make the folder writable for this user, or write to another folder (e.g. --model_dir)",
  },
  EROFS: {
    what: "the file system is read-only",
    fix: "write to a writable folder (e.g. --model_dir)",
  },
  EMFILE: {
    what: "too many open files in this process",
    fix: "raise the limit (`ulimit -n 4096`) or lower --batch_size / concurrency",
  },
  ENFILE: {
    what: "too many open files on the system",
    fix: "close other programs or raise the system's file limit",
  },
  EIO: {
    what: "an input/output error (a failing disk or a lost network mount)",
    fix: "check the disk, or write to another one (e.g. --model_dir)",
  },
  ENOTDIR: {
    what: "a part of its folder path is a file, not a folder",
    fix: "move that file away, or write to another folder",
  },
  EISDIR: {
    what: "a folder of that name is in the way",
    fix: "move that folder away, or write to another place",
  },
  ENAMETOOLONG: {
    what: "the path is too long",
    fix: "use a shorter folder path",
  },
};

/** Why a write failed, for messages. */
export interface WriteProblem {
  /** The error code (`ENOSPC`, `EACCES`, …). */
  code: string;
  /** What it means, in words. */
  what: string;
  /** What to do about it (without "then run again"). */
  fix: string;
}

/** A write to an output file failed for a reason of the environment (disk full, permissions, …). */
export class WriteFailure extends UserError {
  /**
   * `path` is the file that could not be written, `needed` its size in bytes, `free` the bytes available on
   * its file system after the failed write was cleaned up (null when unknown).
   */
  constructor(
    readonly path: string,
    readonly problem: WriteProblem,
    readonly needed: number,
    readonly free: number | null,
    hint: string,
  ) {
    super(`cannot write ${path}: ${describeProblem(problem, needed, free, path)}`, hint);
    this.name = "WriteFailure";
  }
}

/** Bytes as a short human figure (`78.2 MB`). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function describeProblem(problem: WriteProblem, needed: number, free: number | null, path: string): string {
  if (problem.code !== "ENOSPC" && problem.code !== "EDQUOT" && problem.code !== "EFBIG") {
    return `${problem.what} (${problem.code})`;
  }
  const freeText = free === null ? "" : `, ${formatBytes(free)} free in ${dirname(path)}`;
  return `${problem.what} (${problem.code}; it needs ${formatBytes(needed)}${freeText})`;
}

/** Bytes available to this user on the file system holding `path` (its nearest existing folder). */
export function freeBytes(path: string): number | null {
  let dir = path;
  for (let i = 0; i < 64; i++) {
    try {
      const s = statfsSync(dir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
  return null;
}

/** The problem an error of the file system stands for, or null when it is not one we explain. */
export function writeProblemOf(err: unknown): WriteProblem | null {
  if (!(err instanceof Error)) return null;
  let code = (err as { code?: unknown }).code;
  if (typeof code !== "string" && err instanceof Deno.errors.PermissionDenied) code = "EACCES";
  if (typeof code !== "string") {
    const m = /\(os error (\d+)\)/.exec(err.message);
    const byErrno: Record<string, string> = {
      "28": "ENOSPC",
      "122": "EDQUOT",
      "30": "EROFS",
      "24": "EMFILE",
    };
    code = m ? byErrno[m[1]] : undefined;
  }
  if (typeof code !== "string" || !(code in FS_PROBLEMS)) return null;
  return { code, ...FS_PROBLEMS[code] };
}

/**
 * Turn a file system error while writing `path` (`needed` bytes) into a {@link WriteFailure}; errors that are
 * not problems of the environment are returned unchanged.
 */
export function toWriteFailure(err: unknown, path: string, needed: number, hint?: string): unknown {
  if (err instanceof WriteFailure) return err;
  const problem = writeProblemOf(err);
  if (!problem) return err;
  return new WriteFailure(path, problem, needed, freeBytes(path), hint ?? `${problem.fix}, then run again`);
}

/** Options of {@link writeFileAtomic}. */
export interface WriteOptions {
  /** File system to write through (default: {@link getFsWriter}). */
  writer?: FsWriter;
  /**
   * Keep the file being replaced under this name (e.g. `….checkpoint.prev.safetensors`). It is re-linked
   * before the new file is renamed in, so the target itself is never missing once it was written.
   */
  keepPrevious?: string;
  /** Replaces the default advice of a {@link WriteFailure}. */
  hint?: string;
  /** Flush the data to disk before the rename (default true; a kill is survived either way). */
  sync?: boolean;
}

function tempName(path: string): string {
  return `${path}.${Deno.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/**
 * Write `data` to `path` atomically (temp file + fsync + rename), creating parent folders. On a failure of
 * the file system it throws a {@link WriteFailure}, having removed the temp file; `path` is then unchanged.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteOptions = {},
): Promise<void> {
  const fs = options.writer ?? currentWriter;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempName(path);
  let tmpCreated = false;
  try {
    await fs.mkdir(dirname(path));
    tmpCreated = true;
    await fs.writeNew(tmp, bytes, options.sync ?? true);
    if (options.keepPrevious && (await exists(path))) {
      const prevTmp = tempName(options.keepPrevious);
      const linked = await fs.link(path, prevTmp).then(() => true, () => false);
      if (linked) {
        try {
          await fs.rename(prevTmp, options.keepPrevious);
        } catch (err) {
          await fs.remove(prevTmp).catch(() => {});
          throw err;
        }
      } else {
        // A file system without hard links: move the file aside (readers fall back to the previous one).
        await fs.rename(path, options.keepPrevious);
      }
    }
    await fs.rename(tmp, path);
    tmpCreated = false;
  } catch (err) {
    if (tmpCreated) await fs.remove(tmp).catch(() => {});
    throw toWriteFailure(err, path, bytes.length, options.hint);
  }
}

/** Write a value as pretty JSON atomically (see {@link writeFileAtomic}). */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", options);
}

/** Append text to `path` (a log), creating it and its folder; file system failures as a {@link WriteFailure}. */
export async function appendTextFile(path: string, text: string, options: WriteOptions = {}): Promise<void> {
  const fs = options.writer ?? currentWriter;
  const bytes = new TextEncoder().encode(text);
  try {
    await fs.mkdir(dirname(path));
    await fs.append(path, bytes);
  } catch (err) {
    throw toWriteFailure(err, path, bytes.length, options.hint);
  }
}

/**
 * Create `path` exclusively with `data` (fails with `Deno.errors.AlreadyExists` when it exists, e.g. a lock
 * held by another run); other file system failures as a {@link WriteFailure}. The content is written to a
 * temp file first and hard-linked into place, so nobody ever sees `path` empty or half written.
 */
export async function createFileExclusive(
  path: string,
  data: Uint8Array | string,
  options: WriteOptions = {},
): Promise<void> {
  const fs = options.writer ?? currentWriter;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempName(path);
  try {
    await fs.mkdir(dirname(path));
    await fs.writeNew(tmp, bytes);
  } catch (err) {
    await fs.remove(tmp).catch(() => {});
    throw toWriteFailure(err, path, bytes.length, options.hint);
  }
  try {
    // A hard link appears with its whole content at once, and fails when `path` exists.
    await fs.link(tmp, path);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) throw err;
    // No hard links on this file system: create it directly (its content follows a moment later).
    try {
      await fs.writeNew(path, bytes);
    } catch (err2) {
      if (err2 instanceof Deno.errors.AlreadyExists) throw err2;
      await fs.remove(path).catch(() => {});
      throw toWriteFailure(err2, path, bytes.length, options.hint);
    }
  } finally {
    await fs.remove(tmp).catch(() => {});
  }
}

/**
 * Remove temp files of atomic writes to `path` (`<path>.<pid>.<id>.tmp`) whose writing process is gone — what
 * a killed run leaves behind. Temp files of live processes (another run writing right now) are kept.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.startsWith(prefix) || !e.name.endsWith(".tmp")) continue;
      const m = /^\.(\d+)\.[a-z0-9]+\.tmp$/.exec(e.name.slice(prefix.length - 1));
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === Deno.pid || processAlive(pid)) continue;
      await currentWriter.remove(join(dir, e.name)).catch(() => {});
      removed.push(join(dir, e.name));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}
