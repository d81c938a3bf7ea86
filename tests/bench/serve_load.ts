/**
 * `deno task bench:serve` — load on the app server, loopback only and bounded in count and time: N requests
 * (default 500) with C in flight (default 8) to `POST /api/predict`, each image's score checked against
 * `lib/export/infer.ts`; prints p50/p95/p99 latency, requests/s, resident memory and the tfjs tensor count
 * before and after. Exits non-zero on any wrong or failed response, or a tensor leak.
 *
 * Without `--model_dir` it exports the small test bundle first (as the app tests do). Client and server share
 * this process, so the memory figures cover both.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseCommand, startBackend } from "../../lib/cli/common.ts";
import { defineFlags } from "../../lib/cli/flags.ts";
import { BACKEND_CHOICES } from "../../lib/backend/mod.ts";
import { runCli, UserError } from "../../lib/util/errors.ts";
import { inferImages, loadBundle } from "../../lib/export/infer.ts";
import { expandImagePaths } from "../../lib/data/image_paths.ts";
import { startAppServer } from "../../lib/app/server.ts";
import { appTestBundle } from "../helpers/app_bundle.ts";

const FLAGS = defineFlags({
  model_dir: { type: "string", help: "bundle folder (default: export the small test bundle)" },
  img_path: { type: "string", help: "image file or folder to send (default: the test images)" },
  requests: { type: "number", default: 500, help: "requests in all" },
  concurrency: { type: "number", default: 8, help: "requests in flight" },
  time_limit: { type: "number", default: 600, help: "stop after this many seconds" },
  backend: { type: "string", default: "wasm", choices: BACKEND_CHOICES, help: "server compute backend" },
});

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("bench:serve", "Load-test the app server on loopback.", FLAGS);
    if (!flags) return;
    const total = flags.requests;
    const concurrency = flags.concurrency;
    if (!(total >= 1 && concurrency >= 1)) throw new UserError("--requests and --concurrency must be ≥ 1");
    await startBackend(flags.backend);
    let modelDir: string;
    let images: string[];
    if (flags.model_dir) {
      modelDir = flags.model_dir;
      if (!flags.img_path) throw new UserError("--img_path is required with --model_dir");
      images = await expandImagePaths([flags.img_path]);
    } else {
      const fixture = await appTestBundle();
      modelDir = fixture.bundleDir;
      images = fixture.images;
    }
    if (flags.img_path && !flags.model_dir) images = await expandImagePaths([flags.img_path]);
    const reference = await loadBundle(modelDir);
    const expected = (await inferImages(reference, images)).map((p) => p.score);
    reference.model.dispose();
    const bodies = await Promise.all(images.map((p) => Deno.readFile(p)));
    const server = await startAppServer({ modelDir, hostname: "127.0.0.1", port: 0, assets: new Map() });
    const url = `${server.url}api/predict`;
    const once = async (i: number) => {
      const k = i % bodies.length;
      const started = performance.now();
      const res = await fetch(url, { method: "POST", body: bodies[k] });
      const body = await res.json();
      const ms = performance.now() - started;
      const ok = res.status === 200 &&
        Math.abs(body.pred_score - expected[k]) <= 1e-6 * Math.abs(expected[k]);
      return { ms, ok, detail: ok ? "" : `${images[k]}: HTTP ${res.status} ${JSON.stringify(body)}` };
    };
    try {
      for (let i = 0; i < concurrency; i++) await once(i); // warm-up: kernels compiled, caches filled
      const rssBefore = Deno.memoryUsage().rss;
      const tensorsBefore = tf.memory().numTensors;
      const deadline = performance.now() + flags.time_limit * 1000;
      const latencies: number[] = [];
      const failures: string[] = [];
      let next = 0;
      const started = performance.now();
      let rssHalf = 0;
      const worker = async () => {
        while (next < total && performance.now() < deadline) {
          if (next === Math.floor(total / 2)) rssHalf = Deno.memoryUsage().rss;
          const r = await once(next++);
          latencies.push(r.ms);
          if (!r.ok) failures.push(r.detail);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = (performance.now() - started) / 1000;
      const rssAfter = Deno.memoryUsage().rss;
      const tensorsAfter = tf.memory().numTensors;
      latencies.sort((a, b) => a - b);
      console.log(
        `requests: ${latencies.length} of ${total}, ${concurrency} in flight, ${images.length} distinct images`,
      );
      console.log(
        `latency: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${
          percentile(latencies, 95).toFixed(1)
        } ms, ` +
          `p99 ${percentile(latencies, 99).toFixed(1)} ms`,
      );
      console.log(
        `throughput: ${(latencies.length / seconds).toFixed(1)} requests/s over ${seconds.toFixed(1)} s`,
      );
      console.log(
        `resident memory: ${mib(rssBefore)} before, ${mib(rssHalf)} half-way, ${mib(rssAfter)} after`,
      );
      console.log(`tensors: ${tensorsBefore} before, ${tensorsAfter} after`);
      console.log(`responses correct: ${latencies.length - failures.length} / ${latencies.length}`);
      if (failures.length) throw new UserError(`${failures.length} wrong responses, first: ${failures[0]}`);
      if (latencies.length < total) {
        throw new UserError(`only ${latencies.length} requests within --time_limit`);
      }
      if (tensorsAfter !== tensorsBefore) {
        throw new UserError(`tensor count grew from ${tensorsBefore} to ${tensorsAfter}: a leak`);
      }
    } finally {
      await server.close();
    }
  });
}
