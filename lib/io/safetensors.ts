/**
 * Reading and writing the safetensors format (a little-endian u64 header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw bytes). Weights and checkpoints are stored this way with
 * PyTorch names and layouts — never as pickles or code.
 * @module
 */
import { DamagedFileError, type FileKind, fileKindOf, UserError } from "../util/errors.ts";
import { writeFileAtomic, type WriteOptions } from "./atomic_write.ts";

/**
 * Metadata key holding the SHA-256 (hex) of a file's tensor bytes, written by {@link writeSafetensors} and
 * checked by {@link readSafetensors}, so a corrupt file is caught even when its size is right.
 */
export const DATA_SHA256_KEY = "data_sha256";

/** Data types this module reads. Floating types are returned as float32, integers as int32 or float64. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "U8" | "I8" | "BOOL";

/** One tensor of a safetensors file, decoded. */
export interface NamedTensor {
  /** Tensor shape (row-major). */
  shape: number[];
  /** The dtype as stored in the file. */
  dtype: SafetensorsDtype;
  /** Values: float32 for floating types, int32 for integer/bool types (int64 values are range-checked). */
  data: Float32Array | Int32Array;
}

/** A decoded safetensors file: tensors by name, plus the optional string metadata. */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Map<string, NamedTensor>;
  /** The `__metadata__` map (string values), empty when absent. */
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(
  name: string,
  dtype: SafetensorsDtype,
  bytes: Uint8Array,
  count: number,
  source: string,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      // A copy is 4-byte aligned; every platform we target is little-endian like the format.
      return new Float32Array(bytes.slice(0, count * 4).buffer);
    case "F64": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(count);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case "I64": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new UserError(`${source}: int64 tensor "${name}" holds a value outside the int32 range`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case "I32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case "U8":
    case "BOOL":
      return Int32Array.from(bytes.subarray(0, count));
    case "I8":
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, count));
  }
}

/**
 * Decode safetensors bytes; `source` names the file in error messages and `kind` says what it is (guessed
 * from the name when not given), which picks the advice of the {@link DamagedFileError} for a bad file.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "safetensors data",
  kind: FileKind = fileKindOf(source),
): SafetensorsFile {
  const bad = (why: string) =>
    new DamagedFileError(
      source,
      kind,
      `not a valid safetensors file (${why}); it may be truncated or of another format`,
    );
  if (bytes.length < 8) throw bad("it is shorter than the 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 1 || 8 + headerLen > bytes.length || headerLen > 100_000_000) {
    throw bad(`the header length ${headerLen} does not fit a ${bytes.length}-byte file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw bad("its JSON header does not parse");
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = e.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) throw bad(`tensor "${name}" has unsupported dtype ${e.dtype}`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw bad(`tensor "${name}" lacks shape/offsets`);
    }
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * BYTES[dtype] || dataStart + end > bytes.length || begin < 0) {
      throw bad(`tensor "${name}" has a byte range that does not match its shape or the file size`);
    }
    const slice = bytes.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { shape: e.shape, dtype, data: decode(name, dtype, slice, count, source) });
  }
  return { tensors, metadata };
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** What the file is (for the advice when it is missing or damaged); guessed from its name by default. */
  kind?: FileKind;
}

const MISSING_HINTS: Record<FileKind, string> = {
  checkpoint: "train without --resume to start over",
  model: "train it first (`deno task train`), or check --model_dir",
  density: "run `deno task eval` for this category first",
  weights: "download them with `deno task weights`, or check the path",
  bundle: "export it with `deno task export`, or check the path",
};

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function dataStartOf(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

/**
 * Read and decode a safetensors file, with a clear error when it is missing or malformed; when the file
 * records {@link DATA_SHA256_KEY}, its tensor bytes must match it.
 */
export async function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const kind = options.kind ?? fileKindOf(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${kind === "weights" ? "weights" : kind} file not found: ${path}`,
        MISSING_HINTS[kind],
      );
    }
    throw err;
  }
  const file = parseSafetensors(bytes, path, kind);
  const recorded = file.metadata[DATA_SHA256_KEY];
  if (recorded !== undefined && recorded !== await sha256Hex(bytes.subarray(dataStartOf(bytes)))) {
    throw new DamagedFileError(
      path,
      kind,
      "its tensor data does not match the checksum recorded in it (the file is corrupt)",
    );
  }
  return file;
}

/** A tensor to write: float32 data is stored as F32, int32 data as I64 (PyTorch's default integer type). */
export interface TensorToWrite {
  /** Tensor shape. */
  shape: number[];
  /** Values. */
  data: Float32Array | Int32Array;
}

/** Encode tensors (written in sorted name order) and optional string metadata as safetensors bytes. */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`tensor "${name}": shape [${t.shape}] does not match ${t.data.length} values`);
    }
    const size = t.data instanceof Float32Array ? count * 4 : count * 8;
    header[name] = {
      dtype: t.data instanceof Float32Array ? "F32" : "I64",
      shape: t.shape,
      data_offsets: [offset, offset + size],
    };
    offset += size;
  }
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of entries) {
    if (t.data instanceof Float32Array) {
      for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++, pos += 8) view.setBigInt64(pos, BigInt(t.data[i]), true);
    }
  }
  return out;
}

/**
 * Write tensors as a safetensors file atomically (a crash never leaves a half-written file), recording the
 * SHA-256 of the tensor bytes in the metadata ({@link DATA_SHA256_KEY}). `options` go to the atomic writer
 * (e.g. `keepPrevious`).
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
  options: WriteOptions = {},
): Promise<void> {
  const placeholder = "0".repeat(64);
  const bytes = serializeSafetensors(tensors, { ...metadata, [DATA_SHA256_KEY]: placeholder });
  const start = dataStartOf(bytes);
  const key = new TextEncoder().encode(`"${DATA_SHA256_KEY}":"${placeholder}"`);
  const header = bytes.subarray(8, start);
  let at = -1;
  for (let i = header.length - key.length; i >= 0 && at < 0; i--) {
    let same = true;
    for (let j = 0; j < key.length && same; j++) same = header[i + j] === key[j];
    if (same) at = i;
  }
  if (at < 0) throw new Error("writeSafetensors: checksum placeholder not found in the header");
  header.set(new TextEncoder().encode(await sha256Hex(bytes.subarray(start))), at + key.length - 65);
  await writeFileAtomic(path, bytes, options);
}
