/**
 * Per-item cost of the training augmentation: one 3-way CutPaste triple on a 256×256 RGB image, including
 * the colour jitter on the whole image before CutPaste. Target: ≤ 3.3 ms per item (≥ 300 items/s/core).
 * @module
 */

import { applyJitter, colorJitter, DEFAULT_JITTER } from "../../lib/augment/color_jitter.ts";
import { augmentTrainingItem, cutPaste3Way } from "../../lib/augment/cutpaste.ts";
import type { RgbImage } from "../../lib/data/rgb_image.ts";
import { createRng } from "../../lib/util/rng.ts";

function makeImage(size: number): RgbImage {
  const rng = createRng(7);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = Math.min(255, x + rng.int(0, 40));
      data[i + 1] = Math.min(255, y + rng.int(0, 40));
      data[i + 2] = Math.min(255, ((x + y) >> 1) + rng.int(0, 40));
    }
  }
  return { width: size, height: size, data };
}

const img = makeImage(256);
const rng = createRng(1);

Deno.bench("3-way triple incl. before-cutpaste jitter, 256²", { baseline: true }, () => {
  augmentTrainingItem("3way", img, rng);
});

Deno.bench("before-cutpaste colour jitter only, 256²", () => {
  colorJitter(img, DEFAULT_JITTER, rng);
});

Deno.bench("hue only (PIL HSV round trip), 256²", () => {
  applyJitter(img, { order: ["hue"], brightness: null, contrast: null, saturation: null, hue: 0.05 });
});

Deno.bench("3-way CutPaste only (patch jitter), 256²", () => {
  cutPaste3Way(img, rng);
});
