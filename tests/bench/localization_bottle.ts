/**
 * A real-data localisation figure: on an MVTec-layout category with masks (default: bottle), train an
 * image-level model and a patch-level model from scratch with the library's trainer, then compute every
 * localisation method's maps on the test set and their pixel AUROC, AU-PRO@0.3, pixel F1-max, image AUROC of
 * the map maximum, and seconds per test image.
 *
 * `deno run -A tests/bench/localization_bottle.ts --data DIR [--category bottle] [--size 64] [--steps 300]
 *   [--patch_steps 300] [--batch 8] [--patch_size side/4] [--stride side/64] [--out DIR] [--backend wasm]
 *   [--models image,patch] [--reuse 1] [--pretrained FILE]`
 *
 * `--reuse 1` loads a model this script trained before under `--out` instead of training it again (the
 * evaluation is the same); `--pretrained FILE` starts from ImageNet weights (`deno task weights` fetches them),
 * which is what the CutPaste paper's figures use.
 *
 * With SSPCAB the patch size must be at least 33 px (see `minPatchSize`), so below 132² pass `--patch_size`.
 *
 * Masks are resized to the map size with nearest neighbour (any non-zero pixel is a defect).
 * @module
 */
import { join } from "node:path";
import { initBackend, parseBackendChoice } from "../../lib/backend/mod.ts";
import { loadCategoryImages } from "../../lib/data/category_images.ts";
import { loadMask } from "../../lib/data/images.ts";
import { createProjectionNet, type ProjectionNet } from "../../lib/model/projection_net.ts";
import { loadStateDict } from "../../lib/model/state_dict.ts";
import { modelConfigFor, runPaths, TRAIN_DEFAULTS, type TrainConfig } from "../../lib/train/config.ts";
import { trainCategory } from "../../lib/train/trainer.ts";
import { embedImages } from "../../lib/eval/embed.ts";
import { fitGaussianDensity, mahalanobisScores } from "../../lib/eval/density.ts";
import { rocAuc } from "../../lib/eval/roc.ts";
import { localizationMetrics } from "../../lib/eval/localization_metrics.ts";
import {
  defaultPatchGeometry,
  fitPatchDensity,
  gradcamMaps,
  patchMaps,
  resizeMaskNearest,
  sspcabMaps,
} from "../../lib/localize/mod.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const args: Record<string, string | undefined> = {};
for (let i = 0; i < Deno.args.length; i += 2) {
  const key = Deno.args[i];
  if (!key.startsWith("--") || i + 1 >= Deno.args.length) {
    throw new Error(`expected --flag value, got ${key}`);
  }
  args[key.slice(2)] = Deno.args[i + 1];
}
const dataDir = args.data ?? "data/mvtec";
const category = args.category ?? "bottle";
const size = Number(args.size ?? 64);
const steps = Number(args.steps ?? 300);
const patchSteps = Number(args.patch_steps ?? steps);
const batchSize = Number(args.batch ?? 8);
const geometry = defaultPatchGeometry(size);
const patchSize = Number(args.patch_size ?? geometry.patchSize);
const stride = Number(args.stride ?? geometry.stride);
const models = (args.models ?? "image,patch").split(",");
const reuse = args.reuse === "1";
const pretrained = args.pretrained ?? null;
const out = args.out ?? await Deno.makeTempDir({ prefix: "localization_bench_" });
const info = await initBackend(parseBackendChoice(args.backend ?? "wasm"));
console.log(
  `backend ${info.name}; ${category} at ${size}², ${steps} + ${patchSteps} steps, batch ${batchSize}`,
);

const data = await loadCategoryImages(dataDir, category, size, { quiet: true });
const masks: Uint8Array[] = [];
for (const r of data.testRecords) {
  if (r.label === 0) {
    masks.push(new Uint8Array(size * size));
    continue;
  }
  if (!r.maskPath) throw new Error(`no ground-truth mask for ${r.path}`);
  const m = await loadMask(r.maskPath);
  masks.push(resizeMaskNearest(m.data, m.height, m.width, size, size));
}
const names = data.testRecords.map((r) => r.path);

async function train(name: string, epochs: number, patch: number | null): Promise<ProjectionNet> {
  const config: TrainConfig = {
    ...TRAIN_DEFAULTS,
    category,
    dataDir,
    modelDir: join(out, name, "models"),
    logDir: join(out, name, "logs"),
    epochs,
    testEpochs: 0,
    batchSize,
    pretrained,
    size,
    backend: info.name,
    patchSize: patch,
  };
  const net = createProjectionNet(modelConfigFor(config), 0);
  const previous = runPaths(config).best;
  if (reuse && await exists(previous)) {
    await loadStateDict(net.specs, net.params, previous);
    console.log(`${name}: reusing ${previous}`);
    return net;
  }
  const t0 = performance.now();
  const result = await trainCategory(config, { data, hooks: { quiet: true, log: () => {} } });
  console.log(
    `${name}: trained ${result.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s, ` +
      `final loss ${result.history.at(-1)?.loss.toFixed(4)}`,
  );
  await loadStateDict(net.specs, net.params, result.paths.best);
  return net;
}

const rows: string[] = [];
function report(method: string, maps: Float32Array[], seconds: number) {
  const m = localizationMetrics({ maps, masks, height: size, width: size, names });
  const line =
    `| ${method} | ${m.pixelAuroc.toFixed(4)} | ${m.auPro.toFixed(4)} | ${m.pixelF1Max.toFixed(4)} | ` +
    `${m.imageAuroc.toFixed(4)} | ${(seconds / maps.length).toFixed(3)} |`;
  rows.push(line);
  console.log(line);
}
const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await f();
  return [v, (performance.now() - t0) / 1000];
};

console.log("| method | pixel AUROC | AU-PRO@0.3 | pixel F1-max | image AUROC (map max) | s / test image |");
console.log("|---|---|---|---|---|---|");
if (models.includes("image")) {
  const imageNet = await train("image", steps, null);
  const density = fitGaussianDensity(await embedImages(imageNet, data.train), { l2Normalize: true });
  const testScores = mahalanobisScores(density, await embedImages(imageNet, data.test));
  const imageAuroc = rocAuc(data.testRecords.map((r) => r.label), testScores);
  for (const layer of ["layer4", "layer3"] as const) {
    const [maps, s] = await timed(() => gradcamMaps(imageNet, density, data.test, { layer }));
    report(`gradcam ${layer}`, maps, s);
  }
  for (const sigma of [0, 4]) {
    const [maps, s] = await timed(() => sspcabMaps(imageNet, data.test, { sigma }));
    report(`sspcab σ=${sigma}`, maps, s);
  }
  console.log(`image AUROC of the image-level model (embedding Mahalanobis): ${imageAuroc.toFixed(4)}`);
}
if (models.includes("patch")) {
  const patchNet = await train("patch", patchSteps, patchSize);
  const patchDensity = await fitPatchDensity(patchNet, data.train, { patchSize });
  const [pmaps, ps] = await timed(() => patchMaps(patchNet, patchDensity, data.test, { patchSize, stride }));
  report(`patch ${patchSize}² stride ${stride}`, pmaps, ps);
}
console.log(`files under ${out}`);
