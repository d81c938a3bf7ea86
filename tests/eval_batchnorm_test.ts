/**
 * Eval-mode BatchNorm as one fused per-channel pass (`lib/model/layers.ts`): `batchNorm` and `batchNormRelu`
 * against PyTorch's formula (x − running_mean)/√(running_var + ε)·γ + β (then max(·, 0)) computed in float64,
 * with non-trivial running statistics, on cpu and wasm; the unfused path gives the same; [N, C] rows keep
 * `tf.batchNorm`; training mode is unchanged (`batchNormRelu` = ReLU of the training-mode BatchNorm).
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  batchNorm,
  batchNormRelu,
  batchNormSpecs,
  BN_EPS,
  type ForwardContext,
} from "../lib/model/layers.ts";
import { createParams, disposeParams } from "../lib/model/params.ts";
import { createRng } from "../lib/util/rng.ts";
import { availableBackends } from "./helpers/backends.ts";

for (const backend of (await availableBackends()).filter((b) => b !== "webgpu")) {
  Deno.test(`eval BatchNorm ${backend}: fused pass equals PyTorch's formula, with and without ReLU`, async () => {
    await initBackend(backend as "cpu");
    const rng = createRng(9);
    const c = 24;
    const store = createParams(batchNormSpecs("bn", c), rng);
    const stats = {
      weight: Array.from({ length: c }, () => rng.normal()),
      bias: Array.from({ length: c }, () => rng.normal()),
      running_mean: Array.from({ length: c }, () => rng.normal() * 3),
      running_var: Array.from({ length: c }, () => rng.uniform(0.01, 4)),
    };
    for (const [k, v] of Object.entries(stats)) store.get(`bn.${k}`)!.assign(tf.tensor1d(v));
    const shape: [number, number, number, number] = [3, 5, 7, c];
    const values = Array.from({ length: 3 * 5 * 7 * c }, () => rng.normal() * 2 + 1);
    const x = tf.tensor4d(values, shape);
    const want = values.map((v, i) => {
      const ch = i % c;
      return (v - stats.running_mean[ch]) / Math.sqrt(stats.running_var[ch] + BN_EPS) * stats.weight[ch] +
        stats.bias[ch];
    });
    const fused: ForwardContext = { params: store, training: false };
    const plain: ForwardContext = { params: store, training: false, fuseEvalBatchNorm: false };
    const cases: [string, tf.Tensor, number[]][] = [
      ["batchNorm", batchNorm(fused, "bn", x), want],
      ["batchNormRelu", batchNormRelu(fused, "bn", x), want.map((v) => Math.max(v, 0))],
      ["batchNorm unfused", batchNorm(plain, "bn", x), want],
      ["batchNormRelu unfused", batchNormRelu(plain, "bn", x), want.map((v) => Math.max(v, 0))],
    ];
    for (const [name, y, expected] of cases) {
      const got = await y.data();
      assert(got.length === expected.length, name);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - expected[i]) / (1 + Math.abs(expected[i])));
      }
      assert(worst < 1e-5, `${name}: worst error ${worst}`);
      y.dispose();
    }
    // Rows [N, C] (the head's BatchNorm1d) keep tf.batchNorm.
    const rows = tf.tensor2d(values.slice(0, 4 * c), [4, c]);
    const r = await batchNorm(fused, "bn", rows).data();
    for (let i = 0; i < 4 * c; i++) assert(Math.abs(r[i] - want[i]) / (1 + Math.abs(want[i])) < 1e-5, "rows");
    // Training mode: batchNormRelu is the ReLU of the training-mode BatchNorm.
    const train: ForwardContext = { params: store, training: true, updateRunningStats: false };
    const a = await batchNormRelu(train, "bn", x).data();
    const b = await tf.relu(batchNorm(train, "bn", x)).data();
    for (let i = 0; i < a.length; i++) assert(Math.abs(a[i] - b[i]) < 1e-6, "training mode");
    tf.dispose([x, rows]);
    disposeParams(store);
  });
}
