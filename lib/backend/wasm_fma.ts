/**
 * Fused multiply-add for the XNNPACK kernels of the TensorFlow.js `wasm` backend.
 *
 * tfjs-backend-wasm 4.22 ships binaries built for the original WebAssembly SIMD set, which has no fused
 * multiply-add: every inner product step of XNNPACK's GEMM and convolution micro-kernels is an
 * `f32x4.mul` followed by an `f32x4.add`, two instructions where an x86 core with FMA3 needs one. The
 * relaxed-SIMD extension (part of WebAssembly 3.0, on by default in V8) adds `f32x4.relaxed_madd(a, b, c)
 * = a·b + c`, which V8 compiles to `vfmadd…ps` where the CPU has FMA3 and to a multiply and an add where it
 * has not.
 *
 * {@link fuseMultiplyAdds} rewrites a binary's code section in place of recompiling it: it decodes every
 * function body instruction by instruction and replaces each sequence
 *
 * ```
 * f32x4.mul            ;; a·b  (a, b on the stack)
 * local.get $acc
 * f32x4.add            ;; a·b + acc
 * ```
 *
 * — the form clang emits for XNNPACK's `vacc = wasm_f32x4_add(wasm_f32x4_mul(va, vb), vacc)` — by
 * `local.get $acc; f32x4.relaxed_madd` padded with `nop`s to the same length. Nothing else moves, so section
 * sizes, function sizes and every offset stay valid. The only numerical change is that a·b is no longer
 * rounded before the addition (one rounding instead of two), which is at least as accurate.
 *
 * {@link withFusedMultiplyAdds} applies the rewrite to the binaries instantiated while it runs (the wasm
 * backend's initialisation), keeping the original wherever the rewritten one does not validate
 * (a runtime without relaxed SIMD); the backend's `wasm.fma` option turns it off.
 * @module
 */
import { uleb } from "./wasm_asm.ts";

/** What {@link fuseMultiplyAdds} did to one binary. */
export interface FusedBinary {
  /** The rewritten binary (a copy; the input is not modified). */
  bytes: Uint8Array;
  /** Multiply-add pairs replaced by `f32x4.relaxed_madd`. */
  fused: number;
}

const SIMD_PREFIX = 0xfd;
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_RELAXED_MADD = 0x105;
const LOCAL_GET = 0x20;
const CODE_SECTION = 10;

/** A cursor over a binary that reads LEB128 integers; throws on reads past the end. */
class Reader {
  constructor(readonly bytes: Uint8Array, public pos = 0) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("unexpected end of the WebAssembly binary");
    return this.bytes[this.pos++];
  }

  /** An unsigned (or, for skipping, signed) LEB128 number; values above 2^53 lose precision, harmlessly. */
  leb(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.bytes.length) throw new Error("unexpected end of the WebAssembly binary");
  }

  memarg(): void {
    const align = this.leb();
    if (align & 0x40) this.leb(); // multi-memory: a memory index follows
    this.leb();
  }
}

/** SIMD sub-opcodes with immediates: loads/stores (memarg), const/shuffle (16 bytes), lane ops (1 byte). */
function skipSimdImmediates(r: Reader, op: number): void {
  if (op <= 11 || op === 92 || op === 93) r.memarg();
  else if (op === 12 || op === 13) r.skip(16);
  else if (op >= 21 && op <= 34) r.skip(1);
  else if (op >= 84 && op <= 91) {
    r.memarg();
    r.skip(1);
  }
}

/** 0xFC (saturating truncation, bulk memory, tables) sub-opcodes with immediates. */
function skipMiscImmediates(r: Reader, op: number): void {
  if (op <= 7) return;
  if (op === 8) {
    r.leb();
    r.skip(1);
  } else if (op === 10) r.skip(2);
  else if (op === 11) r.skip(1);
  else if (op === 12 || op === 14) {
    r.leb();
    r.leb();
  } else r.leb(); // data.drop, elem.drop, table.grow/size/fill
}

/**
 * Decode one instruction at the reader's position and return its opcode (prefixed opcodes as
 * prefix·0x10000 + sub-opcode), leaving the reader after its immediates.
 */
