/**
 * ProjectionNet parity with PyTorch: build the net from a fixture's config.json, load its weights, and match
 * the eval-mode layer3, SSPCAB output, embeddings, logits and MSE, and the train-mode loss and gradients,
 * within the fixture's tolerances — on cpu and on every other backend this machine offers.
 *
 * Fixtures: always the committed reference `tests/reference/projection_net` (made by
 * `tests/reference/make_projection_net.py`; its weights are rebuilt from the seeded generator its config
 * describes), plus the folder in `SSPCAB_PARITY_FIXTURE` when set, else `../shared/fixtures/projection_net`
 * beside the project when present (those hold a `weights.safetensors`).
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { readSafetensors } from "../lib/io/safetensors.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  type ProjectionNetConfig,
  projectionNetForward,
  trainableNames,
} from "../lib/model/projection_net.ts";
import { applyStateDict, loadStateDict } from "../lib/model/state_dict.ts";
import { disposeParams, toTorchLayout } from "../lib/model/params.ts";
import { lossAndGradients } from "../lib/train/gradients.ts";
import { createRng } from "../lib/util/rng.ts";
import { availableBackends } from "./helpers/backends.ts";
import {
  extraFixtureDirs,
  float32BitsSum,
  generatedWeights,
  isGeneratedWeights,
  REFERENCE_DIR,
  tensorSeed,
  uniformTensor,
  type WeightRule,
} from "./helpers/reference.ts";

const fixtureDirs = [
  join(REFERENCE_DIR, "projection_net"),
  ...(await extraFixtureDirs("SSPCAB_PARITY_FIXTURE", "projection_net", "config.json")),
];

interface FixtureConfig {
  image_size: number;
  batch: number;
  head_layers: number[];
  num_classes: number;
  sspcab: {
    channels: number;
    kernel_dim: number;
    dilation: number;
    reduction_ratio: number;
    padding: string;
  };
  sspcab_lambda: number;
  /** A weights description (committed reference) or words naming `weights.safetensors` (other fixtures). */
  weights: unknown;
  input?: WeightRule;
  rng_check?: { seed: number; first_u32: number[]; tensor_seed: { name: string; value: number } };
  tolerance: { eval_abs: number; eval_rel: number; grad_rel_l2: number };
}

function netConfig(c: FixtureConfig): ProjectionNetConfig {
  return {
    headLayers: c.head_layers,
    numClasses: c.num_classes,
    sspcab: {
      channels: c.sspcab.channels,
      kernelDim: c.sspcab.kernel_dim,
      dilation: c.sspcab.dilation,
      reductionRatio: c.sspcab.reduction_ratio,
      padding: c.sspcab.padding === "reflect" ? "reflect" : "zeros",
    },
    sspcabLambda: c.sspcab_lambda,
  };
}

function compareClose(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  abs: number,
  rel: number,
) {
  assert(
    actual.length === expected.length,
    `${name}: ${actual.length} values vs ${expected.length} expected`,
  );
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (abs + rel * Math.abs(expected[i]));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstAt = i;
    }
  }
  assert(
    worstAt < 0,
    `${name}: element ${worstAt} is ${actual[worstAt]} vs ${
      expected[worstAt]
    } (tolerance abs ${abs} + rel ${rel})`,
  );
}

function relL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

