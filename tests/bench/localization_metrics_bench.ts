/**
 * Time of all localisation metrics (pixel AUROC, AU-PRO@0.3, F1-max, image AUROC) on a test set the size of
 * MVTec AD bottle's at a given map side: `deno run -A tests/bench/localization_metrics_bench.ts [side] [images]`
 * (defaults 256 and 83 → 5.4 M pixels). Maps are float32 noise with a brighter blob where the mask is set.
 * @module
 */
import { localizationMetrics } from "../../lib/eval/localization_metrics.ts";
import { createRng } from "../../lib/util/rng.ts";

const side = Number(Deno.args[0] ?? 256);
const images = Number(Deno.args[1] ?? 83);
const rng = createRng(1);
const maps: Float32Array[] = [];
const masks: Uint8Array[] = [];
for (let i = 0; i < images; i++) {
  const mask = new Uint8Array(side * side);
  if (i % 4 !== 0) {
    const r = side * (0.05 + 0.1 * rng.next());
    const cy = side * rng.next();
    const cx = side * rng.next();
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) if ((y - cy) ** 2 + (x - cx) ** 2 < r * r) mask[y * side + x] = 1;
    }
  }
  const map = new Float32Array(side * side);
  for (let p = 0; p < map.length; p++) map[p] = rng.next() + (mask[p] ? 0.5 : 0);
  maps.push(map);
  masks.push(mask);
}
const t0 = performance.now();
const m = localizationMetrics({ maps, masks, height: side, width: side });
const seconds = (performance.now() - t0) / 1000;
console.log(
  `${images} maps of ${side}² (${(images * side * side / 1e6).toFixed(1)} M pixels): ${
    seconds.toFixed(2)
  } s — ` +
    `pixel AUROC ${m.pixelAuroc.toFixed(4)}, AU-PRO@0.3 ${m.auPro.toFixed(4)}, F1-max ${
      m.pixelF1Max.toFixed(4)
    }, ` +
    `${m.regionCount} regions`,
);
