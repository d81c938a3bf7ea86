/**
 * Streaming extraction of the official MVTec AD archive (`mvtec_anomaly_detection.tar.xz`, ~4.9 GB).
 *
 * The archive is read in chunks, decompressed by a WebAssembly xz decoder (`xz-decompress`, no native code)
 * or by the system `xz -dc`, and parsed by the tar reader below (ustar, GNU long names, pax headers); it is
 * never held in memory. Everything is written into a temporary folder inside the destination; only when
 * the whole archive has been read without error are the top-level folders (the categories) renamed into
 * place, one by one — a corrupt or truncated archive leaves no half-written category behind. Entries that
 * would land outside the destination (absolute paths, `..`, links pointing out) are refused. Links inside
 * the archive are written as copies of their (already extracted) target, so no symlink is ever created.
 *
 * A second run finds the marker file written after a successful extraction (or the official image counts)
 * and skips.
 * @module
 */

import { posix } from "node:path";
import { basename, join } from "node:path";
// Pure WebAssembly xz decoder (xz-embedded), no native code. TODO(lead): move to the import map.
import xzDecompress from "xz-decompress";
import { UserError } from "../util/errors.ts";
import { createProgress } from "../util/progress.ts";
import {
  countCategoryImages,
  type ExpectedCount,
  type ExpectedCounts,
  MVTEC_EXPECTED_COUNTS,
} from "./mvtec.ts";

// ---------------------------------------------------------------------------------------------------------
// Byte source: pull exact byte counts out of a stream of chunks.

interface ByteSource {
  /** Exactly `n` bytes, or `null` when the stream ends before the first byte; throws when it ends inside. */
  readExact(n: number): Promise<Uint8Array | null>;
  /** Yield the next `n` bytes as chunks (views; copy if kept); throws when the stream ends first. */
  chunks(n: number): AsyncGenerator<Uint8Array>;
  /** Read and discard everything until the end of the stream. */
  drain(): Promise<void>;
  /** Stop reading: releases (cancels) the underlying stream unless it has ended. */
  close(): Promise<void>;
  /** Bytes consumed so far. */
  readonly position: number;
}

/** Raised when the tar stream ends early or is malformed; turned into a {@link UserError} by the caller. */
class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarFormatError";
  }
}

function byteSource(iterable: AsyncIterable<Uint8Array>): ByteSource {
  const it = iterable[Symbol.asyncIterator]();
  let cur: Uint8Array = new Uint8Array(0);
  let off = 0;
  let ended = false;
  let position = 0;
  const fill = async (): Promise<boolean> => {
    while (off >= cur.length) {
      if (ended) return false;
      const r = await it.next();
      if (r.done) {
        ended = true;
        return false;
      }
      cur = r.value;
      off = 0;
    }
    return true;
  };
  return {
    async readExact(n) {
      if (!(await fill())) return null;
      if (cur.length - off >= n) {
        const out = cur.subarray(off, off + n);
        off += n;
        position += n;
        return out;
      }
      const out = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        if (!(await fill())) throw new TarFormatError(`unexpected end of data at byte ${position + got}`);
        const take = Math.min(n - got, cur.length - off);
        out.set(cur.subarray(off, off + take), got);
        off += take;
        got += take;
      }
      position += n;
      return out;
    },
    async *chunks(n) {
      let left = n;
      while (left > 0) {
        if (!(await fill())) throw new TarFormatError(`unexpected end of data at byte ${position}`);
        const take = Math.min(left, cur.length - off);
        const view = cur.subarray(off, off + take);
        off += take;
        left -= take;
        position += take;
        yield view;
      }
    },
    async drain() {
      while (await fill()) {
        position += cur.length - off;
        off = cur.length;
      }
    },
    async close() {
      if (ended) return;
      ended = true;
      try {
        await it.return?.();
      } catch { /* the stream had already failed */ }
    },
    get position() {
      return position;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Tar reader.

/** Kind of a tar entry. */
export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

/** One entry of a tar archive, after GNU long-name and pax records have been applied. */
export interface TarEntry {
  /** Path inside the archive, exactly as stored (not yet validated). */
  path: string;
  /** Entry kind. */
  type: TarEntryType;
  /** The raw type flag character (`0`, `5`, `2`, …). */
  typeflag: string;
  /** Size of the data in bytes (0 for everything but files). */
  size: number;
  /** Permission bits. */
  mode: number;
  /** Modification time (seconds since the epoch). */
  mtime: number;
  /** Link target for symlinks and hardlinks. */
  linkTarget?: string;
}

/** An entry and its data. The data must be consumed (or left alone) before asking for the next entry. */
export interface TarItem {
  /** Header fields. */
  entry: TarEntry;
  /** The entry's data as chunks (views into the stream's buffers; copy them to keep them). */
  body: AsyncIterable<Uint8Array>;
}

const decoder = new TextDecoder("utf-8");

function cString(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul >= 0 ? field.subarray(0, nul) : field);
}

function parseNumber(block: Uint8Array, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if (field[0] & 0x80) {
    // GNU base-256: big-endian two's complement, high bit of the first byte set.
    if (field[0] & 0x40) throw new TarFormatError(`negative ${what} in tar header`);
    let v = field[0] & 0x3f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`${what} too large in tar header`);
    return v;
  }
  const text = cString(block, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`invalid ${what} field "${text}" in tar header`);
  return parseInt(text, 8);
}

