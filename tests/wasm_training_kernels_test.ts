/**
 * Gradient parity of the `wasm` training kernels (`lib/backend/kernels/`) with the `cpu`
 * backend: for small seeded inputs, the gradients of a loss through conv2d (kernels 1/3/7, strides 1/2,
 * valid / same / explicit padding), max-pool, batch-norm written with plain ops, gather, a mini ResNet (stem +
 * residual block with 1×1/2 downsample + linear head) must agree within 1e-4 relative L2 — plus the kernels'
 * own edge cases (chunked GEMMs, NCHW, transposed matMul, block reductions), the absence of leaks, and — in
 * a child process — a 2-thread backend started by `enableWasmThreads`.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import "../lib/backend/gradients.ts";
import { assert, assertEquals, assertLess } from "./assert.ts";
import { registerWasmTrainingKernels, wasmTrainingKernels } from "../lib/backend/kernels/register.ts";
import { createGemmEngine, type GemmCall } from "../lib/backend/wasm_gemm.ts";
import { filterGradConv, filterGradIm2col } from "../lib/bench/filter_grad_variants.ts";

const TOLERANCE = 1e-4;

/** Deterministic values in [-1, 1) (a 32-bit LCG), the same on every backend. */
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

type Fn = (...xs: tf.Tensor[]) => tf.Tensor;

/** Output and gradients of Σ f(xs)·r (r fixed, non-uniform) with respect to every input, on one backend. */
async function outputAndGrads(backend: string, shapes: number[][], f: Fn): Promise<Float32Array[]> {
  assert(await tf.setBackend(backend), `backend ${backend}`);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(seeded(s.reduce((p, q) => p * q, 1), 17 + 31 * i), s));
    const loss = (...ts: tf.Tensor[]) => {
      const y = f(...ts);
      return tf.sum(tf.mul(y, tf.tensor(seeded(y.size, 5), y.shape)));
    };
    const grads = tf.grads(loss)(xs);
    return [f(...xs), ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

async function assertParity(name: string, shapes: number[][], f: Fn): Promise<void> {
  const expected = await outputAndGrads("cpu", shapes, f);
  const actual = await outputAndGrads("wasm", shapes, f);
  expected.forEach((e, i) => {
    const what = i === 0 ? "output" : `gradient ${i - 1}`;
    const err = relL2(actual[i], e);
    assertLess(err, TOLERANCE, `${name}: ${what} differs from cpu by rel L2 ${err}`);
  });
}

function conv(stride: number, pad: "valid" | "same" | number): Fn {
  return (x, w) => {
    const p = typeof pad === "number" ? pad : 0;
    const xp = p > 0 ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
    return tf.conv2d(xp as tf.Tensor4D, w as tf.Tensor4D, stride, typeof pad === "number" ? "valid" : pad);
  };
}

function batchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const mean = tf.mean(x, [0, 1, 2]);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), [0, 1, 2]);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
}

/** Stem (7×7/2 conv, BN, ReLU, 3/2 max-pool) + one 8→16 stride-2 basic block with 1×1 downsample + head. */
const miniResNet: Fn = (x, w0, g0, b0, w1, g1, b1, w2, g2, b2, wd, gd, bd, fc) => {
  let h = tf.relu(batchNorm(conv(2, 3)(x, w0), g0, b0));
  h = tf.maxPool(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tf.Tensor4D, 3, 2, "valid");
  let out = tf.relu(batchNorm(conv(2, 1)(h, w1), g1, b1));
  out = batchNorm(conv(1, 1)(out, w2), g2, b2);
  const identity = batchNorm(conv(2, 0)(h, wd), gd, bd);
  h = tf.relu(tf.add(out, identity));
  const logits = tf.matMul(tf.mean(h, [1, 2]), fc);
  return tf.logSoftmax(logits);
};

const MINI_RESNET_SHAPES = [
  [2, 32, 32, 3],
  [7, 7, 3, 8],
  [8],
  [8],
  [3, 3, 8, 16],
  [16],
  [16],
  [3, 3, 16, 16],
  [16],
  [16],
  [1, 1, 8, 16],
  [16],
  [16],
  [16, 3],
];