function readInstruction(r: Reader): number {
  const op = r.byte();
  switch (op) {
    case 0x02: // block
    case 0x03: // loop
    case 0x04: // if
    case 0x06: { // try
      const t = r.bytes[r.pos];
      if (t === 0x40 || (t >= 0x6f && t <= 0x7f)) r.skip(1);
      else r.leb(); // a type index (s33)
      return op;
    }
    case 0x07: // catch
    case 0x08: // throw
    case 0x09: // rethrow
    case 0x0c: // br
    case 0x0d: // br_if
    case 0x10: // call
    case 0x12: // return_call
    case 0x18: // delegate
    case 0x20: // local.get
    case 0x21: // local.set
    case 0x22: // local.tee
    case 0x23: // global.get
    case 0x24: // global.set
    case 0x25: // table.get
    case 0x26: // table.set
    case 0xd2: // ref.func
      r.leb();
      return op;
    case 0x0e: { // br_table
      const n = r.leb();
      for (let i = 0; i <= n; i++) r.leb();
      return op;
    }
    case 0x11: // call_indirect
    case 0x13: // return_call_indirect
      r.leb();
      r.leb();
      return op;
    case 0x1c: { // select t*
      const n = r.leb();
      r.skip(n);
      return op;
    }
    case 0x3f: // memory.size
    case 0x40: // memory.grow
    case 0xd0: // ref.null
      r.skip(1);
      return op;
    case 0x41: // i32.const
    case 0x42: // i64.const
      r.leb();
      return op;
    case 0x43:
      r.skip(4);
      return op;
    case 0x44:
      r.skip(8);
      return op;
    case 0xfc: {
      const sub = r.leb();
      skipMiscImmediates(r, sub);
      return 0xfc0000 + sub;
    }
    case 0xfd: {
      const sub = r.leb();
      skipSimdImmediates(r, sub);
      return 0xfd0000 + sub;
    }
    case 0xfe: { // atomics: fence has one byte, everything else a memarg
      const sub = r.leb();
      if (sub === 0x03) r.skip(1);
      else r.memarg();
      return 0xfe0000 + sub;
    }
    default:
      if (op >= 0x28 && op <= 0x3e) r.memarg(); // loads and stores
      return op;
  }
}

/** Stack effect [pops, pushes] of the plain (non-control) MVP instructions, or null. */
function mvpEffect(op: number): [number, number] | null {
  if (op === 0x01) return [0, 0]; // nop
  if (op === 0x1a) return [1, 0]; // drop
  if (op === 0x1b || op === 0x1c) return [3, 1]; // select
  if (op === 0x20 || op === 0x23) return [0, 1]; // local.get, global.get
  if (op === 0x21 || op === 0x24) return [1, 0]; // local.set, global.set
  if (op === 0x22) return [1, 1]; // local.tee
  if (op >= 0x28 && op <= 0x35) return [1, 1]; // loads
  if (op >= 0x36 && op <= 0x3e) return [2, 0]; // stores
  if (op >= 0x41 && op <= 0x44) return [0, 1]; // constants
  if (op === 0x45 || op === 0x50) return [1, 1]; // eqz
  if (op >= 0x46 && op <= 0x66) return [2, 1]; // comparisons
  if ((op >= 0x67 && op <= 0x69) || (op >= 0x79 && op <= 0x7b)) return [1, 1]; // clz, ctz, popcnt
  if ((op >= 0x6a && op <= 0x78) || (op >= 0x7c && op <= 0x8a)) return [2, 1]; // integer arithmetic
  if ((op >= 0x8b && op <= 0x91) || (op >= 0x99 && op <= 0x9f)) return [1, 1]; // float unary
  if ((op >= 0x92 && op <= 0x98) || (op >= 0xa0 && op <= 0xa6)) return [2, 1]; // float binary
  if (op >= 0xa7 && op <= 0xc4) return [1, 1]; // conversions, reinterpretations, sign extension
  return null;
}