function checksumOk(block: Uint8Array): boolean {
  const stored = parseNumber(block, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < 512; i++) if (block[i] !== 0) return false;
  return true;
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(decoder.decode(data.subarray(i, space)), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) {
      throw new TarFormatError("malformed pax extended header");
    }
    const record = decoder.decode(data.subarray(space + 1, i + len - 1)); // drop trailing "\n"
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

const padded = (n: number) => Math.ceil(n / 512) * 512;

/**
 * Read a tar stream entry by entry (ustar, GNU `L`/`K` long names, pax `x`/`g` headers, GNU base-256 sizes).
 * Header checksums are verified. The stream must end with the end-of-archive marker (a zero block);
 * anything else is reported as a truncated archive. After the marker the rest of the stream is drained
 * (so that a decompressor gets to verify its trailer).
 */
export async function* readTar(stream: AsyncIterable<Uint8Array>): AsyncGenerator<TarItem> {
  const src = byteSource(stream);
  try {
    yield* readEntries(src);
  } finally {
    await src.close();
  }
}

async function* readEntries(src: ByteSource): AsyncGenerator<TarItem> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let paxGlobal: Record<string, string> = {};
  while (true) {
    const block = await src.readExact(512);
    if (block === null) {
      throw new TarFormatError(`archive ends at byte ${src.position} without the end-of-archive marker`);
    }
    if (isZeroBlock(block)) {
      await src.drain();
      return;
    }
    if (!checksumOk(block)) {
      throw new TarFormatError(`bad tar header checksum at byte ${src.position - 512}`);
    }
    const typeflag = block[156] === 0 ? "0" : String.fromCharCode(block[156]);
    const size = parseNumber(block, 124, 12, "size");
    const magic = cString(block, 257, 6);
    const version = cString(block, 263, 2);
    const isPosixUstar = magic === "ustar" && version === "00";

    if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
      if (size > 16 * 1024 * 1024) throw new TarFormatError(`oversized ${typeflag} header (${size} bytes)`);
      const data = (await src.readExact(padded(size)) ?? new Uint8Array(0)).slice(0, size);
      if (data.length < size) throw new TarFormatError(`unexpected end of data at byte ${src.position}`);
      if (typeflag === "L") longName = cString(data, 0, data.length);
      else if (typeflag === "K") longLink = cString(data, 0, data.length);
      else if (typeflag === "x") pax = { ...pax, ...parsePax(data) };
      else paxGlobal = { ...paxGlobal, ...parsePax(data) };
      continue;
    }

    const attrs = { ...paxGlobal, ...pax };
    let path = cString(block, 0, 100);
    if (isPosixUstar) {
      const prefix = cString(block, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    if (longName !== undefined) path = longName;
    if (attrs.path !== undefined) path = attrs.path;
    let linkTarget: string | undefined = cString(block, 157, 100);
    if (longLink !== undefined) linkTarget = longLink;
    if (attrs.linkpath !== undefined) linkTarget = attrs.linkpath;
    let dataSize = size;
    if (attrs.size !== undefined) {
      if (!/^\d+$/.test(attrs.size)) throw new TarFormatError(`invalid pax size "${attrs.size}"`);
      dataSize = Number(attrs.size);
    }
    longName = longLink = undefined;
    pax = {};

    const type: TarEntryType = typeflag === "0" || typeflag === "7"
      ? "file"
      : typeflag === "5"
      ? "directory"
      : typeflag === "2"
      ? "symlink"
      : typeflag === "1"
      ? "hardlink"
      : "other";
    // Only regular files carry data we hand out; anything else with a size (rare) is skipped.
    const bodySize = type === "file" ? dataSize : 0;
    const entry: TarEntry = {
      path,
      type,
      typeflag,
      size: bodySize,
      mode: parseNumber(block, 100, 8, "mode"),
      mtime: parseNumber(block, 136, 12, "mtime"),
    };
    if (type === "symlink" || type === "hardlink") entry.linkTarget = linkTarget;

    let consumed = 0;
    const body = (async function* () {
      for await (const chunk of src.chunks(bodySize - consumed)) {
        consumed += chunk.length;
        yield chunk;
      }
    })();
    yield { entry, body };
    // Skip what the consumer left unread, then the padding (and the data of non-file entries).
    for await (const _ of src.chunks(bodySize - consumed)) { /* skip */ }
    const rest = padded(dataSize) - dataSize + (type === "file" ? 0 : dataSize);
    if (rest > 0) { for await (const _ of src.chunks(rest)) { /* skip */ } }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Path safety.

/**
 * Validate a path from an archive and return it normalised (forward slashes, no `.` segments, no trailing
 * slash), or throw a {@link UserError} when it is absolute, contains `..`, a backslash, a NUL or a drive
 * letter — i.e. anything that could land outside the destination.
 */
export function safeArchivePath(path: string, archive: string): string {
  const refuse = (why: string) =>
    new UserError(
      `refusing archive entry "${path}" in ${archive}: ${why}`,
      "the archive is not a genuine MVTec AD archive or has been tampered with; nothing was written " +
        "outside the destination; download it again from MVTec",
    );
  if (path.includes("\0")) throw refuse("the name contains a NUL byte");
  if (path.includes("\\")) throw refuse("the name contains a backslash");
  if (path.startsWith("/")) throw refuse("absolute path");
  if (/^[A-Za-z]:/.test(path)) throw refuse("absolute (drive-letter) path");
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw refuse("the path contains '..' (would land outside the destination)");
  return parts.join("/");
}

// ---------------------------------------------------------------------------------------------------------
// Extraction.

/** Which xz decoder to use. */
export type XzDecoder = "auto" | "wasm" | "system";

/** Options of {@link extractMvtec}. */
export interface ExtractOptions {
  /**
   * Expected image counts per category to verify after extraction (and to recognise an earlier complete
   * extraction). Default: the official MVTec AD numbers ({@link MVTEC_EXPECTED_COUNTS}). `null` skips the
   * count check (e.g. for a custom archive).
   */
  expectedCounts?: ExpectedCounts | null;
  /** On a count mismatch: throw a {@link UserError} (`true`, default) or only warn (`false`). */
  strictCounts?: boolean;
  /**
   * `wasm`: the bundled WebAssembly decoder; `system`: spawn `xz -dc`; `auto` (default): wasm, falling back
   * to the system `xz` for streams the wasm decoder does not support (SHA-256 checks).
   */
  decoder?: XzDecoder;
  /** Extract again even when the destination already holds a complete extraction. */
  force?: boolean;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Where warnings go (default `console.warn`). */
  warn?: (message: string) => void;
}

/** What {@link extractMvtec} did. */
export interface ExtractResult {
  /** True when an earlier complete extraction was found and nothing was done. */
  skipped: boolean;
  /** Destination folder. */
  dest: string;
  /** Top-level folders of the archive now in `dest` (normally the category folders), sorted. */
  categories: string[];
  /** Image counts found per category. */
  counts: Record<string, ExpectedCount>;
  /** Human-readable count mismatches (empty when all match or when the check is off). */
  mismatches: string[];
  /** Files written (0 when skipped). */
  files: number;
}

const MARKER = ".mvtec-extract.json";
const TMP_PREFIX = ".extract-tmp-";
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

interface Marker {
  archive: string;
  size: number;
  mtime: number | null;
  categories: Record<string, ExpectedCount>;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function archiveHint(): string {
  return "download mvtec_anomaly_detection.tar.xz again from https://www.mvtec.com/company/research/datasets/" +
    "mvtec-ad (the download must be complete: ~4.9 GB)";
}

function compareCounts(
  found: Record<string, ExpectedCount>,
  expected: ExpectedCounts,
): string[] {
  const out: string[] = [];
  for (const [cat, exp] of Object.entries(expected)) {
    const got = found[cat];
    if (!got) out.push(`${cat}: missing (expected ${exp.train} train / ${exp.test} test images)`);
    else if (got.train !== exp.train || got.test !== exp.test) {
      out.push(
        `${cat}: found ${got.train} train / ${got.test} test images, expected ${exp.train} / ${exp.test}`,
      );
    }
  }
  return out;
}

async function countAll(dest: string, names: string[]): Promise<Record<string, ExpectedCount>> {
  const counts: Record<string, ExpectedCount> = {};
  for (const n of names) {
    if ((await statOrNull(join(dest, n, "train")))?.isDirectory) {
      counts[n] = await countCategoryImages(join(dest, n));
    }
  }
  return counts;
}

/** An earlier complete extraction, or null. */
async function findPrevious(
  archive: string,
  archiveInfo: Deno.FileInfo,
  dest: string,
  expected: ExpectedCounts | null,
): Promise<ExtractResult | null> {
  let marker: Marker | null = null;
  try {
    marker = JSON.parse(await Deno.readTextFile(join(dest, MARKER))) as Marker;
  } catch {
    marker = null;
  }
  if (
    marker && marker.archive === basename(archive) && marker.size === archiveInfo.size &&
    marker.mtime === (archiveInfo.mtime?.getTime() ?? null)
  ) {
    const names = Object.keys(marker.categories).sort();
    const counts = await countAll(dest, names);
    const ok = compareCounts(counts, marker.categories).length === 0 &&
      (!expected || compareCounts(counts, expected).length === 0);
    if (ok) return { skipped: true, dest, categories: names, counts, mismatches: [], files: 0 };
  }
  if (expected && Object.keys(expected).length > 0) {
    const names = Object.keys(expected).sort();
    const counts = await countAll(dest, names);
    if (compareCounts(counts, expected).length === 0) {
      return { skipped: true, dest, categories: names, counts, mismatches: [], files: 0 };
    }
  }
  return null;
}

/** A chunk stream over a file that counts the bytes read; `close` closes the file (once). */
function fileChunks(
  file: Deno.FsFile,
  onBytes: (n: number) => void,
): { stream: ReadableStream<Uint8Array>; close: () => void } {
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (closed) {
        controller.close();
        return;
      }
      const buf = new Uint8Array(1 << 20);
      const n = await file.read(buf);
      if (n === null) {
        close();
        controller.close();
        return;
      }
      onBytes(n);
      controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 2 });
  return { stream, close };
}

interface Decompressed {
  /** Decompressed (tar) bytes. */
  stream: AsyncIterable<Uint8Array>;
  /** Resolves when the decompressor finished successfully; rejects with its error. */
  finished(): Promise<void>;
  /** Whether the decompressed stream has reached its end (the decompressor then has its verdict). */
  ended(): boolean;
  /** Stop early (on an error of ours). */
  abort(): Promise<void>;
}

const XZ_ERRORS: Record<string, string> = {
  "2": "unsupported integrity check",
  "3": "out of memory",
  "4": "memory limit reached",
  "5": "not a valid xz stream (format error)",
  "6": "unsupported xz options (e.g. a SHA-256 integrity check)",
  "7": "corrupt compressed data (integrity check failed)",
  "8": "unexpected end of the compressed data (the archive is truncated)",
};

class XzOptionsError extends Error {}

function wasmXz(source: ReadableStream<Uint8Array>): Decompressed {
  const xz = new xzDecompress.XzReadableStream(source);
  const reader = xz.getReader();
  let done = false;
  const cancel = async () => {
    if (!done) {
      done = true;
      await reader.cancel().catch(() => {});
    }
  };
  const stream = (async function* () {
    try {
      while (true) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          done = true;
          const msg = err instanceof Error ? err.message : String(err);
          const code = /error code (\d+)/.exec(msg)?.[1];
          if (code === "6" || code === "2") throw new XzOptionsError(XZ_ERRORS[code]);
          throw new TarFormatError(code && XZ_ERRORS[code] ? XZ_ERRORS[code] : `xz decoder failed: ${msg}`);
        }
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      await cancel();
    }
  })();
  return { stream, finished: () => Promise.resolve(), ended: () => done, abort: cancel };
}

function systemXz(source: ReadableStream<Uint8Array>): Decompressed {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("xz", { args: ["-dc"], stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        'the `xz` program was not found (needed for decoder: "system")',
        'install xz (Debian/Ubuntu: apt-get install xz-utils; macOS: brew install xz) or use decoder "wasm"',
      );
    }
    throw err;
  }
  const piping = source.pipeTo(child.stdin).catch(() => {});
  const stderr = new Response(child.stderr).text().catch(() => "");
  let ended = false;
  let killed = false;
  const stream = (async function* () {
    for await (const chunk of child.stdout) yield chunk;
    ended = true;
  })();
  return {
    stream,
    ended: () => ended,
    finished: async () => {
      const status = await child.status;
      await piping;
      const text = (await stderr).trim();
      if (!status.success) {
        throw new TarFormatError(`xz -dc failed (exit ${status.code})${text ? `: ${text}` : ""}`);
      }
    },
    abort: async () => {
      if (!killed && !ended) {
        killed = true;
        try {
          child.kill();
        } catch { /* already exited */ }
      }
      await child.stdout.cancel().catch(() => {});
      await child.status;
      await piping;
      await stderr;
    },
  };
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

/** Extract one tar stream into `tmp`; returns the number of files written. */
async function extractInto(
  tarStream: AsyncIterable<Uint8Array>,
  tmp: string,
  archive: string,
): Promise<number> {
  const written = new Set<string>(); // relative paths of regular files written
  const dirs = new Set<string>([""]);
  let files = 0;
  const ensureDir = async (rel: string) => {
    if (dirs.has(rel)) return;
    await Deno.mkdir(join(tmp, ...rel.split("/")), { recursive: true });
    let p = rel;
    while (p && !dirs.has(p)) {
      dirs.add(p);
      p = posix.dirname(p) === "." ? "" : posix.dirname(p);
    }
  };
  for await (const { entry, body } of readTar(tarStream)) {
    const rel = safeArchivePath(entry.path, archive);
    if (rel === "") continue; // "./" itself
    if (entry.type === "directory") {
      if (written.has(rel)) throw new TarFormatError(`entry ${entry.path} is both a file and a folder`);
      await ensureDir(rel);
      continue;
    }
    const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
    if (written.has(parent)) throw new TarFormatError(`entry ${entry.path} lies below a file`);
    if (dirs.has(rel)) throw new TarFormatError(`entry ${entry.path} is both a folder and a file`);
    if (entry.type === "file") {
      await ensureDir(parent);
      const file = await Deno.open(join(tmp, ...rel.split("/")), {
        write: true,
        create: true,
        truncate: true,
      });
      try {
        for await (const chunk of body) await writeAll(file, chunk);
      } finally {
        file.close();
      }
      written.add(rel);
      files++;
    } else if (entry.type === "symlink" || entry.type === "hardlink") {
      const target = entry.linkTarget ?? "";
      const refuse = (why: string) =>
        new UserError(
          `refusing ${entry.type} "${entry.path}" -> "${target}" in ${archive}: ${why}`,
          "the archive is not a genuine MVTec AD archive or has been tampered with; nothing was written " +
            "outside the destination",
        );
      if (target.startsWith("/") || /^[A-Za-z]:/.test(target) || target.includes("\\")) {
        throw refuse("the link points outside the destination (absolute target)");
      }
      // Symlink targets are relative to the link's folder; hardlink targets to the archive root.
      const joined = entry.type === "symlink"
        ? posix.normalize(posix.join(parent || ".", target))
        : posix.normalize(target);
      if (joined === ".." || joined.startsWith("../")) {
        throw refuse("the link points outside the destination");
      }
      const resolved = joined === "." ? "" : joined.replace(/\/$/, "");
      if (!written.has(resolved)) {
        throw refuse("links are only supported to files stored earlier in the archive");
      }
      await ensureDir(parent);
      await Deno.copyFile(join(tmp, ...resolved.split("/")), join(tmp, ...rel.split("/")));
      written.add(rel);
      files++;
    } else {
      throw new UserError(
        `refusing archive entry "${entry.path}" in ${archive}: unsupported entry type '${entry.typeflag}' ` +
          `(device, FIFO or similar)`,
        "an MVTec AD archive holds only folders and files; download it again",
      );
    }
  }
  return files;
}

/** Find the folder inside `tmp` that holds the categories (the archive may wrap them in one folder). */
async function findRoot(tmp: string): Promise<string> {
  const top: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(tmp)) top.push(e);
  const hasTrain = async (dir: string) => (await statOrNull(join(dir, "train")))?.isDirectory ?? false;
  for (const e of top) if (e.isDirectory && await hasTrain(join(tmp, e.name))) return tmp;
  const dirsOnly = top.filter((e) => e.isDirectory);
  if (dirsOnly.length === 1 && top.length === 1) {
    const inner = join(tmp, dirsOnly[0].name);
    for await (const e of Deno.readDir(inner)) {
      if (e.isDirectory && await hasTrain(join(inner, e.name))) return inner;
    }
  }
  return tmp;
}

