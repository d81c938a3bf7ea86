/**
 * A patch-level model on disk for the export/infer tests of the patch map: a random ProjectionNet (random
 * BatchNorm statistics, so folding matters) saved as `model-<category>.safetensors` with the training
 * configuration of `deno task train --patch_size P` at side 64, and its fitted density as `eval
 * --localization patch` stores it — the image Gaussian, and a `patch` map with the Gaussian of the training
 * images' patch embeddings (`fitPatchDensity`), stride 8 — plus a few query PNGs with a bright square defect.
 * The reference maps are the library's (`computeMaps`, what `predict --heatmap --map patch` draws), and the
 * stored pixel threshold lies in the middle of the widest gap between the maps' pixel values in their
 * 60–97 % quantiles, so the defect area is neither empty nor full and does not flip on float32 rounding.
 * @module
 */
import { join } from "node:path";
import { createProjectionNet } from "../../lib/model/projection_net.ts";
import { saveStateDict } from "../../lib/model/state_dict.ts";
import { modelConfigFor, TRAIN_DEFAULTS } from "../../lib/train/config.ts";
import { disposeParams } from "../../lib/model/params.ts";
import { createRng, type Rng } from "../../lib/util/rng.ts";
import type { RgbImage } from "../../lib/data/rgb_image.ts";
import { loadRgb, saveRgbPng } from "../../lib/data/images.ts";
import { fitPatchDensity } from "../../lib/localize/patch.ts";
import { embedImages } from "../../lib/eval/embed.ts";
import { fitGaussianDensity } from "../../lib/eval/density.ts";
import {
  type FittedMap,
  type FittedModel,
  fittedModelPath,
  saveFittedModel,
} from "../../lib/eval/fitted_model.ts";
import { computeMaps } from "../../lib/pipeline/predict.ts";
import { randomizeBatchNorm } from "./random_net.ts";

/** Side of the images. */
export const PATCH_TEST_SIZE = 64;
/** Grid stride of the patch map. */
export const PATCH_TEST_STRIDE = 8;