/** Stack effect of the SIMD instructions XNNPACK's float kernels are made of, or null for the others. */
function simdEffect(sub: number): [number, number] | null {
  if (sub <= 0x0a || sub === 0x5c || sub === 0x5d) return [1, 1]; // loads
  if (sub === 0x0b) return [2, 0]; // v128.store
  if (sub === 0x0c) return [0, 1]; // v128.const
  if (sub === 0x0d || sub === 0x0e) return [2, 1]; // shuffle, swizzle
  if (sub >= 0x0f && sub <= 0x14) return [1, 1]; // splats
  if (sub >= 0x15 && sub <= 0x22) { // extract_lane (1 → 1) / replace_lane (2 → 1)
    return [0x15, 0x16, 0x18, 0x19, 0x1b, 0x1d, 0x1f, 0x21].includes(sub) ? [1, 1] : [2, 1];
  }
  if (sub >= 0x23 && sub <= 0x4c) return [2, 1]; // comparisons
  if (sub === 0x4d || sub === 0x53) return [1, 1]; // not, any_true
  if (sub >= 0x4e && sub <= 0x51) return [2, 1]; // and, andnot, or, xor
  if (sub === 0x52) return [3, 1]; // bitselect
  if (sub >= 0x54 && sub <= 0x57) return [2, 1]; // load_lane
  if (sub >= 0x58 && sub <= 0x5b) return [2, 0]; // store_lane
  if (sub === 0x5e || sub === 0x5f || (sub >= 0x67 && sub <= 0x6a)) return [1, 1]; // demote, promote, rounding
  if (sub === 0xe0 || sub === 0xe1 || sub === 0xe3 || sub === 0xec || sub === 0xed || sub === 0xef) {
    return [1, 1]; // abs, neg, sqrt
  }
  if ((sub >= 0xe4 && sub <= 0xeb) || (sub >= 0xf0 && sub <= 0xf7)) return [2, 1]; // float arithmetic
  if (sub >= 0xf8 && sub <= 0xff) return [1, 1]; // conversions
  return null;
}

/** A change to a function body: replace bytes [at, end) by `bytes`. */
interface Edit {
  at: number;
  end: number;
  bytes: number[] | ((temp: number) => number[]);
  /** For the stash of a nested multiply-add: the end of the window in which its temporary is live. */
  liveUntil?: number;
}

const MADD = [SIMD_PREFIX, ...uleb(F32X4_RELAXED_MADD)];

/**
 * Find the multiply-adds of one function body and return the rewritten body (or null when there are none).
 *
 * Two shapes occur. `mul; local.get $acc; add` (a·b + acc) becomes `local.get $acc; relaxed_madd`. In
 * `X; a…; b…; mul; add` (X + a·b, X any expression — the chained sums of XNNPACK's "splat" kernels) the sum
 * X lies *under* a and b on the stack, where `relaxed_madd` wants it on top, so X is stashed in a fresh v128
 * local where a's instructions begin and fetched again before the fused instruction:
 * `local.set $t; a…; b…; local.get $t; relaxed_madd`. Where a begins is found by following the stack:
 * every value remembers the offset of the first instruction that computes it, through the plain
 * instructions whose stack effect is known; anything else (control flow, calls, other opcodes) forgets what
 * is on the stack, so a shape is only rewritten when its operands were followed instruction by instruction.
 * Stashes can nest (a multiply-add inside a); nested ones get a local of their own.
 */
