/**
 * A/B of model-level variants on the `wasm` backend, in one process and alternated round by round so that a
 * busy machine slows every variant alike: the training step of `deno task bench` (3-way, SSPCAB on, trunk
 * unfrozen, SGD; 3 × batch images) and the eval-mode embedding pass (batch images), and — each round, in a
 * subprocess — the PyTorch peer (`tests/bench/torch_reference.py`), so that every variant gets a ratio to
 * PyTorch from the same rounds. Prints medians over the rounds and the ratios, and — less disturbed by other
 * processes on a busy machine — each variant's CPU seconds (all threads) and fastest round.
 *
 * ```sh
 * deno run -A tests/bench/model_ab_bench.ts --sizes 64,128 --batches 16,16 --rounds 5
 * deno run -A tests/bench/model_ab_bench.ts --variants baseline,default --torch 0
 * ```
 *
 * Variants (`--variants`, comma-separated; default `baseline,stem=space_to_depth+bn=plain,default`), each
 * parts joined by `+`: `stem=direct` and `stem=space_to_depth` set `ProjectionNetConfig.stemConv`
 * (`lib/model/stem.ts`), `bn=plain` and `bn=fused` its `fuseEvalBatchNorm` (`lib/model/layers.ts`);
 * `baseline` is both off (the model before them), `default` the model's own configuration. The first variant
 * is the "A" of the ratios. Not a unit test; it prints a table and exits.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { startWasmBackend } from "../../lib/backend/wasm.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  type ProjectionNet,
  type ProjectionNetConfig,
  projectionNetEmbed,
  trainableNames,
} from "../../lib/model/projection_net.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { lossAndGradients } from "../../lib/train/gradients.ts";
import { createOptimizer, type Optimizer } from "../../lib/train/optimizer.ts";
import { median } from "../../lib/util/stats.ts";
import { createRng } from "../../lib/util/rng.ts";

function argString(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
}
const list = (s: string) => s.split(",").map((v) => v.trim()).filter((v) => v !== "");

const sizes = list(argString("sizes", "64,128,256")).map(Number);
const batches = list(argString("batches", "16,16,8")).map(Number);
const rounds = Number(argString("rounds", "5"));
const withTorch = argString("torch", "1") !== "0";
const variantNames = list(argString("variants", "baseline,stem=space_to_depth+bn=plain,default"));
if (batches.length !== sizes.length) throw new Error("--batches needs one batch size per entry of --sizes");

function variantConfig(name: string): Partial<ProjectionNetConfig> {
  const config: Partial<ProjectionNetConfig> = {};
  for (const part of name.split("+")) {
    if (part === "default") continue;
    else if (part === "baseline") Object.assign(config, { stemConv: "direct", fuseEvalBatchNorm: false });
    else if (part === "stem=direct" || part === "stem=space_to_depth") {
      config.stemConv = part.slice(5) as ProjectionNetConfig["stemConv"];
    } else if (part === "bn=plain" || part === "bn=fused") config.fuseEvalBatchNorm = part === "bn=fused";
    else {
      throw new Error(
        `unknown variant part ${part} (default, baseline, stem=direct, stem=space_to_depth, bn=plain, bn=fused)`,
      );
    }
  }
  return config;
}

interface Peer {
  train_step_s: number;
  forward_s: number;
}

async function torchPeer(size: number, batch: number): Promise<Peer | null> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: [
          join(import.meta.dirname!, "torch_reference.py"),
          "--size",
          String(size),
          "--batch",
          String(batch),
          "--steps",
          "2",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.success) return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    } catch {
      // try the next interpreter
    }
  }
  return null;
}

/** Process CPU seconds, all threads (from /proc; NaN where unavailable). */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Wall and CPU seconds of one training step (forward + backward + SGD) and of one embedding pass:
 * [train wall, train cpu, embed wall, embed cpu].
 */
