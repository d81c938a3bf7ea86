/**
 * Seconds per image of each localisation map on the active backend (default wasm):
 * `deno run -A tests/bench/localization_maps_bench.ts [side=256] [strides=4,8,16] [backend=wasm]`.
 * A randomly initialised ProjectionNet (speed does not depend on the weights); the patch map uses patches of
 * side/4 at each stride, batched by 64; GradCAM (layer4) and the SSPCAB map are timed on a batch of 8.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/mod.ts";
import { createProjectionNet, defaultProjectionNetConfig } from "../../lib/model/projection_net.ts";
import { fitGaussianDensity } from "../../lib/eval/density.ts";
import { createMatrix } from "../../lib/eval/linalg.ts";
import { gradcamMaps, patchMaps, patchOffsets, sspcabMaps } from "../../lib/localize/mod.ts";
import type { RgbImage } from "../../lib/data/rgb_image.ts";
import { createRng } from "../../lib/util/rng.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../../lib/backend/mod.ts";

const side = Number(Deno.args[0] ?? 256);
const strides = (Deno.args[1] ?? "4,8,16").split(",").map(Number);
const backend = (Deno.args[2] ?? "wasm") as BackendChoice;
if (!BACKEND_CHOICES.includes(backend)) {
  throw new Error(`backend must be one of ${BACKEND_CHOICES.join(", ")}`);
}
const info = await initBackend(backend);
console.log(`backend ${info.name} (${info.device}), ${side}²`);

const rng = createRng(1);
const image = (): RgbImage => ({
  width: side,
  height: side,
  data: Uint8Array.from({ length: side * side * 3 }, () => Math.floor(rng.next() * 256)),
});
const net = createProjectionNet(defaultProjectionNetConfig(), 1);
// A Gaussian on random 512-d rows stands in for a fitted density (the cost does not depend on it).
const rows = createMatrix(64, 512, Float64Array.from({ length: 64 * 512 }, () => rng.normal()));
const density = fitGaussianDensity(rows, { l2Normalize: true });
const time = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

const batch = Array.from({ length: 8 }, image);
await gradcamMaps(net, density, batch.slice(0, 1)); // warm-up
console.log(
  `gradcam (layer4, σ 4): ${(await time(() => gradcamMaps(net, density, batch)) / 8).toFixed(3)} s/image`,
);
await sspcabMaps(net, batch.slice(0, 1));
console.log(`sspcab map: ${(await time(() => sspcabMaps(net, batch)) / 8).toFixed(3)} s/image`);
const patchSize = Math.round(side / 4);
for (const stride of strides) {
  const n = patchOffsets(side, patchSize, stride).length;
  const s = await time(() => patchMaps(net, density, [image()], { patchSize, stride }));
  console.log(
    `patch map (${patchSize}² patches, stride ${stride}: ${n}×${n} = ${n * n}): ${s.toFixed(2)} s/image`,
  );
}
console.log(`tensors alive: ${tf.memory().numTensors}`);
