/**
 * ProjectionNet parity with PyTorch: build the net from a fixture's config.json, load its weights, and match
 * the eval-mode layer3, SSPCAB output, embeddings, logits and MSE, and the train-mode loss and gradients,
 * within the fixture's tolerances — on cpu and on every other backend this machine offers.
 *
 * Fixture folder: `SSPCAB_PARITY_FIXTURE`, default `../shared/fixtures/projection_net` beside the project.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "@std/path";
import { assert } from "@std/assert";
import { readSafetensors } from "../lib/io/safetensors.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  type ProjectionNetConfig,
  projectionNetForward,
  trainableNames,
} from "../lib/model/projection_net.ts";
import { loadStateDict } from "../lib/model/state_dict.ts";
import { disposeParams, toTorchLayout } from "../lib/model/params.ts";
import { lossAndGradients } from "../lib/train/gradients.ts";
import { availableBackends } from "./helpers/backends.ts";

const fixtureDir = Deno.env.get("SSPCAB_PARITY_FIXTURE") ??
  join(import.meta.dirname!, "..", "..", "shared", "fixtures", "projection_net");
const present = await Deno.stat(join(fixtureDir, "config.json")).then(() => true, () => false);
if (!present) console.warn(`parity_test: fixture folder ${fixtureDir} not found — parity tests skipped`);

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

async function runParity(backend: string) {
  const config: FixtureConfig = JSON.parse(await Deno.readTextFile(join(fixtureDir, "config.json")));
  const io = (await readSafetensors(join(fixtureDir, "io.safetensors"))).tensors;
  await initBackend(backend as "cpu");
  const net = createProjectionNet(netConfig(config), 1);
  await loadStateDict(net.specs, net.params, join(fixtureDir, "weights.safetensors"));
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

for (const backend of await availableBackends()) {
  Deno.test({
    name: `parity with PyTorch on ${backend}: eval outputs, train loss and gradients`,
    ignore: !present,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => runParity(backend),
  });
}