async function timeOnce(
  net: ProjectionNet,
  optimizer: Optimizer,
  names: string[],
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  xEmbed: tf.Tensor4D,
): Promise<number[]> {
  let t = performance.now();
  let c = cpuSeconds();
  const r = await lossAndGradients(net, x, y, names);
  optimizer.step(net.params, r.grads, 0.03);
  await r.logits.data();
  tf.dispose([r.logits, ...r.grads.values()]);
  const train = (performance.now() - t) / 1000;
  const trainCpu = cpuSeconds() - c;
  t = performance.now();
  c = cpuSeconds();
  const e = projectionNetEmbed(net, xEmbed);
  await e.data();
  e.dispose();
  return [train, trainCpu, (performance.now() - t) / 1000, cpuSeconds() - c];
}

console.log(await startWasmBackend());
for (const [si, size] of sizes.entries()) {
  const batch = batches[si];
  const n = 3 * batch;
  const rng = createRng(1);
  const pixels = new Float32Array(n * size * size * 3).map(() => rng.normal());
  const x = tf.tensor4d(pixels, [n, size, size, 3]);
  const y = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => Math.floor(i / batch)), "int32");
  const xEmbed = tf.tensor4d(pixels.subarray(0, batch * size * size * 3), [batch, size, size, 3]);
  const variants = variantNames.map((name) => {
    const net = createProjectionNet(defaultProjectionNetConfig(variantConfig(name)), 0);
    const optimizer = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 3e-5 });
    return {
      name,
      net,
      optimizer,
      names: trainableNames(net, false),
      train: [] as number[],
      embed: [] as number[],
      trainCpu: [] as number[],
      embedCpu: [] as number[],
    };
  });
  const peer = { train: [] as number[], embed: [] as number[] };
  for (let r = 0; r <= rounds; r++) {
    if (withTorch && r > 0) {
      const p = await torchPeer(size, batch);
      if (p) {
        peer.train.push(p.train_step_s);
        peer.embed.push(p.forward_s);
      }
    }
    for (const v of variants) {
      const [train, trainCpu, embed, embedCpu] = await timeOnce(v.net, v.optimizer, v.names, x, y, xEmbed);
      if (r > 0) {
        v.train.push(train);
        v.embed.push(embed);
        v.trainCpu.push(trainCpu);
        v.embedCpu.push(embedCpu);
      }
    }
  }
  const pt = peer.train.length ? median(peer.train) : NaN;
  const pe = peer.embed.length ? median(peer.embed) : NaN;
  console.log(
    `\n${size}², batch ${batch} (training step ${n} images, embedding pass ${batch}); medians of ${rounds} rounds`,
  );
  const ratio = (a: number, b: number) => Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : "—";
  if (withTorch) {
    console.log(`  ${"pytorch".padEnd(22)} train ${pt.toFixed(3)} s          embed ${pe.toFixed(3)} s`);
  }
  const t0 = median(variants[0].train), e0 = median(variants[0].embed);
  const tc0 = median(variants[0].trainCpu), ec0 = median(variants[0].embedCpu);
  for (const v of variants) {
    const t = median(v.train), e = median(v.embed);
    const tc = median(v.trainCpu), ec = median(v.embedCpu);
    console.log(
      `  ${v.name.padEnd(22)} train ${t.toFixed(3)} s (${ratio(t, pt)} torch, ${ratio(t, t0)} A; cpu ${
        tc.toFixed(2)
      } s, ${ratio(tc, tc0)} A; min ${Math.min(...v.train).toFixed(3)} s)  embed ${e.toFixed(3)} s (${
        ratio(e, pe)
      } torch, ${ratio(e, e0)} A; cpu ${ec.toFixed(2)} s, ${ratio(ec, ec0)} A; min ${
        Math.min(...v.embed).toFixed(3)
      } s)`,
    );
    v.optimizer.dispose();
    disposeParams(v.net.params);
  }
  tf.dispose([x, y, xEmbed]);
}
