/**
 * `deno task bench` — time the ProjectionNet training step (3-way, SSPCAB on, trunk unfrozen) and the
 * embedding pass on every available backend, each in its own process, and — when `python3` with `torch` is
 * present — the same model in PyTorch on the CPU; print medians and the ratio to PyTorch.
 *
 * `--soak N` instead runs N training steps on one backend (`--backend`, default wasm) and prints resident
 * memory, live tensors, tensor bytes and the wasm heap at intervals, then whether they stayed flat after the
 * warm-up (exit status 1 when they did not), e.g. `deno task bench --soak 1000 --size 128` (`deno task bench:soak`).
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommand, startBackend } from "./common.ts";
import { defineFlags, type ParsedFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { BACKEND_CHOICES, type BackendChoice, parseBackendChoice } from "../backend/mod.ts";
import { type Measurement, measureWorkloads } from "../bench/measure.ts";
import { type SoakSample, soakTraining } from "../bench/soak.ts";

const SUMMARY = "Benchmark training and embedding on each backend against PyTorch on the same machine.";

const FLAGS = defineFlags({
  size: { type: "number", default: 256, help: "image side" },
  batch_size: { type: "number", default: 8, help: "items per batch (the training step sees 3×)" },
  steps: { type: "number", default: 3, help: "measured repetitions after one warm-up" },
  backends: { type: "string", default: "wasm,webgpu", help: "comma list among tensorflow,webgpu,wasm,cpu" },
  backend: { type: "string", choices: BACKEND_CHOICES, help: "measure one backend (alias of --backends)" },
  python: { type: "string", default: "python3", help: "Python with torch for the PyTorch peer" },
  threads: { type: "number", default: navigator.hardwareConcurrency ?? 2, help: "PyTorch threads" },
  allow_software: { type: "boolean", default: false, help: "also time WebGPU on a software adapter (slow)" },
  soak: { type: "number", default: 0, help: "run this many training steps on one backend, watch memory" },
  soak_every: { type: "number", help: "with --soak: sample every N steps (default: ~20 samples)" },
  sizes: { type: "string", help: "a sweep: comma list of image sides, each with its own PyTorch figure" },
  batch_sizes: { type: "string", help: "with --sizes: the batch size of each side (default: --batch_size)" },
  child: { type: "string", choices: BACKEND_CHOICES, help: "(internal) measure this backend and print JSON" },
});

/** `--sizes` / `--batch_sizes` as (side, batch) pairs; one pair (`--size`, `--batch_size`) without a sweep. */
function sweep(flags: BenchFlags): { size: number; batch: number }[] {
  if (!flags.sizes) return [{ size: flags.size, batch: flags.batch_size }];
  const ints = (text: string, name: string) =>
    text.split(",").map((t) => {
      const v = Number(t.trim());
      if (!Number.isInteger(v) || v < 1) {
        throw new UserError(`--${name}: ${JSON.stringify(t)} is not a positive integer`);
      }
      return v;
    });
  const sizes = ints(flags.sizes, "sizes");
  const batches = flags.batch_sizes
    ? ints(flags.batch_sizes, "batch_sizes")
    : sizes.map(() => flags.batch_size);
  if (batches.length !== sizes.length) {
    throw new UserError(
      `--batch_sizes has ${batches.length} values for ${sizes.length} sizes`,
      "give one per size",
    );
  }
  return sizes.map((size, i) => ({ size, batch: batches[i] }));
}

/** The parsed flags of `bench`. */
type BenchFlags = ParsedFlags<typeof FLAGS>;

