/**
 * Localisation maps on a small random ProjectionNet at 64² (cpu backend): resampling helpers against tfjs's
 * own resize kernels and a direct 2-D convolution; GradCAM's properties and its gradient against finite
 * differences of the score; the SSPCAB map against a direct forward pass; the patch map against a direct
 * per-patch computation; and patch-mode training batches.
 */

import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetEmbed,
  projectionNetForward,
} from "../lib/model/projection_net.ts";
import { fitGaussianDensity, mahalanobisScores } from "../lib/eval/density.ts";
import { createMatrix } from "../lib/eval/linalg.ts";
import { toNormalizedFloat32 } from "../lib/data/normalize.ts";
import type { RgbImage } from "../lib/data/rgb_image.ts";
import { buildBatch } from "../lib/train/batch_plan.ts";
import { createRng } from "../lib/util/rng.ts";
import { UserError } from "../lib/util/errors.ts";
import {
  embedPatches,
  fitPatchDensity,
  gaussianBlur,
  gaussianKernel1d,
  gradcamMaps,
  gradcamRaw,
  imagesToTensor,
  mahalanobisScoreTensor,
  mapScore,
  minPatchSize,
  patchMaps,
  patchOffsets,
  patchScoreGrid,
  patchScoresToMap,
  resizeBilinear,
  resizeMaskNearest,
  sspcabErrorGrid,
  sspcabMaps,
  TRUNK_LAYERS,
  trunkFrom,
  trunkTo,
} from "../lib/localize/mod.ts";

await initBackend("cpu");

const SIDE = 64;

/** A smooth random RGB image (low-frequency colour blobs plus a little noise). */
function smoothImage(seed: number, side = SIDE): RgbImage {
  const rng = createRng(seed);
  const data = new Uint8Array(side * side * 3);
  const phase = Array.from({ length: 6 }, () => rng.next() * 6.28);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 60 * Math.sin(x / 9 + phase[c]) * Math.cos(y / 11 + phase[c + 3]) + 10 * rng.normal();
        data[(y * side + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width: side, height: side, data };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const net = createProjectionNet(defaultProjectionNetConfig(), 5);
const train = Array.from({ length: 6 }, (_, i) => smoothImage(100 + i));
const test = [smoothImage(200), smoothImage(201)];

async function embedRows(images: RgbImage[]) {
  const x = imagesToTensor(images);
  const e = projectionNetEmbed(net, x);
  const rows = createMatrix(images.length, e.shape[1], Float64Array.from(await e.data()));
  tf.dispose([x, e]);
  return rows;
}
const density = fitGaussianDensity(await embedRows(train), { l2Normalize: true });

Deno.test("resizeBilinear equals tfjs resizeBilinear (half-pixel centres); masks resize like resizeNearestNeighbor", async () => {
  const rng = createRng(1);
  for (const [h, w, oh, ow] of [[4, 5, 64, 64], [2, 2, 7, 3], [16, 16, 64, 64], [10, 6, 4, 3]]) {
    const src = Float32Array.from({ length: h * w }, () => rng.normal());
    const ours = resizeBilinear(src, h, w, oh, ow);
    const ref = tf.image.resizeBilinear(tf.tensor4d(src, [1, h, w, 1]), [oh, ow], false, true);
    assert(maxAbsDiff(ours, await ref.data()) < 1e-5, `${h}×${w} → ${oh}×${ow}`);
    ref.dispose();
    const mask = Uint8Array.from({ length: h * w }, () => (rng.next() < 0.4 ? 255 : 0));
    const nn = tf.image.resizeNearestNeighbor(tf.tensor4d(mask, [1, h, w, 1]), [oh, ow], false, false);
    const refMask = Array.from(await nn.data(), (v) => (v ? 1 : 0));
    nn.dispose();
    assertEquals(Array.from(resizeMaskNearest(mask, h, w, oh, ow)), refMask, `mask ${h}×${w} → ${oh}×${ow}`);
  }
});

Deno.test("gaussianBlur equals a direct 2-D convolution with reflected borders; constants stay constant", () => {
  const rng = createRng(2);
  const h = 13;
  const w = 9;
  const sigma = 1.5;
  const src = Float32Array.from({ length: h * w }, () => rng.normal());
  const k = gaussianKernel1d(sigma);
  const r = (k.length - 1) / 2;
  assertEquals(r, 6);
  assertAlmostEquals(k.reduce((a, b) => a + b, 0), 1, 1e-12);
  const reflect = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
  };
  const ours = gaussianBlur(src, h, w, sigma);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          s += k[dy + r] * k[dx + r] * src[reflect(y + dy, h) * w + reflect(x + dx, w)];
        }
      }
      assertAlmostEquals(ours[y * w + x], s, 1e-5);
    }
  }
  const flat = gaussianBlur(new Float32Array(64).fill(3), 8, 8, 4);
  assert(maxAbsDiff(flat, new Float32Array(64).fill(3)) < 1e-5);
  assertEquals(Array.from(gaussianBlur(src, h, w, 0)), Array.from(src));
});