function fuseInBody(body: Uint8Array, params: number): { body: Uint8Array; fused: number } | null {
  const r = new Reader(body);
  const groups = r.leb();
  let locals = params;
  for (let i = 0; i < groups; i++) {
    locals += r.leb();
    const t = r.byte();
    if (t === 0x63 || t === 0x64) r.leb(); // (ref null? typeidx)
  }
  const codeStart = r.pos;
  const edits: Edit[] = [];
  // The start offset of each value on the stack; -1 when it is not known.
  let stack: number[] = [];
  // The last two instructions: opcode and start offset.
  let op1 = -1, at1 = 0, op2 = -1, at2 = 0;
  while (r.pos < body.length) {
    const at = r.pos;
    const op = readInstruction(r);
    if (op === 0xfd0000 + F32X4_ADD && op1 === LOCAL_GET && op2 === 0xfd0000 + F32X4_MUL) {
      // [a, b] mul → [a·b]; get → [a·b, acc]; add  ⇒  [a, b] get → [a, b, acc]; madd.
      const get = Array.from(body.subarray(at1, at));
      edits.push({ at: at2, end: r.pos, bytes: [...get, ...MADD] });
    } else if (op === 0xfd0000 + F32X4_ADD && op1 === 0xfd0000 + F32X4_MUL && stack.length >= 1) {
      const product = stack[stack.length - 1];
      if (product >= 0) {
        edits.push({ at: product, end: product, bytes: (t) => [0x21, ...uleb(t)], liveUntil: at1 });
        edits.push({ at: at1, end: r.pos, bytes: (t) => [LOCAL_GET, ...uleb(t), ...MADD], liveUntil: at1 });
      }
    }
    const effect = op >= 0xfd0000 && op < 0xfe0000
      ? simdEffect(op - 0xfd0000)
      : op < 0x100
      ? mvpEffect(op)
      : null;
    if (effect == null) stack = [];
    else {
      const [pops, pushes] = effect;
      let start = at;
      for (let i = 0; i < pops; i++) {
        const s = stack.length > 0 ? stack.pop()! : -1;
        start = s < 0 || start < 0 ? -1 : s;
      }
      if (pushes === 1) stack.push(start);
    }
    op2 = op1;
    at2 = at1;
    op1 = op;
    at1 = at;
  }
  if (edits.length === 0) return null;

  // Temporaries: one per nesting level of the stash windows [stash, fused instruction].
  edits.sort((a, b) => a.at - b.at || a.end - a.at - (b.end - b.at));
  const open: number[] = [];
  let temps = 0;
  const pending = new Map<number, number>(); // liveUntil → temp, for the fused instruction of a stash
  const out: number[] = [];
  let pos = codeStart;
  for (const e of edits) {
    if (e.at < pos) throw new Error("overlapping multiply-add rewrites");
    for (let i = pos; i < e.at; i++) out.push(body[i]);
    let bytes: number[];
    if (typeof e.bytes === "function") {
      if (e.at === e.end) {
        while (open.length > 0 && open[open.length - 1] < e.at) open.pop();
        const temp = locals + open.length;
        temps = Math.max(temps, open.length + 1);
        open.push(e.liveUntil!);
        pending.set(e.liveUntil!, temp);
        bytes = e.bytes(temp);
      } else {
        bytes = e.bytes(pending.get(e.liveUntil!)!);
      }
    } else bytes = e.bytes;
    out.push(...bytes);
    pos = e.end;
  }
  for (let i = pos; i < body.length; i++) out.push(body[i]);

  const head = [...uleb(groups + (temps > 0 ? 1 : 0))];
  head.push(...body.subarray(uleb(groups).length, codeStart));
  if (temps > 0) head.push(...uleb(temps), 0x7b);
  const fused = edits.filter((e) => e.at !== e.end).length;
  return { body: new Uint8Array([...head, ...out]), fused };
}

/** Parameter counts of the module's defined functions, in code-section order. */
function definedFunctionParams(sections: Map<number, Uint8Array>): number[] {
  const typeParams: number[] = [];
  const types = sections.get(1);
  if (types) {
    const r = new Reader(types);
    for (let n = r.leb(), i = 0; i < n; i++) {
      if (r.byte() !== 0x60) throw new Error("unsupported type in the type section");
      const p = r.leb();
      typeParams.push(p);
      r.skip(p);
      r.skip(r.leb());
    }
  }
  const fns = sections.get(3);
  const out: number[] = [];
  if (fns) {
    const r = new Reader(fns);
    for (let n = r.leb(), i = 0; i < n; i++) out.push(typeParams[r.leb()]);
  }
  return out;
}

/**
 * Replace XNNPACK's SIMD multiply-adds in a WebAssembly binary by fused `f32x4.relaxed_madd` instructions
 * (see the module documentation and {@link fuseInBody}). Throws on a malformed binary; the result still has
 * to be validated by the runtime (relaxed SIMD support).
 */
