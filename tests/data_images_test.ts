// Tests of lib/data/images.ts: decoding of the PNG/JPEG variants MVTec-like data comes in, error messages,
// the pixel limit, resizing, PNG round trips, ImageNet normalisation, the cache and the bulk loader.
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  createImageCache,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadMany,
  loadMask,
  loadRgb,
  savePng,
  saveRgbPng,
  toNormalizedFloat32,
} from "../lib/data/images.ts";
import { UserError } from "../lib/util/errors.ts";

const W = 6;
const H = 4;

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadRgb: grayscale, RGBA, 16-bit and JPEG become 8-bit RGB", async () => {
  await withTmp(async (dir) => {
    // 8-bit grayscale PNG: each gray value is replicated into R, G and B.
    const gray = Uint8Array.from({ length: W * H }, (_, i) => i * 10);
    const grayPath = join(dir, "gray.png");
    await sharp(gray, { raw: { width: W, height: H, channels: 1 } }).toColourspace("b-w").png().toFile(
      grayPath,
    );
    assertEquals((await sharp(grayPath).metadata()).channels, 1);
    const g = await loadRgb(grayPath);
    assertEquals([g.width, g.height, g.data.length], [W, H, W * H * 3]);
    for (let i = 0; i < W * H; i++) {
      assertEquals([...g.data.subarray(i * 3, i * 3 + 3)], [gray[i], gray[i], gray[i]]);
    }

    // RGBA: alpha is dropped, colours kept (as PIL's convert("RGB")).
    const rgba = Uint8Array.from(
      { length: W * H * 4 },
      (_, i) => (i % 4 === 3 ? (i * 13) % 256 : (i * 7) % 256),
    );
    const rgbaPath = join(dir, "rgba.png");
    await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(rgbaPath);
    assertEquals((await sharp(rgbaPath).metadata()).channels, 4);
    const a = await loadRgb(rgbaPath);
    for (let i = 0; i < W * H; i++) {
      assertEquals([...a.data.subarray(i * 3, i * 3 + 3)], [...rgba.subarray(i * 4, i * 4 + 3)]);
    }

    // 16-bit RGB: v·257 maps back to v.
    const v8 = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 11) % 256);
    const v16 = Uint16Array.from(v8, (v) => v * 257);
    const p16 = join(dir, "rgb16.png");
    await sharp(v16, { raw: { width: W, height: H, channels: 3 } }).toColourspace("rgb16").png().toFile(p16);
    assertEquals((await sharp(p16).metadata()).depth, "ushort");
    assertEquals([...(await loadRgb(p16)).data], [...v8]);

    // 16-bit grayscale.
    const g16 = Uint16Array.from(gray, (v) => v * 257);
    const pg16 = join(dir, "gray16.png");
    await sharp(g16, { raw: { width: W, height: H, channels: 1 } }).toColourspace("grey16").png().toFile(
      pg16,
    );
    const meta = await sharp(pg16).metadata();
    assertEquals([meta.depth, meta.channels], ["ushort", 1]);
    assertEquals([...(await loadRgb(pg16)).data], [...g.data]);

    // JPEG (lossy): a flat colour survives within a few levels.
    const flat = new Uint8Array(16 * 16 * 3).map((_, i) => [200, 120, 40][i % 3]);
    const jpg = join(dir, "flat.jpg");
    await sharp(flat, { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ quality: 95 }).toFile(jpg);
    const j = await loadRgb(jpg);
    assertEquals([j.width, j.height], [16, 16]);
    for (let i = 0; i < j.data.length; i++) assert(Math.abs(j.data[i] - flat[i]) <= 4, `jpeg byte ${i}`);
  });
});

