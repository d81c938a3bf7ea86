/**
 * The fused multiply-add rewrite (`lib/backend/wasm_fma.ts`) and our k-major GEMM (`lib/backend/wasm_gemm.ts`):
 * the rewrite keeps a hand-made module's results exact (both multiply-add shapes, a nested one included) and
 * leaves the shipped tfjs binaries valid; the GEMM matches a float64 reference for odd strides, offsets,
 * accumulation and batches, on a private and on a shared memory with two threads.
 * @module
 */
import { assert, assertEquals, assertLess } from "./assert.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fuseMultiplyAdds, relaxedSimdSupported } from "../lib/backend/wasm_fma.ts";
import { createGemmEngine, GEMM_KU, GEMM_MR, GEMM_NR, type GemmCall } from "../lib/backend/wasm_gemm.ts";
import { winogradTileBlock } from "../lib/backend/wasm_conv_gemm.ts";

const f32const = (v: number) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)];
const SPLAT = [0xfd, 0x13];
const MUL = [0xfd, 0xe6, 0x01];
const ADD = [0xfd, 0xe4, 0x01];

/** A module exporting f(x: f32) → f32 whose body is `code` (one v128 local, index 1). */
function moduleWith(code: number[]): Uint8Array {
  const body = [1, 1, 0x7b, ...code, 0x0b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x06, 0x01, 0x60, 0x01, 0x7d, 0x01, 0x7d],
    ...[0x03, 0x02, 0x01, 0x00],
    ...[0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00],
    ...[0x0a, body.length + 2, 0x01, body.length, ...body],
  ]);
}

const x = [0x20, 0x00, ...SPLAT]; // splat(x)
const c = (v: number) => [...f32const(v), ...SPLAT]; // splat(v)

/** x² + 1 (mul; local.get; add), then + 3x·5 where 3x = x + x·2 is itself a nested "X + a·b". */
const SAMPLE = [
  ...c(1),
  0x21,
  0x01, // one = splat(1)
  ...x,
  ...x,
  ...MUL,
  0x20,
  0x01,
  ...ADD, // X = x² + 1
  ...x,
  ...x,
  ...c(2),
  ...MUL,
  ...ADD, // a = x + x·2
  ...c(5),
  ...MUL,
  ...ADD, // X + a·5
  0xfd,
  0x1f,
  0x00, // f32x4.extract_lane 0
];

async function run(bytes: Uint8Array, v: number): Promise<number> {
  const { instance } = await WebAssembly.instantiate(bytes as BufferSource);
  return (instance.exports.f as (x: number) => number)(v);
}

Deno.test("wasm fma: both multiply-add shapes are fused and the results stay exact", async () => {
  const original = moduleWith(SAMPLE);
  assert(WebAssembly.validate(original as BufferSource));
  const { bytes, fused } = fuseMultiplyAdds(original);
  assertEquals(fused, 3);
  if (!relaxedSimdSupported()) return;
  assert(WebAssembly.validate(bytes as BufferSource), "the rewritten module does not validate");
  const text = Array.from(bytes).join(",");
  assert(text.includes("253,133,2"), "no f32x4.relaxed_madd in the rewritten module");
  assert(!text.includes(MUL.join(",")), "a multiplication was left unfused");
  for (const v of [0, 1, 2, -3, 7.5]) {
    const expected = v * v + 1 + 15 * v;
    assertEquals(await run(original, v), expected);
    assertEquals(await run(bytes, v), expected);
  }
});

Deno.test("wasm fma: a module without multiply-adds is returned unchanged", () => {
  const plain = moduleWith([...x, ...c(2), ...ADD, 0xfd, 0x1f, 0x00]);
  const { bytes, fused } = fuseMultiplyAdds(plain);
  assertEquals(fused, 0);
  assertEquals(bytes, plain);
});

Deno.test("wasm fma: the shipped tfjs binaries rewrite into valid modules", () => {
  const dir = fileURLToPath(new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url));
  for (const file of ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"]) {
    const { bytes, fused } = fuseMultiplyAdds(Deno.readFileSync(join(dir, file)));
    assertLess(1000, fused, `${file}: only ${fused} multiply-adds fused`);
    if (relaxedSimdSupported()) {
      assert(WebAssembly.validate(bytes as BufferSource), `${file} does not validate`);
    }
  }
});

Deno.test("wasm fma: a malformed binary is refused with a message", () => {
  let message = "";
  try {
    fuseMultiplyAdds(new Uint8Array([1, 2, 3, 4]));
  } catch (e) {
    message = (e as Error).message;
  }
  assertEquals(message, "not a WebAssembly binary");
});

/** Deterministic values in [-1, 1). */
function fill(view: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < view.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    view[i] = s / 2 ** 31 - 1;
  }
}

