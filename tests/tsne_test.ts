/** t-SNE on clustered synthetic embeddings: neighbourhoods preserved (trustworthiness), determinism. */

import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertThrows } from "./assert.ts";
import { trustworthiness, tsne } from "../lib/eval/tsne.ts";
import { createRng } from "../lib/util/rng.ts";

/** `n` points in `d` dimensions around `k` Gaussian centres (spread 2), unit noise; point i is in cluster i % k. */
function clusters(seed: number, n = 150, d = 64, k = 4): number[][] {
  const rng = createRng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.normal() * 2));
  return Array.from({ length: n }, (_, i) => centres[i % k].map((c) => c + rng.normal()));
}

const rows = clusters(42);

Deno.test("t-SNE keeps neighbourhoods of 4 clusters in 64-D: trustworthiness(k=5) ≥ 0.9", () => {
  const t0 = performance.now();
  const { embedding, klDivergence, iterations } = tsne(rows);
  const ms = performance.now() - t0;
  assertEquals([embedding.rows, embedding.cols], [rows.length, 2]);
  const t5 = trustworthiness(rows, embedding, 5);
  console.log(
    `t-SNE 150×64 → 2: trustworthiness(5) = ${t5.toFixed(4)}, KL = ${klDivergence.toFixed(4)}, ` +
      `${iterations} iterations, ${ms.toFixed(0)} ms`,
  );
  assert(t5 >= 0.9, `trustworthiness(5) = ${t5}`);
  // Clusters stay apart: each point's nearest embedded neighbour is from its own cluster.
  let same = 0;
  const y = embedding.data;
  for (let i = 0; i < rows.length; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < rows.length; j++) {
      if (j === i) continue;
      const dd = (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2;
      if (dd < bestD) [best, bestD] = [j, dd];
    }
    if (best % 4 === i % 4) same++;
  }
  assertEquals(same, rows.length);
});

Deno.test("t-SNE is deterministic: PCA init always, random init for a given seed", () => {
  const small = clusters(7, 60, 16, 3);
  const a = tsne(small, { perplexity: 10, maxIter: 300 });
  const b = tsne(small, { perplexity: 10, maxIter: 300 });
  assertEquals(a.embedding.data, b.embedding.data);
  const r1 = tsne(small, { perplexity: 10, maxIter: 300, init: "random", seed: 5 });
  const r2 = tsne(small, { perplexity: 10, maxIter: 300, init: "random", seed: 5 });
  const r3 = tsne(small, { perplexity: 10, maxIter: 300, init: "random", seed: 6 });
  assertEquals(r1.embedding.data, r2.embedding.data);
  assertNotEquals(r1.embedding.data, r3.embedding.data);
});

Deno.test("t-SNE rejects a perplexity that is not below the number of rows", () => {
  assertThrows(() => tsne(clusters(1, 20, 4, 2)), RangeError, "perplexity (30)");
});

Deno.test("trustworthiness: 1 for an identical embedding, matches sklearn on a small case", () => {
  assertEquals(trustworthiness(rows, rows, 5), 1);
  // A tie-free case (sklearn's ordering of tied distances is unspecified).
  const x = Array.from(
    { length: 14 },
    (_, i) => [Math.sin(i * 1.3), Math.cos(i * 0.7) * i * 0.1, i * i * 0.01],
  );
  const y = Array.from({ length: 14 }, (_, i) => [Math.sin(i * 2.1) + i * 0.05]);
  // Values from sklearn.manifold.trustworthiness(x, y, n_neighbors=k) for k = 2, 3, 4.
  assertAlmostEquals(trustworthiness(x, y, 2), 0.3945578231292517, 1e-12);
  assertAlmostEquals(trustworthiness(x, y, 3), 0.41534391534391535, 1e-12);
  assertAlmostEquals(trustworthiness(x, y, 4), 0.4452380952380952, 1e-12);
  assertThrows(() => trustworthiness(x, y, 7), RangeError, "less than n / 2");
});