const stockInput = tf.getKernel(tf.Conv2DBackpropInput, "wasm");
/** The registration the tests configure (re-registered by the registration test). */
let kernels = registerWasmTrainingKernels();

Deno.test("wasm training kernels: registration is idempotent, reversible and leaves cpu alone", () => {
  const cpuFilter = tf.getKernel(tf.Conv2DBackpropFilter, "cpu");
  const again = registerWasmTrainingKernels({ gridBlockPixels: 2.5 });
  assert(again === kernels, "a second registration returns the one in effect");
  assertEquals(kernels.settings.gridBlockPixels, 2, "counts are made whole");
  kernels.configure({ gridBlockPixels: 1 << 14 });
  assert(wasmTrainingKernels() === kernels);
  assert(tf.getKernel(tf.Conv2DBackpropFilter, "wasm") != null);
  assert(tf.getKernel(tf.Conv2DBackpropInput, "wasm") !== stockInput, "ours replaces the stock kernel");
  kernels.unregister();
  assertEquals(wasmTrainingKernels(), null);
  assertEquals(
    tf.getKernel(tf.Conv2DBackpropFilter, "wasm"),
    undefined,
    "stock wasm has no Conv2DBackpropFilter",
  );
  assert(
    tf.getKernel(tf.Conv2DBackpropInput, "wasm") === stockInput,
    "the stock Conv2DBackpropInput is restored",
  );
  kernels = registerWasmTrainingKernels();
  assert(kernels.active);
  assertEquals(tf.getKernel(tf.Conv2DBackpropFilter, "cpu"), cpuFilter);
});

