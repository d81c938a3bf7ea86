/**
 * `deno task bench:infer` — inference speed of the exported model at 256² (batch 1 and 32) on this machine's
 * CPU: the TensorFlow.js graph model on the wasm backend, `model.onnx` on onnxruntime-node's CPU provider
 * (when installed) and the PyTorch peer (`infer_torch.py`, same network, same run). Each engine computes the
 * embedding and the Mahalanobis score from raw RGB; times are medians after one warm-up, with decode + resize
 * of 900×900 PNGs (the sample images, or generated ones) excluded and included. Random weights: speed does
 * not depend on them.
 *
 * Flags: `--size 256`, `--batches 1,32`, `--runs 5,2` (timed runs per batch size), `--threads N` (every
 * engine; default 1, the fairest figure on a shared machine), `--python python3`.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/mod.ts";
import { createProjectionNet, defaultProjectionNetConfig } from "../../lib/model/projection_net.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { buildGraphModel } from "../../lib/export/graph_model.ts";
import { loadGraphModelFromArtifacts } from "../../lib/export/bundle_io.ts";
import { buildOnnxModel } from "../../lib/export/onnx/export.ts";
import { createOnnxSession, loadOnnxRuntime, runOnnxBatch } from "../../lib/export/onnx_engine.ts";
import { onnxModelInfo } from "../../lib/export/onnx/model_file.ts";
import { loadRgb, saveRgbPng } from "../../lib/data/images.ts";
import { createRng } from "../../lib/util/rng.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const SIZE = Number(flag("size", "256"));
const BATCHES = flag("batches", "1,32").split(",").map(Number);
const RUNS = flag("runs", "5,2").split(",").map(Number);
const THREADS = Number(flag("threads", "1"));
const PYTHON = flag("python", "/usr/bin/python3");
const HERE = new URL(".", import.meta.url).pathname;
Deno.env.set("SSPCAB_WASM_THREADS", String(THREADS));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(runs: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

// The model, its density (random, well conditioned) and both exports.
await initBackend("cpu");
const rng = createRng(1);
const net = createProjectionNet(defaultProjectionNetConfig(), 0);
const dim = 512;
const mean = Float64Array.from({ length: dim }, () => 0.01 * rng.normal());
const precision = new Float64Array(dim * dim);
for (let i = 0; i < dim; i++) precision[i * dim + i] = 1 + rng.uniform(0, 1);
const density = { mean, precision };
const graph = await buildGraphModel(net, { imageSize: SIZE, density });
const onnx = await buildOnnxModel(net, { imageSize: SIZE, density, threshold: 1 });
disposeParams(net.params);

// 900×900 PNGs to decode: the samples when present, else generated ones.
const samples = ["good.png", "bad.png"].map((f) => join(HERE, "../../../shared/data/samples", f));
let pngs = (await Promise.all(samples.map((p) => Deno.stat(p).then(() => p, () => null)))).filter(
  (p): p is string => p !== null,
);
let tmp: string | null = null;
if (pngs.length === 0) {
  tmp = await Deno.makeTempDir({ prefix: "sspcab_bench_infer_" });
  pngs = [];
  for (let k = 0; k < 2; k++) {
    const data = Uint8Array.from({ length: 900 * 900 * 3 }, () => rng.int(0, 255));
    pngs.push(join(tmp, `image_${k}.png`));
    await saveRgbPng(pngs[k], { width: 900, height: 900, data });
  }
}
const decodeBatch = async (n: number): Promise<Uint8Array> => {
  const imgs = await Promise.all(Array.from({ length: n }, (_, i) => loadRgb(pngs[i % pngs.length], SIZE)));
  const out = new Uint8Array(n * SIZE * SIZE * 3);
  imgs.forEach((img, i) => out.set(img.data, i * SIZE * SIZE * 3));
  return out;
};
const rawBatch = (n: number) => Uint8Array.from({ length: n * SIZE * SIZE * 3 }, () => rng.int(0, 255));

interface Row {
  engine: string;
  batch: number;
  excluded: number;
  included: number | null;
}
const rows: Row[] = [];

// tfjs graph model on wasm.
const backend = await initBackend("wasm", { wasm: { threads: THREADS } });
const tfModel = await loadGraphModelFromArtifacts(graph);
const tfRun = async (pixels: Uint8Array, n: number) => {
  const x = tf.tensor4d(Float32Array.from(pixels), [n, SIZE, SIZE, 3]);
  const outs = tfModel.execute({ image: x }, ["embedding", "score"]) as tf.Tensor[];
  await Promise.all(outs.map((t) => t.data()));
  tf.dispose([x, ...outs]);
};
const tfName = `tfjs-wasm (${backend.device ?? "wasm"})`;
for (const [i, b] of BATCHES.entries()) {
  const raw = rawBatch(b);
  const excluded = await timed(RUNS[i] ?? 1, () => tfRun(raw, b));
  const included = await timed(RUNS[i] ?? 1, async () => tfRun(await decodeBatch(b), b));
  rows.push({ engine: tfName, batch: b, excluded, included });
  console.error(`${tfName} batch ${b}: ${excluded.toFixed(3)} s`);
}
tfModel.dispose();

// onnxruntime CPU.
const ortMissing = await loadOnnxRuntime().then(() => "", (e: Error) => e.message.split("\n")[0]);
if (!ortMissing) {
  const session = await createOnnxSession(onnx.bytes, { intraOpThreads: THREADS });
  const info = onnxModelInfo(onnx.bytes, "model.onnx");
  const name = `onnxruntime-node ${
    (await loadOnnxRuntime()).env.versions?.node ?? ""
  } CPU, ${THREADS} threads`;
  for (const [i, b] of BATCHES.entries()) {
    const raw = rawBatch(b);
    const excluded = await timed(RUNS[i] ?? 1, async () => {
      await runOnnxBatch({ session, info }, Float32Array.from(raw), b);
    });
    const included = await timed(RUNS[i] ?? 1, async () => {
      await runOnnxBatch({ session, info }, Float32Array.from(await decodeBatch(b)), b);
    });
    rows.push({ engine: name, batch: b, excluded, included });
    console.error(`${name} batch ${b}: ${excluded.toFixed(3)} s`);
  }
  await session.release();
} else {
  console.error(`onnxruntime skipped: ${ortMissing}`);
}

// PyTorch peer.
let torchNote = "";
try {
  const r = await new Deno.Command(PYTHON, {
    args: [
      join(HERE, "infer_torch.py"),
      "--size",
      String(SIZE),
      "--batches",
      BATCHES.join(","),
      "--runs",
      RUNS.join(","),
      "--threads",
      String(THREADS),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.success) {
    const j = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").pop()!);
    for (const b of BATCHES) {
      rows.push({ engine: j.peer, batch: b, excluded: j.seconds_per_batch[String(b)], included: null });
    }
  } else {
    torchNote = new TextDecoder().decode(r.stderr).trim().split("\n").pop() ?? "failed";
  }
} catch (err) {
  torchNote = (err as Error).message;
}
if (tmp) await Deno.remove(tmp, { recursive: true });

// The table.
const torchFor = (b: number) => rows.find((r) => r.batch === b && r.engine.startsWith("PyTorch"));
const ms = (s: number) => (1000 * s).toFixed(1);
console.log(
  `\ninference at ${SIZE}², embedding + score from raw RGB, ${THREADS} thread(s), medians` +
    (pngs[0].includes("samples") ? "; decode = 900×900 sample PNGs" : "; decode = generated 900×900 PNGs"),
);
console.log(
  "| engine | batch | ms / batch | ms / image | images/s | × PyTorch | with decode+resize: ms / image | images/s |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const b of BATCHES) {
  for (const r of rows.filter((r) => r.batch === b)) {
    const t = torchFor(b);
    console.log(
      `| ${r.engine} | ${b} | ${ms(r.excluded)} | ${ms(r.excluded / b)} | ${(b / r.excluded).toFixed(1)} | ${
        t ? (r.excluded / t.excluded).toFixed(2) : "—"
      } | ${r.included === null ? "—" : ms(r.included / b)} | ${
        r.included === null ? "—" : (b / r.included).toFixed(1)
      } |`,
    );
  }
}
if (torchNote) console.log(`PyTorch peer not available: ${torchNote}`);
if (ortMissing) console.log(`onnxruntime not measured: ${ortMissing}`);