async function gemmMatchesReference(
  shared: boolean,
  threads: number,
  layout: "k-major" | "m-major",
  split: "columns" | "rows",
): Promise<number> {
  const memory = new WebAssembly.Memory(
    shared ? { initial: 64, maximum: 65536, shared: true } : { initial: 64 },
  );
  const engine = await createGemmEngine(memory, threads);
  if (!engine) return 0; // no relaxed SIMD: nothing to test
  try {
    const heap = new Float32Array(memory.buffer);
    fill(heap, 7);
    // A: rows of 20 floats from float 3 (k-major: a row per k, m = 12 of its columns used; m-major: a row
    // per m, k ≤ 16 columns used); B: rows of 36 from 5000 (columns 4..19: n = 16); C: rows of 24 from 20000,
    // first overwritten by a k = 10 product, then accumulating a k = 6 product over later parts of A and B.
    const m = 2 * GEMM_MR, n = 2 * GEMM_NR, lda = 20, ldb = 36, ldc = 24;
    const a0 = 3, b0 = 5000 + 4, c0 = 20000;
    const mMajor = layout === "m-major";
    const at = (i: number, k: number) => a0 + (mMajor ? i * lda + k : k * lda + i);
    const calls: GemmCall[] = [
      {
        layout,
        a: 4 * a0,
        lda: 4 * lda,
        b: 4 * b0,
        ldb: 4 * ldb,
        c: 4 * c0,
        ldc: 4 * ldc,
        m,
        n,
        k: 10,
        accumulate: false,
      },
      {
        layout,
        a: 4 * at(0, 10),
        lda: 4 * lda,
        b: 4 * (b0 + 10 * ldb),
        ldb: 4 * ldb,
        c: 4 * c0,
        ldc: 4 * ldc,
        m,
        n,
        k: 3 * GEMM_KU,
        accumulate: true,
      },
    ];
    const before = heap.slice();
    engine.run(calls, split);
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < 16; k++) sum += before[at(i, k)] * before[b0 + k * ldb + j];
        worst = Math.max(worst, Math.abs(heap[c0 + i * ldc + j] - sum));
      }
      // Outside the n columns of each row of C nothing changed.
      for (let j = n; j < ldc; j++) assertEquals(heap[c0 + i * ldc + j], before[c0 + i * ldc + j]);
    }
    return worst;
  } finally {
    engine.dispose();
  }
}

Deno.test("wasm gemm: products and accumulation match a float64 reference (one thread)", async () => {
  assertLess(await gemmMatchesReference(false, 1, "k-major", "columns"), 1e-5);
  assertLess(await gemmMatchesReference(false, 1, "m-major", "rows"), 1e-5);
});

Deno.test("wasm gemm: two threads on a shared memory split columns or rows and agree", async (t) => {
  for (const layout of ["k-major", "m-major"] as const) {
    for (const split of ["columns", "rows"] as const) {
      await t.step(`${layout}, ${split}`, async () => {
        assertLess(await gemmMatchesReference(true, 2, layout, split), 1e-5);
      });
    }
  }
});

Deno.test("wasm gemm: a shape off the register tiles is refused with a message", async () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const engine = await createGemmEngine(memory, 1);
  if (!engine) return;
  let message = "";
  try {
    engine.run([{ a: 0, lda: 28, b: 0, ldb: 32, c: 0, ldc: 32, m: 7, n: 8, k: 2, accumulate: false }]);
  } catch (e) {
    message = (e as Error).message;
  }
  assertEquals(message, `GEMM shape 7×8×2 is not a multiple of ${GEMM_MR}×${GEMM_NR}×${GEMM_KU}`);
});

Deno.test("wasm gemm: Winograd tile blocks are whole row tiles and keep every thread equally busy", () => {
  for (
    const [tiles, ci, co] of [[26136, 64, 64], [600, 512, 512], [200, 512, 512], [7, 16, 16], [2, 64, 8]]
  ) {
    for (const threads of [1, 2, 3]) {
      const block = winogradTileBlock(tiles, ci, co, threads);
      const blocks = Math.ceil(tiles / block);
      assertEquals(block % GEMM_MR, 0, `${tiles} tiles ${ci}→${co}: block ${block}`);
      if (tiles < threads * GEMM_MR) continue; // too few tiles for every thread
      assertLess(threads - 1, blocks, `${tiles} tiles: ${blocks} blocks`);
      // Threads get equal numbers of blocks, or so many that one more is a small difference.
      assert(
        blocks % threads === 0 || blocks >= 4 * threads,
        `${tiles} tiles, ${threads} threads: ${blocks}`,
      );
    }
  }
  // Large weights make large blocks: the 16 [512, 512] planes are read once per ~512 tiles, not per 16.
  assertLess(480, winogradTileBlock(26136, 512, 512, 1));
});
