/**
 * The inferno colour map and the alpha-blended heatmap overlay: end points and monotone brightness of the
 * colour map, the blend formula, the map's own range as the default scale, and size checks.
 * @module
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { heatColor, heatmapOverlay, INFERNO_STOPS } from "../lib/plot/images.ts";
import { createRgbImage } from "../lib/data/rgb_image.ts";

/** Rec. 709 relative luminance of an sRGB colour (gamma ignored): inferno rises monotonically in it. */
const luma = ([r, g, b]: readonly number[]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

Deno.test("heatColor: inferno end points, clamping, stops hit exactly, brightness rises with t", () => {
  assertEquals(heatColor(0), [0, 0, 4]);
  assertEquals(heatColor(1), [252, 255, 164]);
  assertEquals(heatColor(-3), heatColor(0));
  assertEquals(heatColor(7), heatColor(1));
  assertEquals(heatColor(NaN), heatColor(0));
  INFERNO_STOPS.forEach((c, i) => assertEquals(heatColor(i / (INFERNO_STOPS.length - 1)), [...c]));
  // Midway between two stops: the rounded mean.
  const [a, b] = [INFERNO_STOPS[2], INFERNO_STOPS[3]];
  assertEquals(heatColor(2.5 / 8), [0, 1, 2].map((k) => Math.round((a[k] + b[k]) / 2)));
  let prev = -1;
  for (let i = 0; i <= 100; i++) {
    const l = luma(heatColor(i / 100));
    assert(l >= prev - 1e-9, `luminance falls at t = ${i / 100}`);
    prev = l;
  }
});

Deno.test("heatmapOverlay: (1 − α)·image + α·colour, scaled to the map's range; input untouched", () => {
  const image = createRgbImage(2, 2);
  image.data.fill(100);
  const map = [5, 7, 9, 5];
  const out = heatmapOverlay(image, map, { alpha: 0.5 });
  assertEquals([...image.data], new Array(12).fill(100), "input modified");
  const expect = (t: number) => heatColor(t).map((c) => Math.round(0.5 * 100 + 0.5 * c));
  assertEquals([...out.data.subarray(0, 3)], expect(0));
  assertEquals([...out.data.subarray(3, 6)], expect(0.5));
  assertEquals([...out.data.subarray(6, 9)], expect(1));
  // α = 1: the colour map alone; α = 0: the image.
  assertEquals([...heatmapOverlay(image, map, { alpha: 1 }).data.subarray(6, 9)], [...heatColor(1)]);
  assertEquals([...heatmapOverlay(image, map, { alpha: 0 }).data], [...image.data]);
  // A fixed scale: values at or above max are the brightest colour.
  const fixed = heatmapOverlay(image, map, { alpha: 1, min: 0, max: 5 });
  assertEquals([...fixed.data.subarray(0, 3)], [...heatColor(1)]);
  // A constant map is all dark (no division by zero).
  assertEquals([...heatmapOverlay(image, [3, 3, 3, 3], { alpha: 1 }).data.subarray(0, 3)], [...heatColor(0)]);
  assertThrows(() => heatmapOverlay(image, [1, 2, 3]), RangeError, "3 values");
});