/** Move every top-level entry of `root` into `dest`, replacing what is there. Returns the folder names. */
async function moveIntoPlace(root: string, dest: string, tmp: string): Promise<string[]> {
  const names: { name: string; isDir: boolean }[] = [];
  for await (const e of Deno.readDir(root)) names.push({ name: e.name, isDir: e.isDirectory });
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const trash = join(tmp, ".replaced");
  const folders: string[] = [];
  for (const { name, isDir } of names) {
    if (join(root, name) === trash) continue;
    const target = join(dest, name);
    if (await statOrNull(target)) {
      // Move the old copy aside first, so the category is never missing or mixed.
      await Deno.mkdir(trash, { recursive: true });
      await Deno.rename(target, join(trash, name));
    }
    await Deno.rename(join(root, name), target);
    if (isDir) folders.push(name);
  }
  return folders;
}

async function removeStaleTemps(dest: string, warn: (m: string) => void): Promise<void> {
  for await (const e of Deno.readDir(dest)) {
    if (e.isDirectory && e.name.startsWith(TMP_PREFIX)) {
      warn(`removing a temporary folder left by an interrupted extraction: ${join(dest, e.name)}`);
      await Deno.remove(join(dest, e.name), { recursive: true });
    }
  }
}

async function sniff(archive: string): Promise<"xz" | "tar"> {
  const file = await Deno.open(archive);
  try {
    const head = new Uint8Array(512);
    let got = 0;
    while (got < head.length) {
      const n = await file.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got >= 6 && XZ_MAGIC.every((b, i) => head[i] === b)) return "xz";
    if (got >= 262 && decoder.decode(head.subarray(257, 262)) === "ustar") return "tar";
    throw new UserError(
      `${archive} is not an xz-compressed tar archive (${
        got === 0 ? "the file is empty" : "unknown format"
      })`,
      archiveHint(),
    );
  } finally {
    file.close();
  }
}