Deno.test("GradCAM maps: input size, finite, non-negative, for every trunk layer; score = density's Mahalanobis", async () => {
  // ReLU(Σ α A) may vanish everywhere for a random model at some layer, but not at all of them.
  let nonZero = 0;
  for (const layer of TRUNK_LAYERS) {
    const maps = await gradcamMaps(net, density, test.slice(0, 1), { layer });
    assertEquals(maps.length, 1);
    for (const m of maps) {
      assertEquals(m.length, SIDE * SIDE);
      assert(m.every((v) => Number.isFinite(v) && v >= 0), `${layer}: finite and ≥ 0`);
      if (mapScore(m) > 0) nonZero++;
    }
  }
  assert(nonZero > 0, "every GradCAM map is zero");
  const x = imagesToTensor(test);
  const raw = gradcamRaw(net, density, x, "layer4");
  assertEquals(raw.cams.shape, [2, 2, 2]);
  const expected = mahalanobisScores(density, await embedRows(test));
  const got = await raw.scores.data();
  for (let i = 0; i < test.length; i++) assertAlmostEquals(got[i], expected[i], 1e-3 * expected[i]);
  tf.dispose([x, raw.cams, raw.weights, raw.scores]);
  assertThrows(
    () => gradcamRaw(net, { ...density, kind: "kde" } as never, tf.zeros([1, 64, 64, 3]), "layer4"),
    UserError,
    "Gaussian",
  );
});

Deno.test("GradCAM channel weights equal finite differences of the score (layer4 and sspcab)", async () => {
  const x = imagesToTensor([test[0]]);
  for (const layer of ["layer4", "sspcab"] as const) {
    const raw = gradcamRaw(net, density, x, layer);
    const weights = await raw.weights.data();
    const a = trunkTo(net, x, layer);
    const [, h, w, c] = a.shape;
    // α_c = mean over positions of ∂s/∂A_c = (d/dε s(A + ε·1_c)) / (h·w).
    const score = (eps: number, ch: number) =>
      tf.tidy(() => {
        const bump = tf.mul(tf.oneHot([ch], c).reshape([1, 1, 1, c]), eps);
        return mahalanobisScoreTensor(density, trunkFrom(net, tf.add(a, bump) as tf.Tensor4D, layer))
          .dataSync()[0];
      });
    // The channels with the largest weights, so the finite difference is well above float32 noise.
    const order = Array.from(weights.keys()).sort((p, q) => Math.abs(weights[q]) - Math.abs(weights[p]));
    for (const ch of order.slice(0, 3)) {
      const eps = 0.05;
      const fd = (score(eps, ch) - score(-eps, ch)) / (2 * eps) / (h * w);
      assertAlmostEquals(weights[ch], fd, 0.05 * Math.abs(weights[ch]) + 1e-6, `${layer} channel ${ch}`);
    }
    // The map is ReLU(Σ_c α_c A_c).
    const cam = await raw.cams.data();
    const av = await a.data();
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += weights[k] * av[p * c + k];
      assertAlmostEquals(cam[p], Math.max(0, s), 1e-4 * (Math.abs(s) + 1));
    }
    tf.dispose([raw.cams, raw.weights, raw.scores, a]);
  }
  x.dispose();
});