async function runParity(fixtureDir: string, backend: string) {
  const config: FixtureConfig = JSON.parse(await Deno.readTextFile(join(fixtureDir, "config.json")));
  const io = (await readSafetensors(join(fixtureDir, "io.safetensors"))).tensors;
  await initBackend(backend as "cpu");
  const net = createProjectionNet(netConfig(config), 1);
  if (isGeneratedWeights(config.weights)) {
    applyStateDict(
      net.specs,
      net.params,
      generatedWeights(config.weights),
      `${fixtureDir} (generated weights)`,
    );
  } else {
    await loadStateDict(net.specs, net.params, join(fixtureDir, "weights.safetensors"));
  }
  const inputInfo = io.get("input_nchw")!;
  const [n, c, h, w] = inputInfo.shape;
  assert(h === config.image_size && n === config.batch, "io.safetensors input does not match config.json");
  const x = tf.tidy(() =>
    tf.transpose(tf.tensor4d(inputInfo.data as Float32Array, [n, c, h, w]), [0, 2, 3, 1])
  );
  const { eval_abs: abs, eval_rel: rel, grad_rel_l2 } = config.tolerance;
  const read = async (t: tf.Tensor) => {
    const values = await t.data();
    t.dispose();
    return values;
  };
  const nchw = (t: tf.Tensor4D) => read(tf.transpose(t, [0, 3, 1, 2]));

  const out = tf.tidy(() => projectionNetForward(net, x, { training: false }));
  compareClose(`${backend} eval.layer3`, await nchw(out.layer3), io.get("eval.layer3_nchw")!.data, abs, rel);
  compareClose(`${backend} eval.sspcab`, await nchw(out.sspcab), io.get("eval.sspcab_nchw")!.data, abs, rel);
  compareClose(`${backend} eval.embeds`, await out.embeds.data(), io.get("eval.embeds")!.data, abs, rel);
  compareClose(`${backend} eval.logits`, await out.logits.data(), io.get("eval.logits")!.data, abs, rel);
  compareClose(`${backend} eval.sspcab_mse`, await out.mse.data(), io.get("eval.sspcab_mse")!.data, abs, rel);
  tf.dispose(out);

  const labels = tf.tensor1d(io.get("labels")!.data as Int32Array, "int32");
  const gradNames = [...io.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice(5));
  const trainable = new Set(trainableNames(net, false));
  for (const g of gradNames) assert(trainable.has(g), `fixture lists a gradient for unknown parameter ${g}`);
  const result = await lossAndGradients(net, x, labels, gradNames, { updateRunningStats: false });
  compareClose(`${backend} train.loss`, [result.loss], io.get("train.loss")!.data, abs, rel);
  compareClose(`${backend} train.ce`, [result.ce], io.get("train.ce")!.data, abs, rel);
  compareClose(`${backend} train.sspcab_mse`, [result.mse], io.get("train.sspcab_mse")!.data, abs, rel);
  const failures: string[] = [];
  for (const name of gradNames) {
    const spec = net.specs.find((s) => s.name === name)!;
    const err = relL2(await toTorchLayout(spec, result.grads.get(name)!), io.get(`grad.${name}`)!.data);
    if (!(err <= grad_rel_l2)) failures.push(`${name}: rel L2 ${err.toExponential(2)}`);
  }
  assert(failures.length === 0, `${backend} gradients beyond rel L2 ${grad_rel_l2}: ${failures.join("; ")}`);
  tf.dispose([...result.grads.values(), result.logits, x, labels]);
  disposeParams(net.params);
}

for (const fixtureDir of fixtureDirs) {
  const label = fixtureDir === fixtureDirs[0] ? "committed reference" : fixtureDir;
  for (const backend of await availableBackends()) {
    Deno.test({
      name: `parity with PyTorch (${label}) on ${backend}: eval outputs, train loss and gradients`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () => runParity(fixtureDir, backend),
    });
  }
}

Deno.test("the TypeScript seeded generator reproduces the Python one (values committed by the script)", async () => {
  const dir = join(REFERENCE_DIR, "projection_net");
  const config: FixtureConfig = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  const check = config.rng_check!;
  const rng = createRng(check.seed);
  assertEquals(check.first_u32.map(() => rng.next() * 4294967296), check.first_u32);
  assertEquals(tensorSeed(check.seed, check.tensor_seed.name), check.tensor_seed.value);
  assert(isGeneratedWeights(config.weights), "the committed reference describes generated weights");
  const checks = Object.entries(config.weights.checks ?? {});
  assert(checks.length > 0, "config.json lists check values of some tensors");
  const wanted = new Set(checks.map(([name]) => name));
  const tensors = generatedWeights({
    ...config.weights,
    tensors: config.weights.tensors.filter((t) => wanted.has(t.name)),
  });
  for (const [name, { first, bits_sum_mod_2_32 }] of checks) {
    const data = tensors.get(name)!.data as Float32Array;
    assertEquals(Array.from(data.subarray(0, first.length)), first, `${name}: first values`);
    assertEquals(float32BitsSum(data), bits_sum_mod_2_32, `${name}: bit-pattern checksum`);
  }
  // The input batch was drawn by the same rule; the committed copy must equal a fresh draw.
  const rule = config.input!;
  const io = (await readSafetensors(join(dir, "io.safetensors"))).tensors;
  const input = io.get(rule.name)!;
  assertEquals(input.shape, rule.shape);
  const count = rule.shape.reduce((a, b) => a * b, 1);
  assertEquals(input.data, uniformTensor(config.weights.seed, rule.name, count, rule.low, rule.high));
});
