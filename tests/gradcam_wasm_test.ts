/**
 * GradCAM on the `wasm` backend (the one training and the commands use): the part of the trunk that is
 * differentiated runs BatchNorm unfused, so every trunk layer has a gradient there — the fused eval-mode
 * BatchNorm is a depthwise convolution whose input gradient `wasm` lacks.
 */
import { assert, assertEquals } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetEmbed,
} from "../lib/model/projection_net.ts";
import { fitGaussianDensity } from "../lib/eval/density.ts";
import { createMatrix } from "../lib/eval/linalg.ts";
import { gradcamMaps, imagesToTensor, TRUNK_LAYERS } from "../lib/localize/mod.ts";
import type { RgbImage } from "../lib/data/rgb_image.ts";
import { createRng } from "../lib/util/rng.ts";

await initBackend("wasm");

function noiseImage(seed: number, side: number): RgbImage {
  const rng = createRng(seed);
  const data = new Uint8Array(side * side * 3).map(() => Math.floor(rng.next() * 256));
  return { width: side, height: side, data };
}

Deno.test("GradCAM on wasm: every trunk layer (the gradient passes layer4's and SSPCAB's BatchNorms)", async () => {
  const side = 64;
  const net = createProjectionNet(defaultProjectionNetConfig(), 3);
  const train = Array.from({ length: 5 }, (_, i) => noiseImage(10 + i, side));
  const x = imagesToTensor(train);
  const e = projectionNetEmbed(net, x);
  const rows = createMatrix(train.length, e.shape[1], Float64Array.from(await e.data()));
  x.dispose();
  e.dispose();
  const density = fitGaussianDensity(rows, { l2Normalize: true });
  for (const layer of TRUNK_LAYERS) {
    const [map] = await gradcamMaps(net, density, [noiseImage(99, side)], { layer });
    assertEquals(map.length, side * side);
    assert(map.every((v) => Number.isFinite(v) && v >= 0), `${layer}: finite and ≥ 0`);
  }
});