Deno.test("SSPCAB map equals the per-position squared error of a direct forward pass, upsampled", async () => {
  const x = imagesToTensor(test);
  const out = projectionNetForward(net, x, { training: false });
  const direct = tf.mean(tf.squaredDifference(out.sspcab, out.layer3), 3);
  const grid = sspcabErrorGrid(net, x);
  assertEquals(grid.shape, [2, 4, 4]);
  assert(maxAbsDiff(await grid.data(), await direct.data()) < 1e-6);
  // Its mean is the training loss's MSE term.
  assertAlmostEquals((await tf.mean(grid).data())[0], (await out.mse.data())[0], 1e-6);
  const up = tf.image.resizeBilinear(tf.expandDims(direct, 3) as tf.Tensor4D, [SIDE, SIDE], false, true);
  const upValues = await up.data();
  const maps = await sspcabMaps(net, test);
  for (let i = 0; i < test.length; i++) {
    assert(maxAbsDiff(maps[i], upValues.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE)) < 1e-6);
  }
  const smooth = await sspcabMaps(net, test, { sigma: 4 });
  assert(maxAbsDiff(smooth[0], gaussianBlur(maps[0], SIDE, SIDE, 4)) < 1e-6);
  tf.dispose([x, direct, grid, up, ...Object.values(out)]);
  const plain = createProjectionNet(defaultProjectionNetConfig({ sspcab: null, sspcabLambda: 0 }), 1);
  await assertRejectsUser(() => sspcabMaps(plain, test), "SSPCAB block");
});

async function assertRejectsUser(f: () => Promise<unknown>, text: string): Promise<void> {
  try {
    await f();
  } catch (err) {
    assert(err instanceof UserError, `expected a UserError, got ${err}`);
    assert((err as Error).message.includes(text), (err as Error).message);
    return;
  }
  throw new Error("expected a UserError");
}

Deno.test("patch map equals a direct per-patch computation on a tiny image", async () => {
  const side = 48;
  const p = 36;
  const img = smoothImage(300, side);
  const trainSmall = [smoothImage(301, side), smoothImage(302, side)];
  assertEquals(Array.from(patchOffsets(48, 36, 6)), [0, 6, 12]);
  assertEquals(Array.from(patchOffsets(48, 36, 5)), [0, 5, 10, 12]);
  const pd = await fitPatchDensity(net, trainSmall, { patchSize: p, stride: 6 });
  assertEquals(pd.nTrain, 2 * 9);
  const geometry = { patchSize: p, stride: 5 };
  const emb = await embedPatches(net, img, geometry, { batchSize: 5 });
  assertEquals(emb.rows.rows, 16);
  // Direct: slice each patch out of the normalised image tensor and embed it alone.
  const full = tf.tensor4d(toNormalizedFloat32([img]), [1, side, side, 3]);
  const directScores: number[] = [];
  for (let i = 0; i < emb.tops.length; i++) {
    for (let j = 0; j < emb.lefts.length; j++) {
      const patch = tf.slice(full, [0, emb.tops[i], emb.lefts[j], 0], [1, p, p, 3]);
      const e = projectionNetEmbed(net, patch);
      const values = await e.data();
      const k = i * emb.lefts.length + j;
      assert(maxAbsDiff(values, emb.rows.data.subarray(k * 512, (k + 1) * 512)) < 1e-4, `patch ${k}`);
      directScores.push(mahalanobisScores(pd, createMatrix(1, 512, Float64Array.from(values)))[0]);
      tf.dispose([patch, e]);
    }
  }
  full.dispose();
  const grid = await patchScoreGrid(net, pd, img, geometry);
  for (let k = 0; k < directScores.length; k++) assertAlmostEquals(grid.scores[k], directScores[k], 1e-3);
  assert(Math.max(...grid.scores) - Math.min(...grid.scores) > 1e-3, "patches get different scores");
  // Direct pixel map: the Gaussian-weighted average of the scores of the patches covering the pixel.
  const sigma = p / 4;
  const c = (p - 1) / 2;
  const map = patchScoresToMap(grid, side, side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let num = 0;
      let den = 0;
      grid.tops.forEach((t, i) =>
        grid.lefts.forEach((l, j) => {
          if (y < t || y >= t + p || x < l || x >= l + p) return;
          const wgt = Math.exp(-((y - t - c) ** 2 + (x - l - c) ** 2) / (2 * sigma * sigma));
          num += wgt * grid.scores[i * grid.lefts.length + j];
          den += wgt;
        })
      );
      assertAlmostEquals(map[y * side + x], num / den, 1e-4);
    }
  }
  const maps = await patchMaps(net, pd, [img], geometry);
  assert(maxAbsDiff(maps[0], map) < 1e-6);
  // A constant score grid gives a constant map.
  const flat = patchScoresToMap({ ...grid, scores: new Float64Array(16).fill(2) }, side, side);
  assert(maxAbsDiff(flat, new Float32Array(side * side).fill(2)) < 1e-6);
  await assertRejectsUser(
    () => embedPatches(net, img, { patchSize: 50, stride: 4 }),
    "larger than the image",
  );
});

