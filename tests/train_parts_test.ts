/**
 * Training parts against their published formulas: SGD with momentum and weight decay and Adam as PyTorch
 * defines them, the Paddle cosine schedule and PyTorch's warm restarts, the batch plan (drop_last passes,
 * determinism, reference view order), and flag parsing (snake_case, kebab-case, --no-x, errors).
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { createOptimizer } from "../lib/train/optimizer.ts";
import { learningRateAt } from "../lib/train/schedule.ts";
import { batchesPerPass, batchImageIndices, buildBatch } from "../lib/train/batch_plan.ts";
import { createRgbImage } from "../lib/data/rgb_image.ts";
import { parseFlags } from "../lib/cli/flags.ts";
import { UserError } from "../lib/util/errors.ts";

await initBackend("cpu");

Deno.test("SGD: PyTorch momentum/weight-decay update over three steps", () => {
  const p = tf.variable(tf.tensor1d([1, -2]));
  const params = new Map([["w", p]]);
  const opt = createOptimizer({ name: "sgd", momentum: 0.9, weightDecay: 0.1 });
  let w = [1, -2];
  let buf: number[] | undefined;
  for (const g of [[0.5, 0.25], [-1, 2], [0.1, 0.1]]) {
    const grad = tf.tensor1d(g);
    opt.step(params, new Map([["w", grad]]), 0.05);
    grad.dispose();
    const d = g.map((v, i) => v + 0.1 * w[i]);
    buf = buf ? buf.map((b, i) => 0.9 * b + d[i]) : d;
    w = w.map((v, i) => v - 0.05 * buf![i]);
  }
  p.dataSync().forEach((v, i) => assertAlmostEquals(v, w[i], 1e-6));
  opt.dispose();
  p.dispose();
});

Deno.test("Adam: bias-corrected update as torch.optim.Adam", () => {
  const p = tf.variable(tf.tensor1d([0.5]));
  const opt = createOptimizer({ name: "adam", momentum: 0, weightDecay: 0 });
  let w = 0.5, m = 0, v = 0;
  for (let t = 1; t <= 3; t++) {
    const g = 2 * w; // d/dw of w²
    const grad = tf.tensor1d([g]);
    opt.step(new Map([["w", p]]), new Map([["w", grad]]), 0.1);
    grad.dispose();
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    w -= (0.1 * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
  }
  assertAlmostEquals(p.dataSync()[0], w, 1e-6);
  opt.dispose();
  p.dispose();
});

Deno.test("schedules: Paddle cosine (T_max 10, period 20) and warm restarts (T_0 = epochs)", () => {
  assertAlmostEquals(learningRateAt("paddle-cosine", 0.03, 0, 500), 0.03, 1e-12);
  assertAlmostEquals(learningRateAt("paddle-cosine", 0.03, 10, 500), 0, 1e-12);
  assertAlmostEquals(learningRateAt("paddle-cosine", 0.03, 5, 500), 0.015, 1e-12);
  assertAlmostEquals(learningRateAt("paddle-cosine", 0.03, 20, 500), 0.03, 1e-12);
  assertAlmostEquals(learningRateAt("warm-restarts", 0.03, 250, 500), 0.015, 1e-12);
  assertAlmostEquals(learningRateAt("warm-restarts", 0.03, 500, 500), 0.03, 1e-12);
  assertEquals(learningRateAt("constant", 0.03, 123, 500), 0.03);
});

Deno.test("batch plan: drop_last passes over the repeated data set, deterministic, reference view order", () => {
  const plan = { imageCount: 5, batchSize: 96, datasetLength: 3000, seed: 7, variant: "3way" as const };
  assertEquals(batchesPerPass(plan), 31);
  const seen = new Map<number, number>();
  for (let s = 0; s < 31; s++) {
    for (const i of batchImageIndices(plan, s)) seen.set(i, (seen.get(i) ?? 0) + 1);
  }
  assertEquals([...seen.values()].reduce((a, b) => a + b, 0), 31 * 96);
  for (const count of seen.values()) assert(count <= 600, "no image more often than its share of the pass");
  assertEquals(batchImageIndices(plan, 3), batchImageIndices(plan, 3));
  assert(batchImageIndices(plan, 31).join() !== batchImageIndices(plan, 0).join(), "a new pass reshuffles");
  const images = Array.from({ length: 5 }, (_, k) => {
    const img = createRgbImage(32, 32);
    img.data.fill(40 * k);
    return img;
  });
  const small = { ...plan, batchSize: 2 };
  const a = buildBatch(small, images, 4);
  const b = buildBatch(small, images, 4);
  assertEquals(Array.from(a.labels), [0, 0, 1, 1, 2, 2]);
  assertEquals(a.count, 6);
  assertEquals(a.pixels, b.pixels);
});

Deno.test("flags: snake_case and kebab-case, --no-x, =value, errors with usage", () => {
  const specs = {
    data_dir: { type: "string", default: "d", help: "" },
    batch_size: { type: "number", default: 96, help: "" },
    save_plots: { type: "boolean", default: false, help: "" },
    optim: { type: "string", default: "sgd", choices: ["sgd", "adam"], help: "" },
  } as const;
  const f = parseFlags(
    ["--data-dir", "x", "--batch_size=8", "--save-plots", "--optim", "adam", "pos"],
    specs,
    "t",
    "",
  );
  assertEquals([f.data_dir, f.batch_size, f.save_plots, f.optim, f._], ["x", 8, true, "adam", ["pos"]]);
  assertEquals(parseFlags(["--no-save_plots"], specs, "t", "").save_plots, false);
  assertThrows(
    () => parseFlags(["--optim", "rmsprop"], specs, "t", ""),
    UserError,
    "must be one of sgd, adam",
  );
  assertThrows(() => parseFlags(["--batch_size"], specs, "t", ""), UserError, "needs a value");
  assertThrows(() => parseFlags(["--nope"], specs, "t", ""), UserError, "usage: deno task t");
});
