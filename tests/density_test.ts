/**
 * Evaluation maths against scikit-learn: Ledoit–Wolf, Mahalanobis, ROC curve / AUROC / Youden threshold and
 * Gaussian KDE scores, plus property tests that need no fixture.
 *
 * Fixtures: always the committed reference `tests/reference/density/density.json` (made by
 * `tests/reference/make_density.py`), plus the folder in `SSPCAB_DENSITY_FIXTURE` (a folder with
 * `density.json`) when set, else `../shared/fixtures/density` beside the project when present.
 */

import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { join } from "node:path";
import {
  cholesky,
  choleskyInverse,
  createMatrix,
  type Density,
  densityFromJson,
  densityToJson,
  fitGaussianDensity,
  fitKde,
  kdeScores,
  l2NormalizeRows,
  mahalanobisScores,
  matMul,
  pinvh,
  rocAuc,
  rocCurve,
  scoreRows,
  symmetricEigen,
  symmetricInverse,
  youdenThreshold,
} from "../lib/eval/mod.ts";
import { UserError } from "../lib/util/errors.ts";
import { createRng } from "../lib/util/rng.ts";
import { extraFixtureDirs, REFERENCE_DIR } from "./helpers/reference.ts";

const fixtureDirs = [
  join(REFERENCE_DIR, "density"),
  ...(await extraFixtureDirs("SSPCAB_DENSITY_FIXTURE", "density", "density.json")),
];

type Curve = { fpr: number[]; tpr: number[]; thresholds: (number | null)[] };

interface DensityFixture {
  train: number[][];
  test: number[][];
  labels: number[];
  ledoit_wolf: { location: number[]; shrinkage: number; precision: number[][] };
  mahalanobis: number[];
  roc_auc: number;
  roc_curve: Curve;
  youden_threshold: number;
  kde_bandwidth_1_negative_log_density: number[];
  kde_roc_auc: number;
  tied_scores: number[];
  tied_roc_auc: number;
  /** sklearn's roc_curve on the tied scores (committed reference; absent from older fixtures). */
  tied_roc_curve?: Curve;
  tolerance: { abs: number; rel: number };
}

function densityTests(fixturePath: string, label: string): void {
  const fx: DensityFixture = JSON.parse(Deno.readTextFileSync(fixturePath));

  const close = (actual: number, expected: number, what: string): void => {
    const { abs, rel } = fx.tolerance;
    const tol = abs + rel * Math.abs(expected);
    assert(
      Math.abs(actual - expected) <= tol,
      `${what}: got ${actual}, expected ${expected} (|Δ| = ${Math.abs(actual - expected)} > ${tol})`,
    );
  };

  const allClose = (actual: ArrayLike<number>, expected: readonly number[], what: string): void => {
    assertEquals(actual.length, expected.length, `${what}: length`);
    for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], `${what}[${i}]`);
  };

  // sklearn ≥ 1.3 writes +inf (null in JSON) as the first threshold; older versions wrote max score + 1.
  const curveMatches = (scores: ArrayLike<number>, expected: Curve, what: string): void => {
    const first = expected.thresholds[0];
    const curve = rocCurve(fx.labels, scores, {
      firstThreshold: first === null ? "infinity" : "max-plus-one",
    });
    allClose(curve.fpr, expected.fpr, `${what} fpr`);
    allClose(curve.tpr, expected.tpr, `${what} tpr`);
    if (first === null) assertEquals(curve.thresholds[0], Infinity);
    else close(curve.thresholds[0], first, `${what} thresholds[0]`);
    allClose(curve.thresholds.subarray(1), expected.thresholds.slice(1) as number[], `${what} thresholds`);
  };

  Deno.test(`Ledoit–Wolf location, shrinkage and precision match sklearn (${label})`, () => {
    const density = fitGaussianDensity(l2NormalizeRows(fx.train));
    close(density.shrinkage, fx.ledoit_wolf.shrinkage, "shrinkage");
    allClose(density.location, fx.ledoit_wolf.location, "location");
    allClose(density.precision.data, fx.ledoit_wolf.precision.flat(), "precision");
    // Precision really inverts the covariance.
    const prod = matMul(density.covariance, density.precision);
    for (let i = 0; i < density.dim; i++) {
      for (let j = 0; j < density.dim; j++) {
        assertAlmostEquals(prod.data[i * density.dim + j], i === j ? 1 : 0, 1e-8);
      }
    }
  });

  Deno.test(`Mahalanobis scores, ROC AUC, ROC curve and Youden threshold match sklearn (${label})`, () => {
    const density = fitGaussianDensity(fx.train, { l2Normalize: true });
    const scores = mahalanobisScores(density, fx.test);
    allClose(scores, fx.mahalanobis, "mahalanobis");
    close(rocAuc(fx.labels, scores), fx.roc_auc, "roc_auc");
    curveMatches(scores, fx.roc_curve, "roc_curve");
    assertEquals(rocCurve(fx.labels, scores).thresholds[0], Infinity);
    const first = fx.roc_curve.thresholds[0];
    const curve = rocCurve(fx.labels, scores, {
      firstThreshold: first === null ? "infinity" : "max-plus-one",
    });
    close(youdenThreshold(curve), fx.youden_threshold, "youden_threshold");
  });

  Deno.test(`ROC AUC (and ROC curve where given) on tie-heavy scores match sklearn (${label})`, () => {
    close(rocAuc(fx.labels, fx.tied_scores), fx.tied_roc_auc, "tied_roc_auc");
    if (fx.tied_roc_curve) curveMatches(fx.tied_scores, fx.tied_roc_curve, "tied_roc_curve");
  });

  Deno.test(`Gaussian KDE (bandwidth 1) negative log density and its AUROC match sklearn (${label})`, () => {
    const kde = fitKde(fx.train, 1, { l2Normalize: true });
    const scores = kdeScores(kde, fx.test);
    allClose(scores, fx.kde_bandwidth_1_negative_log_density, "kde scores");
    allClose(scoreRows(kde, fx.test), fx.kde_bandwidth_1_negative_log_density, "scoreRows(kde)");
    close(rocAuc(fx.labels, scores), fx.kde_roc_auc, "kde_roc_auc");
  });
}

