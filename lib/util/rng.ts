/**
 * Seeded pseudo-random numbers (xoshiro128**), with a state that can be saved in a checkpoint and restored,
 * so that a resumed training run draws exactly the numbers an uninterrupted one would have drawn.
 * @module
 */

/** A seeded random source. `state` is four unsigned 32-bit words and can be saved and restored. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number;
  /** Standard normal draw (Box–Muller). */
  normal(): number;
  /** A copy of the current state (four uint32 words). */
  getState(): number[];
  /** Replace the state with one from {@link Rng.getState}. */
  setState(state: readonly number[]): void;
  /** A new independent generator seeded from this one. */
  fork(): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Create a generator from an integer seed; the same seed always yields the same sequence. */
export function createRng(seed: number): Rng {
  const sm = splitmix32(Math.floor(seed) >>> 0);
  const s = new Uint32Array([sm(), sm(), sm(), sm()]);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const rng: Rng = {
    next: () => nextU32() / 4294967296,
    uniform: (lo, hi) => lo + (hi - lo) * (nextU32() / 4294967296),
    int: (lo, hi) => lo + Math.floor((nextU32() / 4294967296) * (hi - lo + 1)),
    normal: () => {
      let u = 0;
      while (u === 0) u = nextU32() / 4294967296;
      const v = nextU32() / 4294967296;
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    getState: () => Array.from(s),
    setState: (state) => {
      if (state.length !== 4) throw new Error(`RNG state must have 4 words, got ${state.length}`);
      s.set(state.map((v) => v >>> 0));
    },
    fork: () => createRng(nextU32()),
  };
  return rng;
}

/** Shuffle an array in place (Fisher–Yates) with the given generator, and return it. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
