/**
 * A tiny WebAssembly assembler for the kernels we generate (`wasm_gemm.ts`, `wasm_winograd_kernels.ts`):
 * instruction encoders that return byte arrays, a {@link Code} buffer to emit them into, and
 * {@link kernelModule}, which wraps function bodies into a module that imports the backend's memory.
 * Only the instructions those kernels use are here.
 * @module
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Instruction encoders. */
export const op = {
  get: (l: number) => [0x20, ...uleb(l)],
  set: (l: number) => [0x21, ...uleb(l)],
  tee: (l: number) => [0x22, ...uleb(l)],
  i32: (v: number) => [0x41, ...sleb(v)],
  f32: (v: number) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  divU: [0x6e],
  remU: [0x70],
  shl: [0x74],
  ltU: [0x49],
  ltS: [0x48],
  gtS: [0x4a],
  /** select: [a, b, condition] → condition ? a : b. */
  select: [0x1b],
  /** v128.load at an immediate byte offset (4-byte alignment hint). */
  load: (offset: number) => [0xfd, 0x00, 2, ...uleb(offset)],
  /** v128.load32_splat. */
  splat: (offset: number) => [0xfd, 0x09, 2, ...uleb(offset)],
  store: (offset: number) => [0xfd, 0x0b, 2, ...uleb(offset)],
  zero: [0xfd, 0x0c, ...new Array(16).fill(0)],
  fsplat: [0xfd, 0x13],
  fadd: [0xfd, 0xe4, 0x01],
  fsub: [0xfd, 0xe5, 0x01],
  fmul: [0xfd, 0xe6, 0x01],
  /** f32x4.relaxed_madd: a·b + c. */
  madd: [0xfd, 0x85, 0x02],
  feq: [0xfd, 0x41],
  and: [0xfd, 0x4e],
  /** v128.andnot: a & ~b. */
  andnot: [0xfd, 0x4f],
  or: [0xfd, 0x50],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
};

/** A function body being emitted. */
export class Code {
  readonly bytes: number[] = [];

  /** Append instructions (numbers or byte arrays). */
  emit(...parts: (number | number[])[]): this {
    for (const p of parts) typeof p === "number" ? this.bytes.push(p) : this.bytes.push(...p);
    return this;
  }
}

/** A generated function: its parameters (all i32), local declarations and code. */
export interface KernelFunction {
  name: string;
  params: number;
  /** Local groups after the parameters: [count, value type] (0x7f i32, 0x7b v128). */
  locals: [number, number][];
  code: number[];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/**
 * A module importing `env.memory` (shared, up to 4 GiB, or private) and exporting `functions` (each of type
 * (i32 × params) → ()).
 */
export function kernelModule(functions: KernelFunction[], sharedMemory: boolean): Uint8Array {
  const types = functions.map((f) => [0x60, ...uleb(f.params), ...new Array(f.params).fill(0x7f), 0]);
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bodies = functions.map((f) => {
    const body = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, ...limits]),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}