for (const dir of fixtureDirs) {
  densityTests(join(dir, "density.json"), dir === fixtureDirs[0] ? "committed reference" : dir);
}

// ---- property tests (no fixture needed) ----

Deno.test("AUROC: perfectly separated = 1, reversed = 0, all tied = 0.5", () => {
  const labels = [0, 0, 0, 1, 1, 0, 1];
  const good = labels.map((l, i) => l * 10 + i * 0.1);
  assertEquals(rocAuc(labels, good), 1);
  assertEquals(rocAuc(labels, good.map((s) => -s)), 0);
  assertEquals(rocAuc(labels, labels.map(() => 3.5)), 0.5);
  // Booleans work as labels too.
  assertEquals(rocAuc(labels.map((l) => l === 1), good), 1);
});

Deno.test("AUROC equals the Mann–Whitney statistic with ties counted one half", () => {
  const rng = createRng(7);
  const labels = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = labels.map((l) => Math.round((rng.normal() + l) * 3) / 3);
  let u = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < labels.length; j++) {
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        u += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
  }
  assertAlmostEquals(rocAuc(labels, scores), u / pairs, 1e-12);
});

Deno.test("ROC curve: starts at (0,0) with +inf, ends at (1,1), drops collinear points", () => {
  const c = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
  // sklearn: fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1], thresholds [inf, 0.8, 0.4, 0.35, 0.1]
  assertEquals(Array.from(c.fpr), [0, 0, 0.5, 0.5, 1]);
  assertEquals(Array.from(c.tpr), [0, 0.5, 0.5, 1, 1]);
  assertEquals(Array.from(c.thresholds), [Infinity, 0.8, 0.4, 0.35, 0.1]);
  // J = tpr − fpr = [0, 0.5, 0, 0.5, 0]: the first maximum wins, as numpy.argmax.
  assertEquals(youdenThreshold(c), 0.8);
  const collinear = rocCurve([1, 1, 1, 0, 0], [5, 4, 3, 2, 1]);
  // sklearn: the first and last points are always kept, the collinear ones at 4 and 2 are dropped.
  assertEquals(Array.from(collinear.fpr), [0, 0, 0, 1]);
  assertEquals(Array.from(collinear.tpr), [0, 1 / 3, 1, 1]);
  assertEquals(Array.from(collinear.thresholds), [Infinity, 5, 3, 1]);
});

Deno.test("ROC: one class, mismatched lengths, bad labels and NaN scores are rejected clearly", () => {
  assertThrows(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), RangeError, "only one class");
  assertThrows(() => rocCurve([0, 0], [0.1, 0.2]), RangeError, "only one class");
  assertThrows(() => rocAuc([0, 1], [0.1]), RangeError, "must pair up");
  assertThrows(() => rocAuc([0, 2], [0.1, 0.2]), RangeError, "labels must be 0");
  assertThrows(() => rocAuc([0, 1], [0.1, NaN]), RangeError, "must be finite");
});

function randomRows(seed: number, n: number, d: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal() + 0.3));
}

Deno.test("density JSON round trip (Gaussian and KDE) gives identical scores", () => {
  const train = randomRows(1, 40, 8);
  const test = randomRows(2, 10, 8);
  const densities: Density[] = [
    fitGaussianDensity(train, { l2Normalize: true }),
    fitKde(train, 0.7, { l2Normalize: true }),
  ];
  for (const d of densities) {
    const text = JSON.stringify(densityToJson(d));
    const back = densityFromJson(text);
    assertEquals(back.kind, d.kind);
    assertEquals(back, d);
    assertEquals(scoreRows(back, test), scoreRows(d, test));
    assertEquals(densityFromJson(JSON.parse(text)), d);
  }
});

