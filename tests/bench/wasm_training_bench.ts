/**
 * Timing of one ResNet18 training step (forward + backward + SGD update through `tf.variableGrads`) on the
 * TensorFlow.js `wasm` backend, with the training kernels of `lib/backend/kernels/`.
 * Self-contained: the network is built here from plain `tf` ops in NHWC (conv 7×7/2 with explicit pad 3 +
 * "valid", batch-norm in train mode from mean/sub/rsqrt, ReLU, max-pool 3/2 pad 1, four layers of two basic
 * blocks with 64/128/256/512 channels and 1×1/2 downsampling, global average pool, a linear head, softmax
 * cross-entropy). Prints wall and process CPU seconds per step and the wasm heap's high-water mark.
 *
 * ```sh
 * deno run -A tests/bench/wasm_training_bench.ts                   # 64² batch 4, 256² batch 8 (+ forward)
 * deno run -A tests/bench/wasm_training_bench.ts --threads 2       # multi-threaded XNNPACK
 * deno run -A tests/bench/wasm_training_bench.ts --size 64 --batch 4 --profile   # top kernels (tf.profile)
 * deno run -A tests/bench/wasm_training_bench.ts --size 64 --batch 4 --naive     # stock kernels + naive dW
 * # lighter graph: padding inside conv2d (no tf.pad / slice) and batch-norm as one customGrad node —
 * # needed for 256² batch 24, which otherwise exceeds the 4 GiB wasm heap
 * deno run -A tests/bench/wasm_training_bench.ts --size 256 --batch 24 --steps 1 --conv-pad conv --bn custom
 * # --lean: free saved tensors and gradients during the backward pass (lib/backend/lean_backprop.ts)
 * deno run -A tests/bench/wasm_training_bench.ts --size 256 --batch 24 --steps 1 --lean --threads 2
 * ```
 *
 * Not a unit test (it takes seconds to minutes); it prints a small table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../../lib/backend/gradients.ts";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/backend/kernels/register.ts";
import { enableWasmThreads } from "../../lib/backend/wasm_threads.ts";
import { installLeanBackprop } from "../../lib/backend/lean_backprop.ts";

interface BenchArgs {
  /** Pad convolutions with `tf.pad` + "valid" (as specified) or with tfjs' explicit conv padding. */
  convPad: "op" | "conv";
  /** Batch-norm from plain ops (taped op by op) or one `tf.customGrad` node. */
  bn: "ops" | "custom";
  sizes: number[];
  batches: number[];
  steps: number;
  profile: boolean;
  naive: boolean;
  forward: boolean;
  threads: number;
  lean: boolean;
}

function parseArgs(argv: string[]): BenchArgs {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (v: string | undefined, dflt: number[]): number[] => v ? v.split(",").map(Number) : dflt;
  const sizes = list(get("--size"), [64, 256]);
  return {
    convPad: get("--conv-pad") === "conv" ? "conv" : "op",
    bn: get("--bn") === "custom" ? "custom" : "ops",
    sizes,
    batches: list(get("--batch"), sizes.map((s) => (s >= 256 ? 8 : 4))),
    steps: Number(get("--steps") ?? 2),
    profile: argv.includes("--profile"),
    naive: argv.includes("--naive"),
    forward: !argv.includes("--no-forward"),
    threads: Number(get("--threads") ?? 1),
    lean: argv.includes("--lean"),
  };
}

// ---------------------------------------------------------------------------------------------------------
// ResNet18 from plain ops

type Params = Map<string, tf.Variable>;

function heConv(params: Params, name: string, k: number, cin: number, cout: number): void {
  const std = Math.sqrt(2 / (k * k * cout));
  params.set(name, tf.variable(tf.randomNormal([k, k, cin, cout], 0, std), true, name));
}

function bnParams(params: Params, name: string, c: number): void {
  params.set(`${name}.weight`, tf.variable(tf.ones([c]), true, `${name}.weight`));
  params.set(`${name}.bias`, tf.variable(tf.zeros([c]), true, `${name}.bias`));
}

const WIDTHS = [64, 128, 256, 512];

function createResNet18(classes: number): Params {
  const p: Params = new Map();
  heConv(p, "conv1", 7, 3, 64);
  bnParams(p, "bn1", 64);
  let cin = 64;
  WIDTHS.forEach((c, li) => {
    for (let b = 0; b < 2; b++) {
      const pre = `layer${li + 1}.${b}`;
      const stride = li > 0 && b === 0 ? 2 : 1;
      heConv(p, `${pre}.conv1`, 3, cin, c);
      bnParams(p, `${pre}.bn1`, c);
      heConv(p, `${pre}.conv2`, 3, c, c);
      bnParams(p, `${pre}.bn2`, c);
      if (stride !== 1 || cin !== c) {
        heConv(p, `${pre}.downsample.0`, 1, cin, c);
        bnParams(p, `${pre}.downsample.1`, c);
      }
      cin = c;
    }
  });
  p.set("fc.weight", tf.variable(tf.randomNormal([512, classes], 0, 0.01), true, "fc.weight"));
  p.set("fc.bias", tf.variable(tf.zeros([classes]), true, "fc.bias"));
  return p;
}

