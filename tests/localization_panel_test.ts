/**
 * The localisation panel (image · ground-truth outline · heatmap · predicted mask): the predicted mask is
 * exactly the pixels whose map value is ≥ the threshold, the ground-truth cell changes exactly the mask's
 * contour, the heatmap uses the given colour scale, and the PNG has the four cells.
 * @module
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import sharp from "sharp";
import {
  DEFECT_COLOR,
  heatColor,
  localizationPanel,
  localizationPanelCells,
  maskOutline,
  PREDICTED_COLOR,
  predictedMask,
} from "../lib/plot/images.ts";
import type { RgbImage } from "../lib/data/rgb_image.ts";

const W = 12;
const H = 10;

function grayImage(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let p = 0; p < W * H; p++) data.fill(60 + (p % 7) * 10, 3 * p, 3 * p + 3);
  return { width: W, height: H, data };
}

// A map with ties at the threshold and a NaN: p ↦ ((p * 37) % 11) / 10.
function testMap(): Float32Array {
  const m = new Float32Array(W * H);
  for (let p = 0; p < m.length; p++) m[p] = ((p * 37) % 11) / 10;
  m[5] = NaN;
  return m;
}

function changed(a: RgbImage, b: RgbImage): number[] {
  const out: number[] = [];
  for (let p = 0; p < a.width * a.height; p++) {
    if ([0, 1, 2].some((c) => a.data[3 * p + c] !== b.data[3 * p + c])) out.push(p);
  }
  return out;
}

Deno.test("predictedMask: exactly the pixels ≥ the threshold (ties included, NaN never)", () => {
  const map = testMap();
  const t = map[6]; // a value of the map itself: the pixels equal to it are ties
  const tied = [...map].filter((v) => v === t).length;
  assert(tied > 1, "the map has several values equal to the threshold");
  const m = predictedMask(map, W, H, t);
  const expected: number[] = [];
  for (let p = 0; p < map.length; p++) if (!Number.isNaN(map[p]) && map[p] >= t) expected.push(p);
  assertEquals([...m.data.keys()].filter((p) => m.data[p] === 255), expected);
  assertEquals(m.data.filter((v) => v !== 0 && v !== 255).length, 0);
  assertEquals(m.data[5], 0, "NaN is never a defect");
  assertThrows(() => predictedMask(map, W + 1, H, t), RangeError);
});

Deno.test("localizationPanelCells: ground-truth outline, heatmap on the given scale, predicted mask tinted", () => {
  const image = grayImage();
  const map = testMap();
  const mask = new Uint8Array(W * H);
  for (let y = 2; y < 7; y++) for (let x = 3; x < 9; x++) mask[y * W + x] = 1;
  const threshold = 0.7;
  const range = { min: -1, max: 3 };
  const cells = localizationPanelCells({ image, mask, map, range, threshold, caption: "crack 000.png" });
  assertEquals(cells.length, 4);
  assertEquals(cells[0].image, image);
  assertEquals(cells[0].caption, "crack 000.png");

  // Ground truth: only the contour is drawn, in the defect colour; the region itself is untinted.
  const outline = maskOutline({ width: W, height: H, data: Uint8Array.from(mask, (v) => v * 255) });
  const gt = cells[1].image!;
  const contour = [...outline.data.keys()].filter((p) => outline.data[p]);
  assertEquals(changed(image, gt), contour);
  for (const p of contour) assertEquals([...gt.data.subarray(3 * p, 3 * p + 3)], [...DEFECT_COLOR]);

  // Heatmap: alpha 0.5 blend with the inferno colour of (v − min) / (max − min) on the given range.
  const heat = cells[2].image!;
  for (const p of [0, 17, 64, 119]) {
    const c = heatColor((map[p] - range.min) / (range.max - range.min));
    for (let k = 0; k < 3; k++) {
      assertEquals(heat.data[3 * p + k], Math.round(0.5 * image.data[3 * p + k] + 0.5 * c[k]));
    }
  }

  // Predicted mask: the changed pixels are exactly those with map ≥ threshold; its contour is the colour.
  const pred = cells[3].image!;
  const above = [...map.keys()].filter((p) => map[p] >= threshold);
  assert(above.length > 0 && above.length < W * H);
  assertEquals(changed(image, pred), above);
  const predOutline = maskOutline(predictedMask(map, W, H, threshold));
  for (const p of above) {
    const px = [...pred.data.subarray(3 * p, 3 * p + 3)];
    if (predOutline.data[p]) assertEquals(px, [...PREDICTED_COLOR]);
    else {
      assertEquals(
        px,
        [0, 1, 2].map((k) => Math.round(image.data[3 * p + k] * 0.6 + PREDICTED_COLOR[k] * 0.4)),
      );
    }
  }
  const pct = (100 * above.length / (W * H)).toFixed(1);
  assertEquals(cells[3].caption, `predicted (${pct}% ≥ 0.7000)`);
  assertThrows(
    () => localizationPanelCells({ image, mask: mask.subarray(1), map, range, threshold }),
    RangeError,
  );
});

Deno.test("localizationPanel: one PNG row of four cells", async () => {
  const png = await localizationPanel(
    {
      image: grayImage(),
      mask: new Uint8Array(W * H),
      map: testMap(),
      range: { min: 0, max: 1 },
      threshold: 2,
    },
    { cellSize: 40, title: "t" },
  );
  const meta = await sharp(png).metadata();
  assertEquals(meta.format, "png");
  // Four 40-px cells with 6-px gaps, plus the left gap: 4 · (40 + 6) + 6.
  assertEquals(meta.width, 4 * 46 + 6);
});