Deno.test("bad density JSON is rejected with a message naming the problem", () => {
  const good = densityToJson(fitGaussianDensity(randomRows(3, 20, 4))) as unknown as Record<string, unknown>;
  const mutate = (f: (o: Record<string, unknown>) => void) => {
    const o = structuredClone(good);
    f(o);
    return o;
  };
  const cases: [unknown, string][] = [
    ["{not json", "not valid JSON"],
    [[1, 2], "must be a JSON object"],
    [mutate((o) => (o.format = "pickle")), "format"],
    [mutate((o) => (o.version = 99)), "version"],
    [mutate((o) => (o.kind = "gmm")), "kind"],
    [mutate((o) => (o.dim = 5)), `"location" has 4 values, expected 5`],
    [mutate((o) => ((o.precision as number[][])[2] = [1, 2, 3])), `"precision" row 2 has 3 values`],
    [mutate((o) => ((o.covariance as number[][])[1][1] = null as unknown as number)), `"covariance"[1][1]`],
    [mutate((o) => (o.location = "abc")), `"location" must be an array`],
    [mutate((o) => (o.shrinkage = 1.5)), "shrinkage"],
    [mutate((o) => delete o.l2Normalize), "l2Normalize"],
  ];
  for (const [doc, msg] of cases) {
    assertThrows(() => densityFromJson(doc), UserError, msg);
  }
  const kde = densityToJson(fitKde(randomRows(4, 6, 3), 1)) as unknown as Record<string, unknown>;
  assertThrows(() => densityFromJson({ ...kde, bandwidth: 0 }), UserError, "bandwidth");
  assertThrows(() => densityFromJson({ ...kde, nTrain: 7 }), UserError, `"points" has 6 rows, expected 7`);
});

Deno.test("scoring rejects rows of the wrong dimension and non-finite embeddings", () => {
  const d = fitGaussianDensity(randomRows(5, 30, 6));
  assertThrows(() => scoreRows(d, randomRows(6, 3, 5)), UserError, "dimension 5");
  assertThrows(() => scoreRows(d, [[0, 0, NaN, 0, 0, 0]]), UserError, "NaN");
  assertThrows(() => fitGaussianDensity([[1, 2, 3]]), UserError, "at least 2");
});

Deno.test("Mahalanobis distance of the mean is 0; l2Normalize leaves zero rows at zero", () => {
  const d = fitGaussianDensity(randomRows(8, 50, 5));
  assertAlmostEquals(mahalanobisScores(d, [Array.from(d.location)])[0], 0, 1e-12);
  const n = l2NormalizeRows([[3, 4], [0, 0]]);
  assertEquals(Array.from(n.data), [0.6, 0.8, 0, 0]);
});

Deno.test("a singular covariance (fewer rows than dims, no shrinkage possible) falls back to pinvh", () => {
  // Rank-1 PSD matrix: Cholesky fails, pinvh gives the Moore–Penrose inverse.
  const v = [1, 2, 2];
  const a = createMatrix(3, 3, Float64Array.from([0, 1, 2].flatMap((i) => v.map((x) => x * v[i]))));
  const { inverse, method } = symmetricInverse(a);
  assertEquals(method, "pinvh");
  // A A⁺ A = A.
  const back = matMul(matMul(a, inverse), a);
  for (let k = 0; k < 9; k++) assertAlmostEquals(back.data[k], a.data[k], 1e-10);
});

Deno.test("linalg: 512×512 Cholesky inverse and eigendecomposition are accurate and fast", () => {
  const n = 512;
  const rows = randomRows(9, 700, n);
  const density = fitGaussianDensity(rows, { l2Normalize: true });
  const a = density.covariance;
  let t0 = performance.now();
  const inv = choleskyInverse(cholesky(a)!);
  const tChol = performance.now() - t0;
  t0 = performance.now();
  const eig = symmetricEigen(a);
  const tEig = performance.now() - t0;
  t0 = performance.now();
  const p = pinvh(a);
  const tPinv = performance.now() - t0;
  console.log(
    `512×512: cholesky inverse ${tChol.toFixed(0)} ms, eigh ${tEig.toFixed(0)} ms, pinvh ${
      tPinv.toFixed(0)
    } ms`,
  );
  let maxErr = 0;
  for (let k = 0; k < n * n; k++) {
    maxErr = Math.max(maxErr, Math.abs(inv.data[k] - p.data[k]) / (1 + Math.abs(p.data[k])));
  }
  assert(maxErr < 1e-8, `cholesky and pinvh inverses differ by ${maxErr}`);
  // A v = λ v for the largest eigenpair.
  const col = n - 1;
  for (let i = 0; i < n; i += 37) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a.data[i * n + j] * eig.vectors.data[j * n + col];
    assertAlmostEquals(s, eig.values[col] * eig.vectors.data[i * n + col], 1e-12);
  }
  assert(tChol < 1000, `cholesky inverse took ${tChol} ms`);
});