let padInsideConv = false;

/**
 * PyTorch-style conv: explicit symmetric zero padding, then "valid" — either as a separate `tf.pad` (the
 * default) or as tfjs' explicit conv padding (`--conv-pad conv`: same numbers, no pad/slice copies, and the
 * input gradient is not computed for the padding border).
 */
function conv(x: tf.Tensor4D, w: tf.Tensor, stride: number, pad: number): tf.Tensor4D {
  if (padInsideConv) return tf.conv2d(x, w as tf.Tensor4D, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  const xp = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  return tf.conv2d(xp, w as tf.Tensor4D, stride, "valid");
}

let customBatchNorm = false;

/**
 * Train-mode batch-norm as one autograd node: the forward saves only x̂ and 1/σ (the op-by-op version keeps
 * every intermediate and every intermediate gradient alive until the end of the backward pass), the backward
 * is dx = (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 */
const fusedBatchNorm = tf.customGrad(
  ((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, xhat, invStd] = tf.tidy(() => {
      const mean = tf.mean(x, [0, 1, 2]);
      const centred = tf.sub(x, mean);
      const invStd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), [0, 1, 2]), 1e-5));
      const xhat = tf.mul(centred, invStd);
      return [tf.add(tf.mul(xhat, gamma), beta), xhat, invStd];
    });
    save([xhat, invStd, gamma]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const g = dy as tf.Tensor;
          const [xh, inv, gm] = saved;
          const dBeta = tf.sum(g, [0, 1, 2]);
          const dGamma = tf.sum(tf.mul(g, xh), [0, 1, 2]);
          const count = g.size / g.shape[3]!;
          const inner = tf.sub(tf.sub(g, tf.div(dBeta, count)), tf.mul(xh, tf.div(dGamma, count)));
          return [tf.mul(inner, tf.mul(gm, inv)), dGamma, dBeta];
        }),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
);

/** Train-mode batch-norm over N, H, W with the biased batch variance (eps 1e-5). */
function batchNorm(x: tf.Tensor4D, p: Params, name: string): tf.Tensor4D {
  if (customBatchNorm) {
    return fusedBatchNorm(x, p.get(`${name}.weight`)!, p.get(`${name}.bias`)!) as tf.Tensor4D;
  }
  const mean = tf.mean(x, [0, 1, 2]);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), [0, 1, 2]);
  const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(normed, p.get(`${name}.weight`)!), p.get(`${name}.bias`)!);
}

function basicBlock(x: tf.Tensor4D, p: Params, pre: string, stride: number): tf.Tensor4D {
  let out = tf.relu(batchNorm(conv(x, p.get(`${pre}.conv1`)!, stride, 1), p, `${pre}.bn1`));
  out = batchNorm(conv(out, p.get(`${pre}.conv2`)!, 1, 1), p, `${pre}.bn2`);
  const ds = p.get(`${pre}.downsample.0`);
  const identity = ds ? batchNorm(conv(x, ds, stride, 0), p, `${pre}.downsample.1`) : x;
  return tf.relu(tf.add(out, identity));
}

function forward(x: tf.Tensor4D, p: Params): tf.Tensor2D {
  let h = tf.relu(batchNorm(conv(x, p.get("conv1")!, 2, 3), p, "bn1"));
  // Zero padding equals PyTorch's −∞ padding here: the input is post-ReLU (≥ 0).
  h = tf.maxPool(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "valid");
  WIDTHS.forEach((_, li) => {
    for (let b = 0; b < 2; b++) h = basicBlock(h, p, `layer${li + 1}.${b}`, li > 0 && b === 0 ? 2 : 1);
  });
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  return tf.add(tf.matMul(pooled, p.get("fc.weight")!), p.get("fc.bias")!);
}

function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), 1)));
}

// ---------------------------------------------------------------------------------------------------------
// A naive stand-in for the missing kernel, to time "without our kernels" (stock wasm cannot train at all)

