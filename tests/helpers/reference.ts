/**
 * The committed reference data of `tests/reference/` (made by its Python scripts, see its README), and the
 * seeded weights its ProjectionNet reference uses: every tensor is drawn with {@link createRng} from a seed
 * derived from its name, exactly as `tests/reference/reference_rng.py` draws it for PyTorch, so the random
 * weights are rebuilt here instead of being committed.
 * @module
 */
import { join } from "node:path";
import { createRng } from "../../lib/util/rng.ts";
import type { NamedTensor } from "../../lib/io/safetensors.ts";

/** The folder of the committed reference data. */
export const REFERENCE_DIR: string = join(import.meta.dirname!, "..", "reference");

/** Folder of the fixtures beside the project (present in some checkouts only). */
export const SHARED_FIXTURES_DIR: string = join(import.meta.dirname!, "..", "..", "..", "shared", "fixtures");

/** How one tensor is drawn: U[low, high) over its PyTorch shape, row-major. */
export interface WeightRule {
  /** PyTorch state-dict name. */
  name: string;
  /** PyTorch shape. */
  shape: number[];
  /** Lower bound (inclusive). */
  low: number;
  /** Upper bound (exclusive). */
  high: number;
}

/** The `weights` entry of a reference `config.json` that describes generated weights. */
export interface GeneratedWeights {
  /** Words on the generator (for people). */
  generator: string;
  /** Seed every tensor seed is derived from. */
  seed: number;
  /** Every parameter and BatchNorm buffer. */
  tensors: WeightRule[];
  /**
   * For a few tensors, as Python drew them: the first values, and the sum of the float32 bit patterns of all
   * values (as unsigned 32-bit integers) modulo 2³², which changes when any value differs in any bit.
   */
  checks?: Record<string, { first: number[]; bits_sum_mod_2_32: number }>;
}

/** Whether a config's `weights` entry describes generated weights (rather than naming a weights file). */
export function isGeneratedWeights(weights: unknown): weights is GeneratedWeights {
  const w = weights as GeneratedWeights | null;
  return typeof w === "object" && w !== null && typeof w.seed === "number" && Array.isArray(w.tensors);
}

/** Seed of one named tensor: FNV-1a (32-bit) over the UTF-8 bytes of `name`, started from `seed`. */
export function tensorSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** `count` float32 values U[low, high) from the generator of {@link tensorSeed}(seed, name). */
export function uniformTensor(
  seed: number,
  name: string,
  count: number,
  low: number,
  high: number,
): Float32Array {
  const rng = createRng(tensorSeed(seed, name));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.uniform(low, high);
  return out;
}

/** Build every tensor a {@link GeneratedWeights} entry lists, as PyTorch-named, PyTorch-layout tensors. */
export function generatedWeights(weights: GeneratedWeights): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const t of weights.tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    out.set(t.name, {
      shape: t.shape.slice(),
      dtype: "F32",
      data: uniformTensor(weights.seed, t.name, count, t.low, t.high),
    });
  }
  return out;
}

/** Sum of the bit patterns of float32 values (as unsigned 32-bit integers) modulo 2³². */
export function float32BitsSum(values: Float32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let sum = 0;
  for (const b of bits) sum = (sum + b) % 4294967296;
  return sum;
}

/** Read and parse a JSON file of the reference data (relative to {@link REFERENCE_DIR}). */
export async function readReferenceJson<T>(relPath: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(join(REFERENCE_DIR, relPath))) as T;
}

/**
 * Extra fixture folders to test against besides the committed reference: the folder in environment variable
 * `envName` when set (it must hold `marker`), otherwise `sharedSub` under the fixtures beside the project
 * when that folder holds `marker`.
 */
export async function extraFixtureDirs(
  envName: string,
  sharedSub: string,
  marker: string,
): Promise<string[]> {
  const fromEnv = Deno.env.get(envName);
  if (fromEnv) return [fromEnv];
  const shared = join(SHARED_FIXTURES_DIR, sharedSub);
  const present = await Deno.stat(join(shared, marker)).then(() => true, () => false);
  return present ? [shared] : [];
}