Deno.test("wasm training kernels: conv2d gradients match cpu", async (t) => {
  const cases: [string, number[], number[], number, "valid" | "same" | number][] = [
    ["1×1/1 8→16", [2, 9, 9, 8], [1, 1, 8, 16], 1, "valid"],
    ["1×1/2 8→16 (downsample)", [2, 10, 10, 8], [1, 1, 8, 16], 2, "valid"],
    ["3×3/1 pad 1 8→16", [2, 9, 9, 8], [3, 3, 8, 16], 1, 1],
    ["3×3/2 pad 1 8→16", [2, 10, 10, 8], [3, 3, 8, 16], 2, 1],
    ["3×3/2 pad 1 odd size", [2, 9, 7, 8], [3, 3, 8, 16], 2, 1],
    ["3×3/1 same 3→8", [2, 8, 8, 3], [3, 3, 3, 8], 1, "same"],
    ["3×3/2 same 3→8", [2, 8, 8, 3], [3, 3, 3, 8], 2, "same"],
    ["7×7/2 pad 3 3→8 (stem)", [2, 16, 16, 3], [7, 7, 3, 8], 2, 3],
    ["7×7/2 valid 3→8", [2, 15, 15, 3], [7, 7, 3, 8], 2, "valid"],
    ["3×3/2 pad 1 on 2×2 (1×1 out)", [3, 2, 2, 8], [3, 3, 8, 16], 2, 1],
    ["3×3/1 pad 1 on 1×1", [3, 1, 1, 8], [3, 3, 8, 16], 1, 1],
    ["1×1/2 on 2×2", [3, 2, 2, 8], [1, 1, 8, 16], 2, "valid"],
    ["3×3/1 pad 1 on 2×3", [3, 2, 3, 8], [3, 3, 8, 16], 1, 1],
  ];
  for (const [name, xShape, wShape, stride, pad] of cases) {
    await t.step(name, () => assertParity(name, [xShape, wShape], conv(stride, pad)));
  }
  await t.step(
    "explicit conv padding (no tf.pad)",
    () =>
      assertParity(
        "explicit",
        [[2, 9, 9, 8], [3, 3, 8, 16]],
        (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
      ),
  );
});

Deno.test("wasm training kernels: filter gradients over shifted grids in blocks of images match cpu", async () => {
  // One image per block (the per-block products are summed), strides 1 and 2, kernels 1, 3 and 7.
  const previous = kernels.configure({ gridBlockPixels: 1 });
  try {
    await assertParity("3×3/1 pad 1", [[3, 9, 7, 8], [3, 3, 8, 16]], conv(1, 1));
    await assertParity("3×3/2 pad 1 odd size", [[3, 9, 7, 8], [3, 3, 8, 16]], conv(2, 1));
    await assertParity("7×7/2 pad 3", [[3, 16, 16, 3], [7, 7, 3, 8]], conv(2, 3));
    await assertParity("1×1/2", [[3, 10, 10, 8], [1, 1, 8, 16]], conv(2, 0));
    await assertParity("5×5/3 pad 2", [[3, 13, 11, 4], [5, 5, 4, 8]], conv(3, 2));
    await assertParity(
      "explicit asymmetric padding",
      [[3, 9, 9, 8], [3, 3, 8, 16]],
      (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, [[0, 0], [0, 2], [1, 0], [0, 0]]),
    );
  } finally {
    kernels.configure(previous);
  }
});

Deno.test("wasm training kernels: convolutions (direct and Winograd), their gradients and max-pool gradients on our own kernels match cpu", async (t) => {
  assert(await tf.setBackend("wasm"));
  const module = (tf.backend() as unknown as {
    wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  }).wasm;
  const engine = await createGemmEngine((module.wasmMemory ?? module.asm?.memory)!, 1);
  if (!engine) return; // no relaxed SIMD in this runtime: the kernels use XNNPACK (tested above)
  let batches = 0;
  // Count the engine's jobs (direct products, Winograd convolutions, Winograd filter gradients).
  const run = engine.run.bind(engine);
  const runWinograd = engine.runWinograd.bind(engine);
  const runWinogradGradient = engine.runWinogradGradient.bind(engine);
  const counts = { direct: 0, winograd: 0, gradient: 0, pool: 0 };
  engine.run = (calls: GemmCall[], split) => {
    batches++;
    counts.direct++;
    run(calls, split);
  };
  engine.runWinograd = (job) => {
    batches++;
    counts.winograd++;
    runWinograd(job);
  };
  engine.runWinogradGradient = (job) => {
    batches++;
    counts.gradient++;
    runWinogradGradient(job);
  };
  const maxPoolGrad = engine.maxPoolGrad.bind(engine);
  engine.maxPoolGrad = (job) => {
    batches++;
    counts.pool++;
    maxPoolGrad(job);
  };
  const previous = kernels.configure({ engine });
  const explicit = (stride: number, pad: number[][]): Fn => (x, w) =>
    tf.conv2d(
      x as tf.Tensor4D,
      w as tf.Tensor4D,
      stride,
      pad as [[0, 0], [number, number], [number, number], [0, 0]],
    );
  const cases: [string, number[][], Fn][] = [
    ["3×3/1 pad 1 16→16", [[3, 9, 7, 16], [3, 3, 16, 16]], explicit(1, [[0, 0], [1, 1], [1, 1], [0, 0]])],
    [
      "3×3/2 pad 1 odd size 20→24",
      [[3, 9, 7, 20], [3, 3, 20, 24]],
      explicit(2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ],
    ["1×1/2 16→32 (downsample)", [[2, 10, 10, 16], [1, 1, 16, 32]], conv(2, "valid")],
    ["7×7/2 pad 3 16→8", [[2, 16, 16, 16], [7, 7, 16, 8]], explicit(2, [[0, 0], [3, 3], [3, 3], [0, 0]])],
    [
      "asymmetric padding 16→16",
      [[3, 9, 9, 16], [3, 3, 16, 16]],
      explicit(2, [[0, 0], [0, 2], [1, 0], [0, 0]]),
    ],
    ["3×3/1 pad 1 on 1×1", [[3, 1, 1, 16], [3, 3, 16, 16]], explicit(1, [[0, 0], [1, 1], [1, 1], [0, 0]])],
    [
      "5×5/1 pad 2 24→16 (forward and dx on the GEMM too)",
      [[2, 11, 9, 24], [5, 5, 24, 16]],
      explicit(1, [[0, 0], [2, 2], [2, 2], [0, 0]]),
    ],
    ["3×3/1 valid 32→8", [[2, 7, 8, 32], [3, 3, 32, 8]], conv(1, "valid")],
    [
      "3×3/1 asymmetric padding, odd sizes 20→16 (Winograd)",
      [[3, 9, 7, 20], [3, 3, 20, 16]],
      explicit(1, [[0, 0], [0, 2], [1, 0], [0, 0]]),
    ],
    [
      "3×3/1 pad 1 18→8 (direct: channels not a multiple of 4)",
      [[2, 6, 6, 18], [3, 3, 18, 8]],
      explicit(1, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ],
    // Max-pool gradients: ties after a ReLU go to the first maximum, as on cpu.
    [
      "max-pool 3×3/2 pad 1 after a ReLU, 8 channels",
      [[3, 9, 7, 8]],
      (x) => tf.maxPool(tf.relu(x) as tf.Tensor4D, 3, 2, 1),
    ],
    [
      "max-pool 2×2/2 valid, 12 channels",
      [[2, 8, 6, 12]],
      (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
    ],
  ];
  try {
    // One block; one image per block; about 170 grid pixels per block — two of the 3-image cases' 9×7
    // images (a 10×8 grid each), so their last block is shorter.
    // Each with the forward Winograd on 4×4 and on 2×2 output tiles (the im2col product off, so that these
    // small shapes run on the grid and Winograd), then with the im2col product where it is preferred.
    const blockings: [number, string, 2 | 4, boolean][] = [
      [1 << 16, "one block", 4, false],
      [1, "one image per block", 4, false],
      [170, "short last block", 4, false],
      [1 << 16, "one block, F(2×2, 3×3)", 2, false],
      [170, "short last block, F(2×2, 3×3)", 2, false],
      [1 << 16, "im2col on small maps", 4, true],
    ];
    for (const [blockPixels, blocking, tile, im2col] of blockings) {
      kernels.configure({
        filterGrad: "gemm",
        gemmGridPixels: blockPixels,
        winograd: true,
        winogradTile: tile,
        im2col,
      });
      for (const [name, shapes, f] of cases) {
        await t.step(`${name}, ${blocking}`, async () => {
          const before = batches;
          await assertParity(name, shapes, f);
          assertLess(before, batches, "the GEMM path was not taken");
        });
      }
    }
    for (const [kind, count] of Object.entries(counts)) assertLess(0, count, `no ${kind} job ran`);
  } finally {
    kernels.configure(previous);
    engine.dispose();
  }
});

Deno.test("wasm training kernels: im2col filter GEMMs (chunked and tap-grouped) match cpu", async () => {
  const previous = kernels.configure({ filterGrad: filterGradIm2col(700) });
  try {
    await assertParity("3×3/2 in small blocks", [[3, 10, 10, 8], [3, 3, 8, 16]], conv(2, 1));
    await assertParity("7×7/2 in small blocks", [[3, 16, 16, 3], [7, 7, 3, 8]], conv(2, 3));
  } finally {
    kernels.configure(previous);
  }
});

Deno.test("wasm training kernels: the dilated-convolution filter gradient matches cpu", async () => {
  const previous = kernels.configure({ filterGrad: filterGradConv });
  try {
    await assertParity("3×3/2 pad 1 odd size", [[2, 9, 7, 8], [3, 3, 8, 16]], conv(2, 1));
    await assertParity("7×7/2 pad 3", [[2, 16, 16, 3], [7, 7, 3, 8]], conv(2, 3));
    await assertParity("1×1/2", [[2, 10, 10, 8], [1, 1, 8, 16]], conv(2, 0));
  } finally {
    kernels.configure(previous);
  }
});

Deno.test("wasm training kernels: NCHW backprop kernels match cpu", async () => {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor(seeded(2 * 8 * 9 * 9, 3), [2, 8, 9, 9]);
      const dy = tf.tensor(seeded(2 * 16 * 4 * 4, 4), [2, 16, 4, 4]);
      const w = tf.tensor(seeded(3 * 3 * 8 * 16, 5), [3, 3, 8, 16]);
      const attrs = { strides: 2, pad: "valid", dataFormat: "NCHW" };
      const dW = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
        ...attrs,
        filterShape: [3, 3, 8, 16],
      }) as tf.Tensor;
      const dX = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, {
        ...attrs,
        inputShape: [2, 8, 9, 9],
      }) as tf.Tensor;
      return [dW.dataSync() as Float32Array, dX.dataSync() as Float32Array];
    });
  };
  const [cW, cX] = await run("cpu");
  const [wW, wX] = await run("wasm");
  assertLess(relL2(wW, cW), TOLERANCE);
  assertLess(relL2(wX, cX), TOLERANCE);
});