export function fuseMultiplyAdds(binary: Uint8Array): FusedBinary {
  const r = new Reader(binary);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  for (const m of magic) {
    if (r.byte() !== m) throw new Error("not a WebAssembly binary");
  }
  r.skip(4);
  const sections: { id: number; content: Uint8Array }[] = [];
  while (r.pos < binary.length) {
    const id = r.byte();
    const size = r.leb();
    const start = r.pos;
    r.skip(size);
    sections.push({ id, content: binary.subarray(start, start + size) });
  }
  const byId = new Map(sections.filter((s) => s.id !== 0).map((s) => [s.id, s.content]));
  const params = definedFunctionParams(byId);
  let fused = 0;
  const parts: Uint8Array[] = [binary.subarray(0, 8)];
  for (const section of sections) {
    let content = section.content;
    if (section.id === CODE_SECTION) {
      const c = new Reader(content);
      const count = c.leb();
      const bodies: Uint8Array[] = [new Uint8Array(uleb(count))];
      for (let f = 0; f < count; f++) {
        const size = c.leb();
        const body = content.subarray(c.pos, c.pos + size);
        c.skip(size);
        const rewritten = fuseInBody(body, params[f] ?? 0);
        if (rewritten) fused += rewritten.fused;
        const next = rewritten?.body ?? body;
        bodies.push(new Uint8Array(uleb(next.length)), next);
      }
      content = concat(bodies);
    }
    parts.push(new Uint8Array([section.id, ...uleb(content.length)]), content);
  }
  return { bytes: concat(parts), fused };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Whether this runtime accepts relaxed SIMD (a one-function module using `f32x4.relaxed_madd`). */
export function relaxedSimdSupported(): boolean {
  // (func (result v128) v128.const 0 v128.const 0 v128.const 0 f32x4.relaxed_madd)
  const zeros = new Array(16).fill(0);
  const body = [
    0x00,
    0xfd,
    0x0c,
    ...zeros,
    0xfd,
    0x0c,
    ...zeros,
    0xfd,
    0x0c,
    ...zeros,
    0xfd,
    0x85,
    0x02,
    0x0b,
  ];
  const module = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type: () -> v128
    ...[0x03, 0x02, 0x01, 0x00], // function 0 has type 0
    ...[0x0a, body.length + 2, 0x01, body.length, ...body],
  ];
  try {
    return WebAssembly.validate(new Uint8Array(module) as BufferSource);
  } catch {
    return false;
  }
}

/** What {@link withFusedMultiplyAdds} did, for the backend description. */
export interface FmaOutcome {
  /** Multiply-add pairs fused in the binaries instantiated (the most in one; 0: none rewritten). */
  fused: number;
  /** Why nothing was fused, when nothing was. */
  reason?: string;
}

function asBytes(source: unknown): Uint8Array | null {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return null;
}

/**
 * Run `init` (which instantiates the tfjs wasm binary) with `WebAssembly.instantiate` rewriting the binaries it
 * is given by {@link fuseMultiplyAdds}; a binary that does not rewrite or validate is instantiated as it came.
 * `WebAssembly.instantiate` is restored when `init` settles. With `enabled` false, `init` just runs.
 */
export async function withFusedMultiplyAdds<T>(
  init: () => Promise<T>,
  enabled = true,
): Promise<{ result: T; fma: FmaOutcome }> {
  const fma: FmaOutcome = { fused: 0 };
  if (!enabled) return { result: await init(), fma: { fused: 0, reason: "turned off" } };
  if (!relaxedSimdSupported()) {
    return { result: await init(), fma: { fused: 0, reason: "no relaxed SIMD in this runtime" } };
  }
  const original = WebAssembly.instantiate;
  const patched = function (source: unknown, imports?: WebAssembly.Imports) {
    const bytes = asBytes(source);
    if (bytes) {
      try {
        const rewritten = fuseMultiplyAdds(bytes);
        if (rewritten.fused > 0 && WebAssembly.validate(rewritten.bytes as BufferSource)) {
          fma.fused = Math.max(fma.fused, rewritten.fused);
          source = rewritten.bytes;
        } else if (rewritten.fused > 0) fma.reason = "the rewritten binary did not validate";
      } catch (e) {
        fma.reason = `the binary could not be decoded (${e instanceof Error ? e.message : e})`;
      }
    }
    return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(source, imports);
  };
  WebAssembly.instantiate = patched as typeof WebAssembly.instantiate;
  try {
    const result = await init();
    if (fma.fused === 0) fma.reason ??= "no binary was instantiated from bytes";
    return { result, fma };
  } finally {
    WebAssembly.instantiate = original;
  }
}
