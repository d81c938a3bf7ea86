/** The fitted-density file: its anomaly-map entries round-trip, and a bad entry is named with its field. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { join } from "node:path";
import { fittedMap, type FittedModel, loadFittedModel, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { fitGaussianDensity, mahalanobisScores } from "../lib/eval/density.ts";
import { createMatrix } from "../lib/eval/linalg.ts";
import { UserError } from "../lib/util/errors.ts";

function gaussian(seed: number) {
  const rows = 12, cols = 4;
  const data = new Float64Array(rows * cols);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 2147483648 - 0.5;
  }
  return fitGaussianDensity(createMatrix(rows, cols, data), { l2Normalize: true });
}

Deno.test("fitted model: the maps eval stored round-trip, the first is the default", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "model-x.density.json");
  const patchDensity = gaussian(7);
  const fitted: FittedModel = {
    category: "x",
    imageSize: 64,
    density: gaussian(3),
    threshold: 1.5,
    auroc: 0.9,
    maps: [
      {
        method: "patch",
        options: { patch_size: 32, stride: 4 },
        pixelThreshold: 2.25,
        pixelAuroc: 0.8,
        auPro: 0.5,
        patchDensity,
      },
      {
        method: "sspcab",
        options: { layer: "layer3", sigma: 0 },
        pixelThreshold: 0.125,
        pixelAuroc: 0.6,
        auPro: 0.2,
      },
    ],
  };
  await saveFittedModel(path, fitted);
  const back = await loadFittedModel(path);
  assertEquals(back.maps?.map((m) => m.method), ["patch", "sspcab"]);
  assertEquals(fittedMap(back)?.method, "patch");
  assertEquals(fittedMap(back, "sspcab")?.pixelThreshold, 0.125);
  assertEquals(fittedMap(back, "gradcam"), null);
  assertEquals(back.maps?.[0].options, { patch_size: 32, stride: 4 });
  // The patch density scores as the original does.
  const probe = createMatrix(1, 4, Float64Array.from([0.1, -0.2, 0.3, 0.05]));
  const restored = back.maps?.[0].patchDensity;
  assert(restored?.kind === "gaussian");
  assertEquals(mahalanobisScores(restored, probe)[0], mahalanobisScores(patchDensity, probe)[0]);
  // A file without maps (eval without localisation, or an older version) has none.
  await saveFittedModel(path, { ...fitted, maps: undefined });
  assertEquals((await loadFittedModel(path)).maps, undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fitted model: a malformed map entry is a UserError naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "model-x.density.json");
  await saveFittedModel(path, { category: "x", imageSize: 64, density: gaussian(3), threshold: 1, auroc: 1 });
  const doc = JSON.parse(await Deno.readTextFile(path));
  const cases: [unknown, string][] = [
    [{ method: "edges", options: {}, pixelThreshold: 1, pixelAuroc: 1, auPro: 1 }, "maps[0].method"],
    [
      { method: "sspcab", options: {}, pixelThreshold: "1", pixelAuroc: 1, auPro: 1 },
      "maps[0].pixelThreshold",
    ],
    [{ method: "patch", options: {}, pixelThreshold: 1, pixelAuroc: 1, auPro: 1 }, "maps[0].patchDensity"],
    [
      { method: "sspcab", options: { layer: null }, pixelThreshold: 1, pixelAuroc: 1, auPro: 1 },
      "options.layer",
    ],
  ];
  for (const [entry, field] of cases) {
    await Deno.writeTextFile(path, JSON.stringify({ ...doc, maps: [entry] }));
    const err = await assertRejects(() => loadFittedModel(path), UserError);
    assert(err.message.includes(path) && err.message.includes(field), err.message);
  }
  await Deno.remove(dir, { recursive: true });
});