Deno.test("wasm training kernels: max-pool, reductions and matMul gradients match cpu", async (t) => {
  await t.step(
    "maxPool 3/2 after ReLU (ties at zero)",
    () =>
      assertParity(
        "maxPool relu",
        [[2, 9, 9, 8]],
        (x) => tf.maxPool(tf.relu(x) as tf.Tensor4D, 3, 2, "valid"),
      ),
  );
  await t.step(
    "maxPool 3/2 pad 1",
    () => assertParity("maxPool pad", [[2, 8, 8, 8]], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 1)),
  );
  await t.step(
    "maxPool 3/2 same",
    () => assertParity("maxPool same", [[2, 8, 8, 8]], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, "same")),
  );
  await t.step(
    "batch-norm from plain ops",
    () => assertParity("bn", [[2, 5, 5, 8], [8], [8]], (x, g, b) => batchNorm(x, g, b)),
  );
  await t.step(
    "sum / mean over leading, middle and last axes",
    () =>
      assertParity("reductions", [[2, 5, 5, 8]], (x) => {
        const sq = tf.square(x);
        return tf.concat([
          tf.reshape(tf.sum(sq, [0, 1, 2]), [-1]),
          tf.reshape(tf.mean(sq, [1, 2], true), [-1]),
          tf.reshape(tf.mean(sq, 0), [-1]),
          tf.reshape(tf.sum(sq, 3), [-1]),
        ]);
      }),
  );
  await t.step(
    "large sum / mean (XNNPACK average pooling)",
    () =>
      assertParity("pooled reductions", [[4, 32, 32, 16]], (x) => {
        const sq = tf.square(x);
        return tf.concat([
          tf.reshape(tf.sum(sq, [0, 1, 2]), [-1]),
          tf.reshape(tf.mean(sq, [0, 1, 2], true), [-1]),
          tf.reshape(tf.mean(sq, [1, 2]), [-1]),
          tf.reshape(tf.sum(tf.reshape(sq, [4, 1024, 16]), 1), [-1]),
          tf.reshape(tf.mean(tf.reshape(sq, [4096, 16]), 0), [-1]),
        ]);
      }),
  );
  await t.step(
    "tf.batchNorm (FusedBatchNorm) with per-channel statistics",
    () =>
      assertParity("batchNorm", [[2, 5, 5, 8], [8], [8], [8], [8]], (x, m, v, o, s) => {
        return tf.batchNorm(x, m, tf.add(tf.square(v), 0.5), o, s, 1e-3);
      }),
  );
  await t.step(
    "tf.batchNorm forward: |mean| ≫ σ, no offset / scale, rank 2, full-size statistics",
    async () => {
      // Forward only: tfjs cannot differentiate tf.batchNorm without a scale.
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const t = (n: number, seed: number, shape: number[]) => tf.tensor(seeded(n, seed), shape);
          const x = t(2 * 5 * 5 * 8, 1, [2, 5, 5, 8]);
          const m = t(8, 2, [8]);
          const v = tf.add(tf.square(t(8, 3, [8])), 0.5);
          const o = t(8, 4, [8]);
          const full = tf.add(tf.square(t(2 * 5 * 5 * 8, 5, [2, 5, 5, 8])), 0.5);
          // |mean| ≫ σ (a batch-norm over few samples): x̂ must keep its precision.
          const offCentre = tf.add(tf.mul(x, 1e-3), 300);
          const { mean, variance } = tf.moments(offCentre, [0, 1, 2]);
          return [
            tf.batchNorm(offCentre, mean, variance, undefined, undefined, 1e-8),
            tf.batchNorm(x, m, v, undefined, undefined, 1e-5),
            tf.batchNorm(tf.reshape(x, [50, 8]), m, v, o, undefined, 0),
            tf.batchNorm(x, tf.mul(x, 0.5), full),
          ].map((r) => r.dataSync() as Float32Array);
        });
      };
      const expected = await run("cpu");
      const actual = await run("wasm");
      expected.forEach((e, i) => assertLess(relL2(actual[i], e), TOLERANCE, `case ${i}`));
    },
  );
  await t.step(
    "gather (UnsortedSegmentSum)",
    () =>
      assertParity("gather", [[5, 3, 4]], (x) => tf.gather(x, tf.tensor1d([4, 0, 0, 2, 4, 4], "int32"), 0)),
  );
  await t.step(
    "matMul with transposes",
    () =>
      assertParity("matMul", [[7, 5], [3, 7], [5, 3]], (a, b, c) =>
        tf.concat([
          tf.reshape(tf.matMul(a, b, true, true), [-1]),
          tf.reshape(tf.matMul(c, tf.matMul(b, a)), [-1]),
          tf.reshape(tf.matMul(a, c, false, false), [-1]),
        ])),
  );
});

