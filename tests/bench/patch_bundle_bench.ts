/**
 * Seconds per image of the patch-level map drawn from an export bundle (`patch_model.json` on TensorFlow.js,
 * and `patch_model.onnx` on onnxruntime's CPU provider when installed) next to the library's `patchMaps`,
 * on the active backend (default wasm):
 *
 *     deno run -A tests/bench/patch_bundle_bench.ts [side] [strides] [backend] [batch] [runs]
 *
 * (defaults 256, `16,4`, wasm, 64 patches per call, 1 run). A randomly initialised ProjectionNet with
 * SSPCAB (speed does not depend on the weights), patches of side/4, one image per figure (the best of
 * `runs`) after a small warm-up; the bundle's maps are compared with the library's.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/mod.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../../lib/backend/mod.ts";
import { createProjectionNet, defaultProjectionNetConfig } from "../../lib/model/projection_net.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { fitGaussianDensity } from "../../lib/eval/density.ts";
import { createMatrix } from "../../lib/eval/linalg.ts";
import { type FittedMap, saveFittedModel } from "../../lib/eval/fitted_model.ts";
import { patchMaps, patchOffsets } from "../../lib/localize/patch.ts";
import type { RgbImage } from "../../lib/data/rgb_image.ts";
import { createRng } from "../../lib/util/rng.ts";
import { writePatchGraph } from "../../lib/export/patch_graph.ts";
import { loadPatchMaps, type PatchMapBundle, patchMapsFromBundle } from "../../lib/export/patch_maps.ts";
import { loadOnnxRuntime } from "../../lib/export/onnx_engine.ts";

const side = Number(Deno.args[0] ?? 256);
const strides = (Deno.args[1] ?? "16,4").split(",").map(Number);
const backend = (Deno.args[2] ?? "wasm") as BackendChoice;
const batchSize = Number(Deno.args[3] ?? 64);
const runs = Math.max(1, Number(Deno.args[4] ?? 1));
if (!BACKEND_CHOICES.includes(backend)) {
  throw new Error(`backend must be one of ${BACKEND_CHOICES.join(", ")}`);
}
const info = await initBackend(backend);
const ort = await loadOnnxRuntime().then(() => true, () => false);
console.log(`backend ${info.name} (${info.device}), ${side}², batches of ${batchSize}`);

const rng = createRng(1);
const image: RgbImage = {
  width: side,
  height: side,
  data: Uint8Array.from({ length: side * side * 3 }, () => Math.floor(rng.next() * 256)),
};
const net = createProjectionNet(defaultProjectionNetConfig(), 1);
// A Gaussian on random 512-d rows stands in for a fitted patch density (the cost does not depend on it).
const rows = createMatrix(64, 512, Float64Array.from({ length: 64 * 512 }, () => rng.normal()));
const density = fitGaussianDensity(rows, { l2Normalize: true });
const patchSize = Math.round(side / 4);
const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  let out: T | undefined;
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    out = await f();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return [out!, best];
};
const maxRel = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
};

const dir = await Deno.makeTempDir({ prefix: "patch_bundle_bench_" });
try {
  for (const stride of strides) {
    const map: FittedMap = {
      method: "patch",
      options: { patch_size: patchSize, stride },
      pixelThreshold: 0,
      pixelAuroc: 0,
      auPro: 0,
      patchDensity: density,
    };
    await saveFittedModel(`${dir}/density.json`, {
      category: "bench",
      imageSize: side,
      density,
      threshold: 0,
      auroc: 0,
      maps: [map],
    });
    await writePatchGraph(dir, net, map, { imageSize: side, format: ort ? "all" : "tfjs" });
    const n = patchOffsets(side, patchSize, stride).length;
    const label = `${patchSize}² patches, stride ${stride}: ${n}×${n} = ${n * n}`;
    await patchMaps(net, density, [image], { patchSize, stride: side, batchSize }); // warm-up
    const [ref, tLib] = await time(() => patchMaps(net, density, [image], { patchSize, stride, batchSize }));
    console.log(`library patchMaps (${label}): ${tLib.toFixed(2)} s/image`);
    const engines: Array<"tfjs" | "onnxruntime"> = ort ? ["tfjs", "onnxruntime"] : ["tfjs"];
    for (const engine of engines) {
      const bundle: PatchMapBundle = await loadPatchMaps(dir, { imageSize: side }, { engine });
      try {
        const warm = { ...bundle, settings: { ...bundle.settings, stride: side } };
        await patchMapsFromBundle(warm, [image], { batchSize });
        const [maps, t] = await time(() => patchMapsFromBundle(bundle, [image], { batchSize }));
        console.log(
          `bundle ${engine} (${label}): ${t.toFixed(2)} s/image, max |Δ| / max vs library ${
            maxRel(maps[0], ref[0]).toExponential(2)
          }`,
        );
      } finally {
        await bundle.dispose();
      }
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
  disposeParams(net.params);
}
console.log(`tensors alive: ${tf.memory().numTensors}`);