Deno.test("patches too small for SSPCAB are refused: their embeddings would not depend on the patch", async () => {
  assertEquals(minPatchSize(net.config), 33);
  assertEquals(minPatchSize({ ...net.config, sspcab: null }), 1);
  // Why: at 32² layer3 is 2×2 and SSPCAB's sub-kernels (distance 2) read only zero padding.
  const a = tf.tensor4d(toNormalizedFloat32([smoothImage(600, 32)]), [1, 32, 32, 3]);
  const b = tf.tensor4d(toNormalizedFloat32([smoothImage(601, 32)]), [1, 32, 32, 3]);
  const ea = projectionNetEmbed(net, a);
  const eb = projectionNetEmbed(net, b);
  assert(maxAbsDiff(await ea.data(), await eb.data()) === 0, "identical embeddings of different 32² inputs");
  tf.dispose([a, b, ea, eb]);
  await assertRejectsUser(
    () => embedPatches(net, smoothImage(602), { patchSize: 32, stride: 8 }),
    "at least 33",
  );
  const plain = createProjectionNet(defaultProjectionNetConfig({ sspcab: null, sspcabLambda: 0 }), 2);
  const ok = await embedPatches(plain, smoothImage(603), { patchSize: 16, stride: 16 });
  assertEquals(ok.rows.rows, 16);
});

Deno.test("the map functions leave no tensors behind", async () => {
  const before = tf.memory().numTensors;
  await gradcamMaps(net, density, test, { layer: "sspcab" });
  await sspcabMaps(net, test);
  await patchMaps(net, density, [smoothImage(500, 40)], { patchSize: 36, stride: 4 });
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("patch-mode batches: patchSize² crops with CutPaste inside; without it batches are unchanged", () => {
  const images = [smoothImage(400), smoothImage(401), smoothImage(402)];
  const plan = { imageCount: 3, batchSize: 2, datasetLength: 6, seed: 9, variant: "3way" as const };
  const whole = buildBatch(plan, images, 1);
  const same = buildBatch({ ...plan, patchSize: null }, images, 1);
  assertEquals(same.size, SIDE);
  assertEquals(Array.from(same.pixels), Array.from(whole.pixels));
  const patches = buildBatch({ ...plan, patchSize: 16 }, images, 1);
  assertEquals(patches.size, 16);
  assertEquals(patches.count, 6);
  assertEquals(patches.pixels.length, 6 * 16 * 16 * 3);
  assertEquals(Array.from(patches.labels), [0, 0, 1, 1, 2, 2]);
  assertEquals(
    Array.from(buildBatch({ ...plan, patchSize: 16 }, images, 1).pixels),
    Array.from(patches.pixels),
  );
  // The CutPaste view differs from its original inside the crop.
  const per = 16 * 16 * 3;
  assert(maxAbsDiff(patches.pixels.subarray(0, per), patches.pixels.subarray(2 * per, 3 * per)) > 0);
  assertThrows(() => buildBatch({ ...plan, patchSize: 65 }, images, 0), RangeError, "patch size");
});