/**
 * Extract the MVTec AD archive `archive` (`.tar.xz`, or a plain `.tar`) into `dest`, streaming.
 *
 * - Skips (returning `skipped: true`) when `dest` already holds a complete extraction: the marker file of an
 *   earlier run of the same archive with unchanged counts, or categories matching the expected counts.
 * - Writes into `dest/.extract-tmp-*` and renames the top-level folders into `dest` only after the whole
 *   archive was read without error; a corrupt or truncated archive raises a {@link UserError} naming it and
 *   leaves `dest` as it was (the temporary folder is removed).
 * - Refuses (with a {@link UserError}) entries with absolute paths, `..`, or links pointing out; nothing is
 *   written outside `dest`.
 * - Verifies the per-category image counts against `expectedCounts` (default: the official numbers).
 */
export async function extractMvtec(
  archive: string,
  dest: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const expected = options.expectedCounts === undefined ? MVTEC_EXPECTED_COUNTS : options.expectedCounts;
  const warn = options.warn ?? ((m: string) => console.warn(`warning: ${m}`));
  const st = await statOrNull(archive);
  if (!st) {
    throw new UserError(
      `archive not found: ${archive}`,
      "download mvtec_anomaly_detection.tar.xz from https://www.mvtec.com/company/research/datasets/mvtec-ad " +
        "(free, after accepting the licence) and put it in data/",
    );
  }
  if (!st.isFile) throw new UserError(`archive path is not a file: ${archive}`, archiveHint());
  const destSt = await statOrNull(dest);
  if (destSt && !destSt.isDirectory) {
    throw new UserError(
      `destination exists and is not a folder: ${dest}`,
      "choose another destination folder",
    );
  }
  await Deno.mkdir(dest, { recursive: true });

  if (!options.force) {
    const prev = await findPrevious(archive, st, dest, expected);
    if (prev) return prev;
  }
  const format = await sniff(archive);
  await removeStaleTemps(dest, warn);

  const run = async (decoderKind: "wasm" | "system" | "none"): Promise<ExtractResult> => {
    const tmp = await Deno.makeTempDir({ dir: dest, prefix: TMP_PREFIX });
    const progress = options.progress === false ? null : createProgress({
      label: `extract ${basename(archive)}`,
      total: Math.round(st.size / 1e5) / 10,
      unit: "MB",
    });
    let read = 0;
    const input = fileChunks(await Deno.open(archive), (n) => {
      read += n;
      progress?.update(Math.round(read / 1e5) / 10);
    });
    const source = input.stream;
    const dec: Decompressed = decoderKind === "wasm"
      ? wasmXz(source)
      : decoderKind === "system"
      ? systemXz(source)
      : {
        stream: source,
        finished: () => Promise.resolve(),
        ended: () => false,
        abort: () => Promise.resolve(),
      };
    let ok = false;
    try {
      let files: number;
      try {
        files = await extractInto(dec.stream, tmp, archive);
        await dec.finished();
      } catch (caught) {
        let err = caught;
        if (err instanceof TarFormatError && dec.ended()) {
          // The decompressor's own verdict (e.g. "xz: Unexpected end of input") says more than ours.
          await dec.finished().catch((e) => (err = e));
        }
        await dec.abort();
        if (err instanceof TarFormatError) {
          throw new UserError(
            `cannot extract ${archive}: ${err.message}; the archive is corrupt or incomplete ` +
              `(nothing was moved into ${dest})`,
            archiveHint(),
          );
        }
        throw err;
      }
      progress?.done();
      const root = await findRoot(tmp);
      const moved = await moveIntoPlace(root, dest, tmp);
      ok = true;
      const categories = moved.filter((n) => !n.startsWith(".")).sort();
      const counts = await countAll(dest, categories);
      const mismatches = expected ? compareCounts(counts, expected) : [];
      for (const c of categories) {
        if (expected && !(c in expected) && counts[c]) {
          warn(`unexpected category folder in the archive: ${c}`);
        }
      }
      if (mismatches.length > 0) {
        const message = `image counts after extracting ${archive} differ from the expected ones:\n    ` +
          mismatches.join("\n    ");
        if (options.strictCounts !== false) {
          throw new UserError(
            message,
            "the archive is not the official MVTec AD release (or was modified); download it again, or pass " +
              "expectedCounts: null to accept it as it is",
          );
        }
        warn(message);
      } else {
        const marker: Marker = {
          archive: basename(archive),
          size: st.size,
          mtime: st.mtime?.getTime() ?? null,
          categories: counts,
        };
        await Deno.writeTextFile(join(dest, MARKER), JSON.stringify(marker, null, 2) + "\n");
      }
      return { skipped: false, dest, categories, counts, mismatches, files };
    } finally {
      input.close();
      if (!ok) progress?.done("failed");
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  };

  if (format === "tar") return await run("none");
  const choice = options.decoder ?? "auto";
  if (choice === "system") return await run("system");
  try {
    return await run("wasm");
  } catch (err) {
    if (err instanceof XzOptionsError) {
      if (choice === "auto") {
        warn(`the built-in xz decoder cannot read ${archive} (${err.message}); retrying with the system xz`);
        return await run("system");
      }
      throw new UserError(
        `cannot decompress ${archive}: ${err.message}`,
        'use decoder "system" (needs the xz program installed)',
      );
    }
    throw err;
  }
}
