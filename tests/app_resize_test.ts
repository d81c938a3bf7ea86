/**
 * The page's resize reproduces sharp's (libvips') cubic shrink bit for bit — box pre-shrink by odd, even and
 * power-of-two factors, the fixed-point residual reduce, non-square targets — so the browser feeds the graph
 * the pixels `deno task infer` does. Enlarging is an approximation and is only checked to be close.
 */
import { assert, assertEquals } from "./assert.ts";
import sharp from "sharp";
import { type PixelImage, resizeCubic, rgbaToRgb } from "../lib/app/resize.ts";

async function sharpResize(img: PixelImage, w: number, h: number): Promise<Uint8Array> {
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { fit: "fill", kernel: "cubic", fastShrinkOnLoad: false }).raw().toBuffer();
  return new Uint8Array(out);
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const sample = await (async () => {
  const { data, info } = await sharp(await Deno.readFile("../shared/data/samples/bad.png")).removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, bands: 3, data: new Uint8Array(data) };
})();

function crop(img: PixelImage, left: number, top: number, width: number, height: number): PixelImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((top + y) * img.width + left) * 3;
    data.set(img.data.subarray(src, src + width * 3), y * width * 3);
  }
  return { width, height, bands: 3, data };
}

Deno.test("resizeCubic equals sharp's cubic shrink exactly", async () => {
  const odd = crop(sample, 11, 23, 333, 517);
  const cases: [PixelImage, number, number][] = [
    [sample, 256, 256], // no box part (shrink 3.5)
    [sample, 64, 64], // box ×7 then cubic
    [sample, 224, 224], // box ×2 (power of two) then cubic
    [sample, 32, 32], // box ×14
    [sample, 450, 450], // exact ×2 residual
    [sample, 100, 77], // different factors per axis
    [odd, 64, 64], // box ×4 vertically, ×2 horizontally
    [odd, 256, 256],
    [odd, 300, 200],
  ];
  for (const [img, w, h] of cases) {
    const mine = resizeCubic(img, w, h);
    assertEquals([mine.width, mine.height], [w, h]);
    assertEquals(
      maxDiff(mine.data, await sharpResize(img, w, h)),
      0,
      `${img.width}x${img.height} → ${w}x${h}`,
    );
  }
});

Deno.test("resizeCubic: same size is the identity; enlarging stays close to sharp on average", async () => {
  assertEquals(resizeCubic(sample, sample.width, sample.height), sample);
  const small = resizeCubic(sample, 48, 48);
  const up = resizeCubic(small, 64, 64);
  const ref = await sharpResize(small, 64, 64);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    sum += Math.abs(ref[i] - up.data[i]);
    max = Math.max(max, Math.abs(ref[i] - up.data[i]));
  }
  assert(sum / ref.length < 0.3, `mean abs difference ${sum / ref.length}`);
  assert(max <= 6, `max abs difference ${max}`);
});

Deno.test("rgbaToRgb drops alpha without touching the colour", () => {
  const rgba = Uint8Array.of(1, 2, 3, 0, 250, 251, 252, 128);
  assertEquals(rgbaToRgb(rgba, 2, 1).data, Uint8Array.of(1, 2, 3, 250, 251, 252));
});