/** The backends to measure: `--backend`, else the `--backends` list (each checked). */
function chosenBackends(flags: BenchFlags): BackendChoice[] {
  if (flags.backend) return [flags.backend];
  return flags.backends.split(",").map((s) => s.trim()).filter(Boolean).map(parseBackendChoice);
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function runChild(backend: string, flags: BenchFlags): Promise<Measurement | string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "lib/cli/bench.ts"),
      "--child",
      backend,
      "--size",
      `${flags.size}`,
      "--batch_size",
      `${flags.batch_size}`,
      "--steps",
      `${flags.steps}`,
      ...(flags.allow_software ? ["--allow_software"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    return new TextDecoder().decode(out.stderr).trim().split("\n").filter(Boolean).pop() ??
      `exit ${out.code}`;
  }
  try {
    return JSON.parse(text) as Measurement;
  } catch {
    return `no result (${text.slice(0, 120)})`;
  }
}

/** Pythons to try for the PyTorch peer: the flag's, then Debian's system interpreter (python3-torch). */
function pythonCandidates(flag: string): string[] {
  return [...new Set([flag, "python3", "/usr/bin/python3"])];
}

async function runTorch(
  flags: BenchFlags,
): Promise<{ peer: string; train_step_s: number; forward_s: number; peak_rss_mb: number } | string> {
  let last = "PyTorch peer not available";
  for (const python of pythonCandidates(flags.python)) {
    const result = await runTorchWith(python, flags);
    if (typeof result !== "string") return result;
    last = result;
  }
  return last;
}

