/**
 * A/B of one wasm kernel setting inside one process: the ProjectionNet training step of `deno task bench`
 * (3-way, SSPCAB on, trunk unfrozen, SGD) and the eval-mode embedding pass, with the setting off and on in
 * alternating rounds, so that a busy machine's drift hits both alike. Prints the medians and the ratio on/off.
 *
 * ```sh
 * deno run -A tests/bench/kernel_settings_ab.ts --setting im2col --size 64 --batch 16 --rounds 5
 * deno run -A tests/bench/kernel_settings_ab.ts --setting winograd --size 128 --batch 16
 * ```
 *
 * `--setting` is a boolean field of the wasm kernels' settings (`lib/backend/kernels/shared/context.ts`):
 * `im2col` or `winograd`. Not a unit test; it prints a table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import { wasmTrainingKernels } from "../../lib/backend/kernels/register.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetEmbed,
  trainableNames,
} from "../../lib/model/projection_net.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { lossAndGradients } from "../../lib/train/gradients.ts";
import { createOptimizer } from "../../lib/train/optimizer.ts";
import { createRng } from "../../lib/util/rng.ts";
import { median } from "../../lib/util/stats.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
}

const setting = arg("setting", "im2col");
if (setting !== "im2col" && setting !== "winograd") {
  throw new Error(`--setting must be im2col or winograd, got ${setting}`);
}
const size = Number(arg("size", "64"));
const batch = Number(arg("batch", "16"));
const rounds = Number(arg("rounds", "5"));

console.log((await startWasmBackend()).device);
const kernels = wasmTrainingKernels();
if (!kernels?.settings.engine) throw new Error("no GEMM engine: nothing to compare");
const net = createProjectionNet(defaultProjectionNetConfig(), 0);
const rng = createRng(1);
const n = 3 * batch;
const pixels = new Float32Array(n * size * size * 3).map(() => rng.normal());
const x = tf.tensor4d(pixels, [n, size, size, 3]);
const y = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch)), "int32");
const xEmbed = tf.tensor4d(pixels.subarray(0, batch * size * size * 3), [batch, size, size, 3]);
const names = trainableNames(net, false);
const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });

async function once(): Promise<[number, number]> {
  const t0 = performance.now();
  const r = await lossAndGradients(net, x, y, names);
  optimizer.step(net.params, r.grads, 0.03);
  await r.logits.data();
  tf.dispose([r.logits, ...r.grads.values()]);
  const t1 = performance.now();
  const e = projectionNetEmbed(net, xEmbed);
  await e.data();
  e.dispose();
  return [t1 - t0, performance.now() - t1];
}

const times = { off: [[], []] as number[][], on: [[], []] as number[][] };
const original = kernels.settings[setting];
try {
  for (let r = -1; r < rounds; r++) {
    for (const state of r % 2 === 0 ? ["off", "on"] as const : ["on", "off"] as const) {
      kernels.configure({ [setting]: state === "on" });
      const [train, embed] = await once();
      if (r < 0) continue; // warm-up of both
      times[state][0].push(train);
      times[state][1].push(embed);
    }
  }
} finally {
  kernels.configure({ [setting]: original });
}
const [offTrain, offEmbed] = times.off.map(median);
const [onTrain, onEmbed] = times.on.map(median);
console.log(
  `${setting} at ${size}², batch ${batch} (${n} training images), medians of ${rounds} alternated rounds:`,
);
console.log(
  `  train step: off ${offTrain.toFixed(0)} ms, on ${onTrain.toFixed(0)} ms, on/off ${
    (onTrain / offTrain).toFixed(3)
  }`,
);
console.log(
  `  embed pass: off ${offEmbed.toFixed(0)} ms, on ${onEmbed.toFixed(0)} ms, on/off ${
    (onEmbed / offEmbed).toFixed(3)
  }`,
);
tf.dispose([x, y, xEmbed]);
optimizer.dispose();
disposeParams(net.params);
