/**
 * `deno task gpu-bench` — time ProjectionNet training (3-way, SSPCAB on, trunk unfrozen) and embedding on one
 * backend in this process and report images per second; the entry point of the air-gapped GPU kit
 * (`deno task gpu-kit`), so it needs no native image library and no worker files.
 * @module
 */
import { parseCommand, startBackend } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { BACKEND_CHOICES } from "../backend/mod.ts";
import { runCli } from "../util/errors.ts";
import { measureWorkloads } from "../bench/measure.ts";

const SUMMARY = "Measure training and embedding throughput (images/s) on one backend, e.g. WebGPU on a GPU.";

const FLAGS = defineFlags({
  backend: { type: "string", default: "webgpu", choices: BACKEND_CHOICES, help: "backend to time" },
  size: { type: "number", default: 256, help: "image side" },
  batch_size: { type: "number", default: 96, help: "items per batch (the training step sees 3×)" },
  steps: { type: "number", default: 10, help: "measured steps after one warm-up" },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("gpu-bench", SUMMARY, FLAGS);
    if (!flags) return;
    const info = await startBackend(flags.backend);
    const m = await measureWorkloads({
      size: flags.size,
      batch: flags.batch_size,
      steps: flags.steps,
    });
    const flat = m.tensorCounts.length < 3 || m.tensorCounts[m.tensorCounts.length - 1] === m.tensorCounts[1];
    console.log(`device: ${info.name} — ${info.device}`);
    console.log(
      `train: ${(m.trainImages / m.trainStepS).toFixed(1)} images/s (${
        m.trainStepS.toFixed(3)
      } s per step of ${m.trainImages} images at ${flags.size}²)`,
    );
    console.log(
      `embed: ${(m.forwardImages / m.forwardS).toFixed(1)} images/s (${
        m.forwardS.toFixed(3)
      } s per ${m.forwardImages} images)`,
    );
    console.log(
      `peak RSS ${m.peakRssMb.toFixed(0)} MiB; tensor count ${
        flat ? "flat" : "GREW"
      } over ${m.tensorCounts.length} steps`,
    );
  });
}