Deno.test("loadRgb: resizes bicubically to the requested size; loadMask uses nearest and binarises", async () => {
  await withTmp(async (dir) => {
    // A horizontal ramp stays a monotone ramp after a bicubic downscale; a constant image stays constant.
    const ramp = new Uint8Array(64 * 32 * 3);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 64; x++) ramp.fill(x * 4, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
    }
    const p = join(dir, "ramp.png");
    await saveRgbPng(p, { width: 64, height: 32, data: ramp });
    const small = await loadRgb(p, 16);
    assertEquals([small.width, small.height], [16, 16]);
    const row = Array.from({ length: 16 }, (_, x) => small.data[(8 * 16 + x) * 3]);
    for (let x = 1; x < 16; x++) assert(row[x] > row[x - 1], `ramp not increasing: ${row}`);
    const rect = await loadRgb(p, { width: 8, height: 4 });
    assertEquals([rect.width, rect.height, rect.data.length], [8, 4, 96]);

    // Mask: left half 255, right half 0 (written as RGB, with a stray gray value 100 → 0 and 200 → 255).
    const m = new Uint8Array(8 * 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 4; x++) m[y * 8 + x] = 255;
    m[7] = 200;
    m[63] = 100;
    const mp = join(dir, "m_mask.png");
    await savePng(mp, { width: 8, height: 8, data: m });
    const full = await loadMask(mp);
    assertEquals(full.data.length, 64);
    assertEquals(full.data[0], 255);
    assertEquals(full.data[7], 255);
    assertEquals(full.data[63], 0);
    const up = await loadMask(mp, 16);
    assertEquals([up.width, up.height], [16, 16]);
    assert(up.data.every((v) => v === 0 || v === 255), "nearest-neighbour mask must stay binary");
    assertEquals(up.data[0], 255);
    assertEquals(up.data[8 * 16 + 12], 0);
  });
});

Deno.test("loadRgb: missing, corrupt, truncated and too-large images give UserErrors naming the file", async () => {
  await withTmp(async (dir) => {
    const missing = join(dir, "missing.png");
    const e1 = await assertRejects(() => loadRgb(missing), UserError, "not found");
    assertStringIncludes(e1.message, missing);

    const corrupt = join(dir, "corrupt.png");
    await Deno.writeTextFile(corrupt, "this is not a png");
    const e2 = await assertRejects(() => loadRgb(corrupt, 32), UserError, "cannot decode image");
    assertStringIncludes(e2.message, corrupt);

    const good = join(dir, "good.png");
    await saveRgbPng(good, {
      width: 64,
      height: 64,
      data: new Uint8Array(64 * 64 * 3).map((_, i) => i * 31),
    });
    const bytes = await Deno.readFile(good);
    const truncated = join(dir, "truncated.png");
    await Deno.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e3 = await assertRejects(() => loadRgb(truncated), UserError, "cannot decode image");
    assertStringIncludes(e3.message, truncated);

    const e4 = await assertRejects(
      () => loadRgb(good, 32, { maxPixels: 1000 }),
      UserError,
      "decompression bomb",
    );
    assertStringIncludes(e4.message, good);
    assertStringIncludes(e4.message, "maxPixels");
    assertEquals((await loadRgb(good, 32, { maxPixels: 64 * 64 })).width, 32);

    await assertRejects(() => loadRgb(dir), UserError, "folder");
    await assertRejects(() => loadMask(corrupt), UserError, corrupt);
  });
});

Deno.test("savePng: RGB and mask round trips are exact and deterministic", async () => {
  await withTmp(async (dir) => {
    const img = { width: 5, height: 3, data: Uint8Array.from({ length: 45 }, (_, i) => (i * 37) % 256) };
    const a = join(dir, "sub", "a.png");
    const b = join(dir, "b.png");
    await saveRgbPng(a, img);
    await saveRgbPng(b, img);
    assertEquals(await Deno.readFile(a), await Deno.readFile(b));
    assertEquals([...(await loadRgb(a)).data], [...img.data]);
    const mask = { width: 5, height: 3, data: Uint8Array.from({ length: 15 }, (_, i) => (i % 2 ? 255 : 0)) };
    const mp = join(dir, "mask.png");
    await savePng(mp, mask);
    assertEquals((await sharp(mp).metadata()).channels, 1);
    assertEquals([...(await loadMask(mp)).data], [...mask.data]);
    const rgba = {
      width: 2,
      height: 1,
      channels: 4 as const,
      data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    };
    await savePng(join(dir, "rgba.png"), rgba);
    assertEquals((await sharp(join(dir, "rgba.png")).metadata()).channels, 4);
  });
});

