/**
 * The im2col convolutions of `lib/backend/wasm_conv_im2col.ts` against the `cpu` backend's `Conv2D` and
 * `Conv2DBackpropFilter` (an independent implementation): strides 1 and 2, same / valid / explicit padding,
 * pixel counts that are not whole 6-row tiles nor even, kh·kw·ci not whole 6-row tiles, images split into
 * several blocks (an uneven last one); the routing of `im2colPreferred`; and the wasm `Conv2D` /
 * `Conv2DBackpropFilter` kernels on a 2×2 layer4-sized map taking the im2col product instead of Winograd.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import "../lib/backend/gradients.ts";
import { assert, assertEquals, assertLess } from "./assert.ts";
import { registerWasmTrainingKernels, wasmTrainingKernels } from "../lib/backend/kernels/register.ts";
import { createGemmEngine, type GemmCall } from "../lib/backend/wasm_gemm.ts";
import {
  conv2dByIm2col,
  filterGradByIm2col,
  im2colPreferred,
  im2colSuits,
} from "../lib/backend/wasm_conv_im2col.ts";

/** Deterministic values in [-1, 1) (a 32-bit LCG). */
function seeded(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function relL2(actual: Float32Array, expected: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / (den || 1));
}

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: Pad;
  columnsBytes?: number;
}

const CASES: Case[] = [
  // 27 output pixels (odd, not whole 6-row tiles).
  { x: [3, 3, 3, 16], k: 3, co: 8, stride: 1, pad: "same" },
  { x: [2, 2, 2, 32], k: 3, co: 16, stride: 1, pad: "same" },
  { x: [2, 5, 5, 18], k: 3, co: 16, stride: 2, pad: "same" },
  { x: [2, 7, 6, 16], k: 3, co: 8, stride: 2, pad: [[0, 0], [1, 0], [0, 2], [0, 0]] },
  // kh·kw·ci = 16: not whole 6-row tiles of dW.
  { x: [3, 4, 4, 16], k: 1, co: 24, stride: 2, pad: "valid" },
  { x: [2, 6, 6, 20], k: 2, co: 8, stride: 1, pad: "valid" },
  // Blocks of 2 images (4·9·576 bytes of X̂ each) over 5 images: the last block holds one.
  { x: [5, 3, 3, 64], k: 3, co: 16, stride: 1, pad: "same", columnsBytes: 2 * 9 * 576 * 4 },
];

Deno.test("im2col convolutions: forward and filter gradient match cpu", async (t) => {
  assert(await tf.setBackend("wasm"));
  const module = (tf.backend() as unknown as {
    wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  }).wasm;
  const engine = await createGemmEngine((module.wasmMemory ?? module.asm?.memory)!, 1);
  if (!engine) return; // no relaxed SIMD: the kernels never take this path
  try {
    for (const [i, c] of CASES.entries()) {
      await t.step(`x ${c.x} ${c.k}×${c.k}/${c.stride} → ${c.co}, pad ${JSON.stringify(c.pad)}`, async () => {
        const [n, h, w, ci] = c.x;
        const xv = seeded(n * h * w * ci, 11 + i);
        const wv = seeded(c.k * c.k * ci * c.co, 23 + i);
        const info = tf.backend_util.computeConv2DInfo(
          c.x,
          [c.k, c.k, ci, c.co],
          [c.stride, c.stride],
          1,
          c.pad,
          undefined,
          false,
          "channelsLast",
        );
        const dyShape = [n, info.outHeight, info.outWidth, c.co];
        const dyv = seeded(dyShape.reduce((a, b) => a * b), 37 + i);
        const attrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC" } as unknown as tf.NamedAttrMap;

        await tf.setBackend("cpu");
        const reference = tf.tidy(() => {
          const x = tf.tensor4d(xv, c.x);
          const dy = tf.tensor(dyv, dyShape);
          const y = tf.conv2d(x, tf.tensor4d(wv, [c.k, c.k, ci, c.co]), c.stride, c.pad);
          const dW = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
            ...attrs,
            filterShape: [c.k, c.k, ci, c.co],
          }) as tf.Tensor;
          return [y.dataSync() as Float32Array, dW.dataSync() as Float32Array];
        });

        await tf.setBackend("wasm");
        const backend = tf.backend() as BackendWasm;
        const x = tf.tensor4d(xv, c.x);
        const filter = tf.tensor4d(wv, [c.k, c.k, ci, c.co]);
        const dy = tf.tensor(dyv, dyShape);
        try {
          assert(im2colSuits(ci, c.co, info));
          const y = conv2dByIm2col(backend, engine, x, filter, info, c.columnsBytes);
          const dW = filterGradByIm2col(backend, engine, x, dy, info, c.columnsBytes);
          assert(y && dW);
          assertEquals(y.shape, [n, info.outHeight, info.outWidth, c.co]);
          assertEquals(dW.shape, [c.k, c.k, ci, c.co]);
          const yv = (backend.typedArrayFromHeap(y) as Float32Array).slice();
          const dWv = (backend.typedArrayFromHeap(dW) as Float32Array).slice();
          backend.disposeData(y.dataId);
          backend.disposeData(dW.dataId);
          assertLess(relL2(yv, reference[0]), 1e-5, "forward");
          assertLess(relL2(dWv, reference[1]), 1e-5, "filter gradient");
        } finally {
          tf.dispose([x, filter, dy]);
        }
      });
    }
  } finally {
    engine.dispose();
  }
});