async function runTorchWith(
  python: string,
  flags: BenchFlags,
): Promise<{ peer: string; train_step_s: number; forward_s: number; peak_rss_mb: number } | string> {
  try {
    const out = await new Deno.Command(python, {
      args: [
        join(ROOT, "tests/bench/torch_reference.py"),
        "--size",
        `${flags.size}`,
        "--batch",
        `${flags.batch_size}`,
        "--steps",
        `${flags.steps}`,
        "--threads",
        `${flags.threads}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return `PyTorch peer not available (${new TextDecoder().decode(out.stderr).trim().split("\n").pop()})`;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  } catch (err) {
    return `PyTorch peer not available (${(err as Error).message})`;
  }
}

const fmt = (s: number) => (Number.isFinite(s) ? `${s.toFixed(3)} s` : "—");
const ratio = (
  a: number,
  b: number,
) => (Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : "—");

/** `--soak`: train on one backend for many steps and report whether memory and tensor counts stay flat. */
async function runSoak(flags: BenchFlags): Promise<boolean> {
  const backend = chosenBackends(flags)[0] ?? "wasm";
  const info = await startBackend(backend);
  if (backend !== "auto" && info.name !== backend) throw new UserError(`backend ${backend} is not available`);
  const steps = Math.max(2, Math.floor(flags.soak));
  console.log(
    `soak: ${steps} training steps on ${info.name} (${info.device}), ${flags.size}², batch ${flags.batch_size} → ${
      3 * flags.batch_size
    } images`,
  );
  const header = ["step", "time", "loss", "RSS", "JS heap", "tensors", "tensor MiB", "wasm heap"];
  const row = (s: SoakSample) => [
    String(s.step),
    `${s.elapsedS.toFixed(1)} s`,
    s.loss.toFixed(4),
    `${s.rssMb.toFixed(0)} MiB`,
    `${s.jsHeapMb.toFixed(0)} MiB`,
    String(s.tensors),
    s.tensorMb.toFixed(1),
    Number.isNaN(s.wasmHeapMb) ? "—" : `${s.wasmHeapMb.toFixed(0)} MiB`,
  ];
  const widths = [6, 9, 8, 10, 9, 8, 11, 10];
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(line(header));
  const result = await soakTraining({
    steps,
    size: flags.size,
    batch: flags.batch_size,
    every: flags.soak_every,
    onSample: (s) => console.log(line(row(s))),
  });
  const flat = result.tensorsFlat && result.rssFlat && result.wasmHeapGrowthMb === 0;
  console.log(
    `after the ${result.warmup}-step warm-up: tensor count ${
      result.tensorsFlat ? "flat" : "GREW"
    }, RSS (median of the last third − of the first third) ${result.rssGrowthMb >= 0 ? "+" : ""}${
      result.rssGrowthMb.toFixed(0)
    } MiB (${result.rssFlat ? "flat" : "GREW"}), wasm heap +${
      result.wasmHeapGrowthMb.toFixed(0)
    } MiB; peak RSS ${result.peakRssMb.toFixed(0)} MiB → ${flat ? "FLAT" : "NOT FLAT"}`,
  );
  return flat;
}

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("bench", SUMMARY, FLAGS);
    if (!flags) return;
    if (flags.soak > 0) {
      if (!(await runSoak(flags))) Deno.exitCode = 1;
      return;
    }
    if (flags.child) {
      const info = await startBackend(flags.child, (l) => console.error(l));
      if (info.name !== flags.child) throw new UserError(`backend ${flags.child} is not available`);
      const software = info.device.includes("software adapter");
      if (software && !flags.allow_software) {
        throw new UserError(
          `only a software adapter (${info.device}); add --allow_software to time it anyway`,
        );
      }
      const slow = info.name === "cpu" || software;
      const m = await measureWorkloads({
        size: flags.size,
        batch: flags.batch_size,
        steps: slow ? 1 : flags.steps,
      });
      console.log(JSON.stringify({ ...m, device: info.device }));
      return;
    }
    const backends = chosenBackends(flags);
    const pairs = sweep(flags);
    for (const [i, pair] of pairs.entries()) {
      if (i > 0) console.log("");
      await benchOneSize({ ...flags, size: pair.size, batch_size: pair.batch }, backends);
    }
  });
}

/** Measure every backend and the PyTorch peer at one size and print the table. */
async function benchOneSize(flags: BenchFlags, backends: BackendChoice[]): Promise<void> {
  console.log(
    `ProjectionNet (ResNet18 + SSPCAB, 3-way), ${flags.size}², batch ${flags.batch_size} → ${
      3 * flags.batch_size
    } training images; medians of ${flags.steps} after a warm-up; ${navigator.hardwareConcurrency} logical cores`,
  );
  const torch = await runTorch(flags);
  const peerTrain = typeof torch === "string" ? NaN : torch.train_step_s;
  const peerFwd = typeof torch === "string" ? NaN : torch.forward_s;
  const rows: string[][] = [[
    "backend",
    "device",
    "train step",
    "× PyTorch",
    "img/s",
    "embed pass",
    "× PyTorch",
    "peak RSS",
  ]];
  if (typeof torch === "string") console.log(torch);
  else {
    rows.push([
      "pytorch",
      torch.peer,
      fmt(peerTrain),
      "1.00×",
      (3 * flags.batch_size / peerTrain).toFixed(1),
      fmt(peerFwd),
      "1.00×",
      `${torch.peak_rss_mb.toFixed(0)} MiB`,
    ]);
  }
  // Skipped backends are listed under the table, so that their reasons do not widen its columns.
  const skipped: string[] = [];
  for (const backend of backends) {
    const m = await runChild(backend, flags);
    if (typeof m === "string") {
      skipped.push(`${backend}: skipped — ${m.replace(/^error: /, "")}`);
      continue;
    }
    const leak = m.tensorCounts.length > 2 && m.tensorCounts[m.tensorCounts.length - 1] !== m.tensorCounts[1]
      ? " (tensor count grew!)"
      : "";
    rows.push([
      backend,
      (m as Measurement & { device: string }).device,
      fmt(m.trainStepS),
      ratio(m.trainStepS, peerTrain),
      (m.trainImages / m.trainStepS).toFixed(1),
      fmt(m.forwardS),
      ratio(m.forwardS, peerFwd),
      `${m.peakRssMb.toFixed(0)} MiB${leak}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((v, c) => v.padEnd(widths[c])).join("  ").trimEnd());
  for (const line of skipped) console.log(line);
}