Deno.test("toNormalizedFloat32: NHWC, (x/255 - mean)/std, checked by hand", () => {
  const a = { width: 2, height: 1, data: new Uint8Array([0, 128, 255, 10, 20, 30]) };
  const b = { width: 2, height: 1, data: new Uint8Array([255, 255, 255, 0, 0, 0]) };
  const out = toNormalizedFloat32([a, b]);
  assertEquals(out.length, 12);
  // Hand-computed: (0/255 - 0.485)/0.229 = -2.1179039; (128/255 - 0.456)/0.224 = 0.2051821;
  // (255/255 - 0.406)/0.225 = 2.64; (10/255 - 0.485)/0.229 = -1.9466564; …
  const expected = [
    -2.1179039,
    0.2051821,
    2.64,
    -1.9466564,
    -1.6855742,
    -1.2815686,
    2.2489083,
    2.4285714,
    2.64,
    -2.1179039,
    -2.0357143,
    -1.8044444,
  ];
  for (let i = 0; i < 12; i++) assertAlmostEquals(out[i], expected[i], 1e-5, `index ${i}`);
  assertEquals(IMAGENET_MEAN, [0.485, 0.456, 0.406]);
  assertEquals(IMAGENET_STD, [0.229, 0.224, 0.225]);
  assertEquals(toNormalizedFloat32([]).length, 0);
  let threw = false;
  try {
    toNormalizedFloat32([a, { width: 1, height: 1, data: new Uint8Array(3) }]);
  } catch {
    threw = true;
  }
  assert(threw, "images of different sizes must be refused");
});

Deno.test("createImageCache and loadMany: one decode per (path, size), order kept, progress reported", async () => {
  await withTmp(async (dir) => {
    const paths: string[] = [];
    for (let i = 0; i < 7; i++) {
      const p = join(dir, `${i}.png`);
      await saveRgbPng(p, { width: 8, height: 8, data: new Uint8Array(192).fill(i * 30) });
      paths.push(p);
    }
    const cache = createImageCache();
    const [x, y] = await Promise.all([cache.get(paths[0], 4), cache.get(paths[0], 4)]);
    assert(x === y, "concurrent requests share one decode");
    assert((await cache.get(paths[0], 4)) === x, "second request is served from the cache");
    assert((await cache.get(paths[0], { width: 4, height: 4 })) === x, "same size, other spelling");
    const other = await cache.get(paths[0], 8);
    assert(other !== x && other.width === 8, "another size is another entry");
    assertEquals(cache.size, 2);
    assertEquals(cache.bytes, 4 * 4 * 3 + 8 * 8 * 3);

    const progress: number[] = [];
    const images = await loadMany(paths, 4, { concurrency: 3, cache, onProgress: (d) => progress.push(d) });
    assertEquals(images.map((im) => im.data[0]), [0, 30, 60, 90, 120, 150, 180]);
    assertEquals(progress, [1, 2, 3, 4, 5, 6, 7]);
    assertEquals(cache.size, 8);

    const small = createImageCache({ maxEntries: 2 });
    for (const p of paths.slice(0, 4)) await small.get(p, 4);
    assertEquals(small.size, 2);
    assert(small.has(paths[3], 4) && !small.has(paths[0], 4), "least recently used entries are dropped");

    // A failure rejects the call and is not cached.
    await assertRejects(
      () => loadMany([...paths, join(dir, "nope.png")], 4, { cache }),
      UserError,
      "nope.png",
    );
    assert(!cache.has(join(dir, "nope.png"), 4));
    cache.clear();
    assertEquals([cache.size, cache.bytes], [0, 0]);
  });
});