function info(n: number, side: number, ci: number, co: number, k: number, s: number) {
  return tf.backend_util.computeConv2DInfo(
    [n, side, side, ci],
    [k, k, ci, co],
    [s, s],
    1,
    (k - 1) >> 1,
    undefined,
    false,
    "channelsLast",
  );
}

Deno.test("im2col convolutions: small maps take it, large stride-1 maps keep Winograd / the grid", () => {
  // ResNet18 at 64² (48 images): layer4's 2×2 maps and the strided 3×3s; not layer1–3's stride-1 3×3s.
  assert(im2colPreferred(48, 512, 512, info(48, 2, 512, 512, 3, 1), true, 4));
  assert(im2colPreferred(48, 256, 512, info(48, 4, 256, 512, 3, 2), true, 4));
  assert(im2colPreferred(16, 512, 512, info(16, 2, 512, 512, 3, 1), true, 4));
  assert(!im2colPreferred(48, 64, 64, info(48, 16, 64, 64, 3, 1), true, 4));
  assert(!im2colPreferred(48, 128, 128, info(48, 8, 128, 128, 3, 1), true, 4));
  // 256² (24 images): layer4's 8×8 maps stay on Winograd; stride 2 onto 16×16 outputs stays off.
  assert(!im2colPreferred(24, 512, 512, info(24, 8, 512, 512, 3, 1), true, 4));
  assert(!im2colPreferred(24, 128, 256, info(24, 32, 128, 256, 3, 2), true, 4));
  // The space-to-depth stem's filter gradient (4×4 over 16 channels, 64 out): the grid does 1.19× the
  // multiply-adds but copies no columns.
  const stem = tf.backend_util.computeConv2DInfo([48, 35, 35, 16], [4, 4, 16, 64], 1, 1, "valid");
  assert(!im2colPreferred(48, 16, 64, stem, true, 4));
  // 1×1 strided (the downsample shortcuts): yes; Winograd off, a 2×2 map is still cheaper by im2col.
  assert(im2colPreferred(24, 64, 128, info(24, 64, 64, 128, 1, 2), true, 4));
  assert(im2colPreferred(48, 512, 512, info(48, 2, 512, 512, 3, 1), false, 4));
  // Shapes the GEMM does not take.
  assert(!im2colSuits(3, 64, info(48, 64, 3, 64, 7, 2)));
  assert(!im2colSuits(64, 60, info(48, 4, 64, 60, 3, 1)));
  const dilated = tf.backend_util.computeConv2DInfo([1, 8, 8, 16], [3, 3, 16, 16], 1, 2, "same");
  assert(!im2colSuits(16, 16, dilated));
  assert(!im2colPreferred(1, 16, 16, dilated, true, 4));
});

Deno.test("im2col convolutions: the wasm kernels route a 2×2 map to it, not to Winograd, and match cpu", async () => {
  assert(await tf.setBackend("wasm"));
  const module = (tf.backend() as unknown as {
    wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  }).wasm;
  const engine = await createGemmEngine((module.wasmMemory ?? module.asm?.memory)!, 1);
  if (!engine) return;
  const kernels = wasmTrainingKernels() ?? registerWasmTrainingKernels();
  const previous = kernels.configure({ engine, winograd: true, im2col: true });
  let winograd = 0;
  let mMajor = 0;
  const run = engine.run.bind(engine);
  engine.run = (calls: GemmCall[], split) => {
    mMajor += calls.filter((c) => c.layout === "m-major").length;
    run(calls, split);
  };
  const runWinograd = engine.runWinograd.bind(engine);
  engine.runWinograd = (job) => {
    winograd++;
    runWinograd(job);
  };
  const runWinogradGradient = engine.runWinogradGradient.bind(engine);
  engine.runWinogradGradient = (job) => {
    winograd++;
    runWinogradGradient(job);
  };
  const xv = seeded(6 * 2 * 2 * 64, 5);
  const wv = seeded(9 * 64 * 32, 6);
  const grads = (backend: string) => {
    return tf.tidy(() => {
      const x = tf.tensor4d(xv, [6, 2, 2, 64]);
      const w = tf.tensor4d(wv, [3, 3, 64, 32]);
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same").square().sum();
      const [dx, dw] = tf.grads(f)([x, w]);
      return [backend, dx.dataSync() as Float32Array, dw.dataSync() as Float32Array] as const;
    });
  };
  try {
    const [, dxWasm, dwWasm] = grads("wasm");
    assertEquals(winograd, 0);
    assert(mMajor > 0);
    await tf.setBackend("cpu");
    const [, dxCpu, dwCpu] = grads("cpu");
    assertLess(relL2(dxWasm, dxCpu), 1e-5);
    assertLess(relL2(dwWasm, dwCpu), 1e-5);
  } finally {
    kernels.configure(previous);
    engine.dispose();
    await tf.setBackend("cpu");
  }
});