Deno.test("wasm training kernels: mini ResNet step matches cpu and leaks nothing", async () => {
  await assertParity("mini ResNet", MINI_RESNET_SHAPES, miniResNet);

  await tf.setBackend("wasm");
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const tensors = tf.memory().numTensors;
  const dataIds = backend.numDataIds();
  const grads = tf.tidy(() => {
    const xs = MINI_RESNET_SHAPES.map((s, i) => tf.tensor(seeded(s.reduce((p, q) => p * q, 1), i + 1), s));
    return tf.grads((...ts: tf.Tensor[]) => tf.sum(miniResNet(...ts)))(xs);
  });
  tf.dispose(grads);
  assertEquals(tf.memory().numTensors, tensors, "tensors leaked");
  assertEquals(backend.numDataIds(), dataIds, "wasm buffers leaked by a kernel");
});

Deno.test("wasm threads: a 2-thread backend starts under Deno; its conv and max-pool gradients (our kernels on 2 threads) match cpu", async () => {
  // The threaded backend can only be started once per process, before anything else uses wasm: run it in a
  // child process with the project's import map.
  const config = new URL("../deno.json", import.meta.url);
  const threads = new URL("../lib/backend/wasm_threads.ts", import.meta.url);
  const register = new URL("../lib/backend/kernels/register.ts", import.meta.url);
  const gradients = new URL("../lib/backend/gradients.ts", import.meta.url);
  const gemm = new URL("../lib/backend/wasm_gemm.ts", import.meta.url);
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import "${gradients.href}";
import { enableWasmThreads, wasmThreadsCount } from "${threads.href}";
import { registerWasmTrainingKernels } from "${register.href}";
import { createGemmEngine } from "${gemm.href}";
const started = await enableWasmThreads(2);
const kernels = registerWasmTrainingKernels();
await tf.setBackend("wasm");
const engine = await createGemmEngine(tf.backend().wasm.wasmMemory, 2);
kernels.configure({ engine });
const grads = async (backend) => {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.sin(tf.reshape(tf.range(0, 2 * 12 * 12 * 16), [2, 12, 12, 16]));
    const w = tf.cos(tf.reshape(tf.range(0, 3 * 3 * 16 * 16), [3, 3, 16, 16]));
    const f = (a, b) => tf.sum(tf.square(tf.maxPool(tf.conv2d(a, b, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 1)));
    return tf.grads(f)([x, w]).map((g) => Array.from(g.dataSync()));
  });
};
const [cx, cw] = await grads("cpu");
const [wx, ww] = await grads("wasm");
const rel = (a, b) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / b.reduce((s, v) => s + v * v, 0));
console.log(JSON.stringify({ started, running: wasmThreadsCount(), gemmThreads: engine?.threads ?? 0, dx: rel(wx, cx), dw: rel(ww, cw) }));
engine?.dispose();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config.pathname, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert(out.success, `child failed:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`);
    const line = stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
    assert(line, `no result from the child:\n${stdout}`);
    const result = JSON.parse(line);
    assertEquals(result.started, 2);
    assertEquals(result.running, 2);
    assertEquals(result.gemmThreads, 2);
    assertLess(result.dx, TOLERANCE);
    assertLess(result.dw, TOLERANCE);
  } finally {
    await Deno.remove(script);
  }
});