function registerNaiveFilterGrad(): void {
  tf.registerKernel({
    kernelName: tf.Conv2DBackpropFilter,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
      );
      const b = backend as unknown as {
        readSync(id: unknown): Float32Array;
        makeOutput(shape: number[], dtype: string): tf.TensorInfo;
        typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
      };
      const out = b.makeOutput(a.filterShape, "float32");
      const xv = b.readSync(x.dataId), dv = b.readSync(dy.dataId), dw = b.typedArrayFromHeap(out);
      const [n, h, w, ci] = x.shape;
      const [, oh, ow, co] = dy.shape;
      dw.fill(0);
      for (let kh = 0; kh < info.filterHeight; kh++) {
        for (let kw = 0; kw < info.filterWidth; kw++) {
          for (let bi = 0; bi < n; bi++) {
            for (let r = 0; r < oh; r++) {
              const xr = r * info.strideHeight + kh - info.padInfo.top;
              if (xr < 0 || xr >= h) continue;
              for (let c = 0; c < ow; c++) {
                const xc = c * info.strideWidth + kw - info.padInfo.left;
                if (xc < 0 || xc >= w) continue;
                const xo = ((bi * h + xr) * w + xc) * ci, yo = ((bi * oh + r) * ow + c) * co;
                for (let i = 0; i < ci; i++) {
                  const xvi = xv[xo + i], wo = ((kh * info.filterWidth + kw) * ci + i) * co;
                  for (let o = 0; o < co; o++) dw[wo + o] += xvi * dv[yo + o];
                }
              }
            }
          }
        }
      }
      return out;
    },
  });
}

// ---------------------------------------------------------------------------------------------------------

/** Process CPU seconds (all threads, from /proc; NaN where unavailable). */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface Timing {
  wall: number;
  cpu: number;
}

/** Size of the wasm heap in MiB: its high-water mark, since wasm memory never shrinks (max 4096). */
function heapMiB(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return Math.round((b.wasm?.HEAPU8?.length ?? 0) / 2 ** 20);
}

function fmt(times: Timing[]): string {
  return times.map((t) =>
    `${t.wall.toFixed(2)} s` + (Number.isNaN(t.cpu) ? "" : ` (cpu ${t.cpu.toFixed(2)} s)`)
  )
    .join(", ");
}

async function timeStep(p: Params, size: number, batch: number, steps: number): Promise<Timing[]> {
  const optimizer = tf.train.sgd(0.01);
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 3), "int32"),
    3,
  ) as tf.Tensor2D;
  const times: Timing[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    const { value, grads } = tf.variableGrads(() => crossEntropy(forward(x, p), labels));
    optimizer.applyGradients(grads);
    await value.data();
    times.push({ wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 });
    tf.dispose([value, ...Object.values(grads)]);
  }
  tf.dispose([x, labels]);
  optimizer.dispose();
  return times;
}

async function timeForward(p: Params, size: number, batch: number, reps: number): Promise<Timing[]> {
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const times: Timing[] = [];
  for (let s = 0; s < reps; s++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    const y = tf.tidy(() => forward(x, p));
    await y.data();
    times.push({ wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 });
    y.dispose();
  }
  x.dispose();
  return times;
}

async function profileStep(p: Params, size: number, batch: number): Promise<void> {
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 3), "int32"),
    3,
  ) as tf.Tensor2D;
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => crossEntropy(forward(x, p), labels));
    tf.dispose(Object.values(grads));
    return value;
  });
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    e.calls++;
    byName.set(k.name, e);
  }
  const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`profile ${size}² batch ${batch}: ${total.toFixed(0)} ms in kernels`);
  for (const [name, e] of rows.slice(0, 15)) {
    console.log(
      `  ${name.padEnd(24)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(5)} calls`,
    );
  }
  tf.dispose([x, labels]);
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  padInsideConv = args.convPad === "conv";
  customBatchNorm = args.bn === "custom";
  const threads = args.threads > 1 ? await enableWasmThreads(args.threads) : 1;
  const kernels = args.naive ? null : registerWasmTrainingKernels();
  if (args.naive) registerNaiveFilterGrad();
  if (args.lean) installLeanBackprop();
  if (!(await tf.setBackend("wasm"))) throw new Error("could not start the wasm backend");
  console.log(
    `wasm backend, SIMD ${tf.env().getBool("WASM_HAS_SIMD_SUPPORT")}, ${threads} thread(s), ` +
      (args.naive ? "stock kernels + naive JS Conv2DBackpropFilter" : "training kernels registered") +
      `, padding ${args.convPad === "conv" ? "inside conv2d" : "tf.pad + valid"}` +
      `, batch-norm ${args.bn === "custom" ? "one customGrad node" : "plain ops"}` +
      (args.lean ? ", lean backward pass" : ""),
  );
  const p = createResNet18(3);
  for (let i = 0; i < args.sizes.length; i++) {
    const size = args.sizes[i], batch = args.batches[i] ?? args.batches[0];
    if (args.profile) {
      await profileStep(p, size, batch); // warm-up: XNNPACK operator creation, first allocations
      await profileStep(p, size, batch);
      continue;
    }
    const t = await timeStep(p, size, batch, args.steps);
    console.log(`train step ${size}² batch ${batch}: ${fmt(t)}; wasm heap ${heapMiB()} MiB`);
    if (args.forward && size >= 256) {
      const f = await timeForward(p, size, 8, 2);
      console.log(`forward    ${size}² batch 8: ${fmt(f)}`);
    }
  }
  kernels?.unregister();
  tf.dispose([...p.values()]);
}

if (import.meta.main) await main();