/** Synthetic RGB images: a smooth colour field, noise, and (when `defect`) a bright square somewhere. */
export function patchTestImages(rng: Rng, count: number, defect: boolean): RgbImage[] {
  const size = PATCH_TEST_SIZE;
  return Array.from({ length: count }, () => {
    const data = new Uint8Array(size * size * 3);
    const base = [rng.uniform(80, 160), rng.uniform(80, 160), rng.uniform(80, 160)];
    const [r0, c0] = [rng.int(0, size - 16), rng.int(0, size - 16)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inRect = defect && y >= r0 && y < r0 + 14 && x >= c0 && x < c0 + 14;
        for (let c = 0; c < 3; c++) {
          const v = base[c] + 30 * Math.sin((x + 2 * c) / 9) + 20 * Math.cos(y / 7) + 8 * rng.normal() +
            (inRect ? 90 : 0);
          data[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    return { width: size, height: size, data };
  });
}

/**
 * The middle of the widest gap between consecutive distinct pixel values of `maps` whose ranks lie in the
 * 60–97 % quantiles, and that gap's width.
 */
export function thresholdInGap(maps: readonly Float32Array[]): { threshold: number; gap: number } {
  const all = Float64Array.from(maps.flatMap((m) => Array.from(m))).sort();
  let best = { threshold: NaN, gap: -1 };
  const lo = Math.floor(0.6 * (all.length - 1));
  const hi = Math.floor(0.97 * (all.length - 1));
  for (let i = lo; i < hi; i++) {
    const gap = all[i + 1] - all[i];
    if (gap > best.gap) best = { threshold: (all[i] + all[i + 1]) / 2, gap };
  }
  return best;
}

/** What {@link patchModelOnDisk} wrote. */
export interface PatchModelOnDisk {
  /** Temporary root (the caller removes it). */
  dir: string;
  /** Category name. */
  category: string;
  /** The models folder (model file and fitted density). */
  modelDir: string;
  /** The model file. */
  modelPath: string;
  /** Query PNGs. */
  paths: string[];
  /** The query images as `loadRgb` decodes them at the model's side. */
  images: RgbImage[];
  /** The fitted density written (maps in the order asked for). */
  fitted: FittedModel;
  /** The stored patch map. */
  patchMap: FittedMap;
  /** The library's patch maps of the query images (what `predict --map patch` draws). */
  reference: Float32Array[];
  /** Width of the gap around the pixel threshold (see {@link thresholdInGap}). */
  gap: number;
}

/**
 * Write a patch model with its fitted density into a new temporary folder. `patchSize` 40 with SSPCAB (the
 * smallest side for it is 33), 32 without; `defaultMap` `patch` stores the patch map first (the fitted
 * default), `sspcab` stores an sspcab map first and the patch map second.
 */
export async function patchModelOnDisk(options: {
  seed: number;
  sspcab: boolean;
  patchSize: number;
  defaultMap: "patch" | "sspcab";
}): Promise<PatchModelOnDisk> {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_patch_bundle_" });
  const category = "synthetic";
  const modelDir = join(dir, "models");
  await Deno.mkdir(modelDir);
  const size = PATCH_TEST_SIZE;
  const config = {
    ...TRAIN_DEFAULTS,
    category,
    size,
    headLayer: 2,
    variant: "3way" as const,
    sspcab: options.sspcab,
    sspcabLambda: options.sspcab ? TRAIN_DEFAULTS.sspcabLambda : 0,
    patchSize: options.patchSize,
  };
  const net = createProjectionNet(modelConfigFor(config), options.seed);
  try {
    const rng = createRng(options.seed);
    randomizeBatchNorm(net, rng);
    const modelPath = join(modelDir, `model-${category}.safetensors`);
    await saveStateDict(net.specs, net.params, modelPath, { config: JSON.stringify(config), step: "3" });
    const train = patchTestImages(rng, 6, false);
    const density = fitGaussianDensity(await embedImages(net, train), { l2Normalize: true });
    const patchDensity = await fitPatchDensity(net, train, {
      patchSize: options.patchSize,
      stride: PATCH_TEST_STRIDE,
    });
    const imgDir = join(dir, "images");
    await Deno.mkdir(imgDir);
    const paths: string[] = [];
    for (const [i, img] of patchTestImages(rng, 3, true).entries()) {
      paths.push(join(imgDir, `query_${i}.png`));
      await saveRgbPng(paths[i], img);
    }
    const images = await Promise.all(paths.map((p) => loadRgb(p, size)));
    const bare: FittedMap = {
      method: "patch",
      options: { patch_size: options.patchSize, stride: PATCH_TEST_STRIDE, sigma: options.patchSize / 4 },
      pixelThreshold: 0,
      pixelAuroc: 0.5,
      auPro: 0.3,
      patchDensity,
    };
    const base: FittedModel = { category, imageSize: size, density, threshold: 1, auroc: 0.5 };
    const reference = await computeMaps(net, { ...base, maps: [bare] }, "patch", images, 4);
    const { threshold, gap } = thresholdInGap(reference);
    const patchMap = { ...bare, pixelThreshold: threshold };
    const sspcabMap: FittedMap = {
      method: "sspcab",
      options: { sigma: 0, layer: "layer3" },
      pixelThreshold: 1e-9,
      pixelAuroc: 0.5,
      auPro: 0.2,
    };
    const maps = options.defaultMap === "patch" || !options.sspcab ? [patchMap] : [sspcabMap, patchMap];
    const fitted: FittedModel = { ...base, maps };
    await saveFittedModel(fittedModelPath(modelDir, category), fitted);
    return { dir, category, modelDir, modelPath, paths, images, fitted, patchMap, reference, gap };
  } finally {
    disposeParams(net.params);
  }
}
