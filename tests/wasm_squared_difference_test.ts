/**
 * `SquaredDifference` on `wasm` (`lib/backend/kernels/SquaredDifference.ts`): with a per-channel row on
 * either side it is bit-identical to the stock kernel and to float32 arithmetic, (fround(a − b))² rounded
 * once; other shapes (full broadcasting, int32) still run, on the stock kernel, and give the same values.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertEquals } from "./assert.ts";
import { registerWasmTrainingKernels, wasmTrainingKernels } from "../lib/backend/kernels/register.ts";

function seeded(size: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

const CASES: [number[], number[]][] = [
  [[3, 5, 4, 16], [16]],
  [[16], [3, 5, 4, 16]],
  [[2, 3, 7], [1, 1, 7]],
  [[6, 8], [1, 8]],
  [[2, 3, 4, 5], [3, 1, 5]], // not a channel row: the stock kernel
  [[2, 3, 4, 5], [2, 3, 4, 5]],
];

async function compute(): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [i, [sa, sb]] of CASES.entries()) {
    const a = tf.tensor(seeded(tf.util.sizeFromShape(sa), 3 + i, 100), sa);
    const b = tf.tensor(seeded(tf.util.sizeFromShape(sb), 7 + i, 3), sb);
    const y = tf.squaredDifference(a, b);
    out.push((await y.data()) as Float32Array);
    tf.dispose([a, b, y]);
  }
  return out;
}

Deno.test("wasm SquaredDifference: per-channel rows are bit-identical to the stock kernel and to float32 arithmetic", async () => {
  assert(await tf.setBackend("wasm"));
  const kernels = wasmTrainingKernels() ?? registerWasmTrainingKernels();
  const ours = await compute();
  kernels.unregister();
  let stock: Float32Array[];
  try {
    stock = await compute();
  } finally {
    registerWasmTrainingKernels();
  }
  for (const [i, [sa, sb]] of CASES.entries()) {
    assertEquals(ours[i], stock[i], `${sa} vs ${sb}`);
    // Independent truth: float32 subtraction, then a float32 square.
    const a = seeded(tf.util.sizeFromShape(sa), 3 + i, 100);
    const b = seeded(tf.util.sizeFromShape(sb), 7 + i, 3);
    if (sa.length === 4 && sb.length === 3) continue; // full broadcasting: compared with the stock kernel only
    const out = tf.util.sizeFromShape(sa) >= tf.util.sizeFromShape(sb) ? sa : sb;
    const c = out[out.length - 1];
    const big = a.length >= b.length ? a : b;
    const small = a.length >= b.length ? b : a;
    const expected = new Float32Array(big.length);
    for (let k = 0; k < big.length; k++) {
      const d = Math.fround(big[k] - small[small.length === big.length ? k : k % c]);
      expected[k] = Math.fround(d * d);
    }
    assertEquals(ours[i], expected, `${sa} vs ${sb}: float32 formula`);
  }
  const i = tf.squaredDifference(tf.tensor([1, 5], [2], "int32"), tf.tensor([4], [1], "int32"));
  assertEquals(i.dtype, "int32");
  assertEquals(Array.from(await i.data()), [9, 1]);
  i.dispose();
});
