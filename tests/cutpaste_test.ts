import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertThrows } from "./assert.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyJitter,
  applyJitterInPlace,
  augmentForVariant,
  augmentTrainingItem,
  colorJitter,
  cutPaste3Way,
  CUTPASTE_NORMAL_DEFAULTS,
  CUTPASTE_SCAR_DEFAULTS,
  CUTPASTE_VARIANTS,
  cutPasteNormal,
  cutPasteScar,
  cutPasteUnion,
  DEFAULT_JITTER,
  drawJitter,
  type JitterDraw,
  type JitterOp,
  pilLuma,
  rotatedCanvasSize,
  rotatePatch,
  variantClassCount,
} from "../lib/augment/mod.ts";
import type { Mask, RgbImage } from "../lib/data/rgb_image.ts";
import { createRng } from "../lib/util/rng.ts";

/** A 256×256 (or w×h) image of gradients plus noise: every pixel distinct enough to catch misplaced copies. */
function testImage(w = 256, h = 256, seed = 11): RgbImage {
  const rng = createRng(seed);
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 255 / Math.max(1, w - 1) + rng.int(0, 30)) & 255;
      data[i + 1] = (y * 255 / Math.max(1, h - 1) + rng.int(0, 30)) & 255;
      data[i + 2] = rng.int(0, 255);
    }
  }
  return { width: w, height: h, data };
}

function maskArea(mask: Mask): number {
  let n = 0;
  for (const v of mask.data) if (v) n++;
  return n;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

const NO_JITTER = { brightness: 0, contrast: 0, saturation: 0, hue: 0 };

// ---------------------------------------------------------------- CutPaste normal

Deno.test("cutPasteNormal: sampled geometry stays in the reference ranges over 1500 draws", () => {
  const img = testImage(64, 64);
  const rng = createRng(1);
  const [aLo, aHi] = CUTPASTE_NORMAL_DEFAULTS.areaRatio;
  const asp = CUTPASTE_NORMAL_DEFAULTS.aspectRatio;
  for (let k = 0; k < 1500; k++) {
    const { box } = cutPasteNormal(img, rng, { jitter: null });
    assertEquals(box.kind, "normal");
    assert(box.areaRatio >= aLo && box.areaRatio <= aHi, `area ratio ${box.areaRatio}`);
    assert(box.aspect >= asp - 1e-12 && box.aspect <= 1 / asp + 1e-12, `aspect ${box.aspect}`);
    const area = box.areaRatio * 64 * 64;
    // cut sizes are the rounded √(area·aspect), √(area/aspect)
    assert(Math.abs(box.cutWidth - Math.sqrt(area * box.aspect)) <= 0.5 + 1e-9);
    assert(Math.abs(box.cutHeight - Math.sqrt(area / box.aspect)) <= 0.5 + 1e-9);
    // the realised rectangle keeps the ranges up to rounding slack
    const ratio = (box.cutWidth * box.cutHeight) / (64 * 64);
    assert(ratio >= aLo * 0.75 && ratio <= aHi * 1.15, `realised area ratio ${ratio}`);
    const realAspect = box.cutWidth / box.cutHeight;
    assert(realAspect >= asp * 0.8 && realAspect <= (1 / asp) * 1.25, `realised aspect ${realAspect}`);
    assert(
      box.fromX >= 0 && box.fromX + box.cutWidth <= 64 && box.fromY >= 0 && box.fromY + box.cutHeight <= 64,
    );
    assert(box.toX >= 0 && box.toX + box.cutWidth <= 64 && box.toY >= 0 && box.toY + box.cutHeight <= 64);
    assertEquals(box.rotationDeg, 0);
    assertEquals([box.pasteWidth, box.pasteHeight], [box.cutWidth, box.cutHeight]);
  }
});

Deno.test("cutPasteNormal: without jitter the destination box is an exact copy of the source box", () => {
  const img = testImage();
  const before = img.data.slice();
  const rng = createRng(2);
  for (let k = 0; k < 50; k++) {
    const { image, mask, box } = cutPasteNormal(img, rng, { jitter: k % 2 ? null : NO_JITTER });
    assertEquals(img.data, before, "input must not be modified");
    assertEquals(maskArea(mask), box.cutWidth * box.cutHeight);
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const inDst = x >= box.toX && x < box.toX + box.cutWidth && y >= box.toY &&
          y < box.toY + box.cutHeight;
        assertEquals(mask.data[y * 256 + x], inDst ? 255 : 0);
        const expected = inDst
          ? pixel(img, box.fromX + x - box.toX, box.fromY + y - box.toY)
          : pixel(img, x, y);
        const got = pixel(image, x, y);
        if (got[0] !== expected[0] || got[1] !== expected[1] || got[2] !== expected[2]) {
          throw new Error(`pixel (${x},${y}) = ${got}, expected ${expected} (box ${JSON.stringify(box)})`);
        }
      }
    }
  }
});

Deno.test("cutPasteNormal: with jitter only the mask changes the image and the patch is a jittered copy", () => {
  const img = testImage();
  const rng = createRng(3);
  for (let k = 0; k < 20; k++) {
    const { image, mask, box } = cutPasteNormal(img, rng);
    for (let p = 0; p < 256 * 256; p++) {
      if (mask.data[p]) continue;
      for (let c = 0; c < 3; c++) assertEquals(image.data[p * 3 + c], img.data[p * 3 + c]);
    }
    // jitter factors are within ±10 % + an HSV step: the pasted patch stays close to the source on average
    let diff = 0;
    for (let y = 0; y < box.cutHeight; y++) {
      for (let x = 0; x < box.cutWidth; x++) {
        const a = pixel(image, box.toX + x, box.toY + y), b = pixel(img, box.fromX + x, box.fromY + y);
        diff += Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
      }
    }
    assert(diff / (3 * box.cutWidth * box.cutHeight) < 60, `mean abs difference ${diff}`);
  }
});

// ---------------------------------------------------------------- CutPaste scar

Deno.test("cutPasteScar: sampled geometry stays in the reference ranges over 1500 draws", () => {
  const img = testImage(64, 64);
  const rng = createRng(4);
  const { width, height, rotation } = CUTPASTE_SCAR_DEFAULTS;
  let areaRatioSum = 0;
  for (let k = 0; k < 1500; k++) {
    const { box, mask } = cutPasteScar(img, rng, { jitter: null });
    assertEquals(box.kind, "scar");
    assert(Number.isInteger(box.cutWidth) && box.cutWidth >= width[0] && box.cutWidth <= width[1]);
    assert(Number.isInteger(box.cutHeight) && box.cutHeight >= height[0] && box.cutHeight <= height[1]);
    assert(box.rotationDeg >= rotation[0] && box.rotationDeg <= rotation[1], `rotation ${box.rotationDeg}`);
    // expanded canvas: PIL's ceil(max) − floor(min) of the rotated corners ≈ |w cos| + |h sin|
    const t = (box.rotationDeg * Math.PI) / 180;
    const ew = box.cutWidth * Math.abs(Math.cos(t)) + box.cutHeight * Math.abs(Math.sin(t));
    const eh = box.cutWidth * Math.abs(Math.sin(t)) + box.cutHeight * Math.abs(Math.cos(t));
    assert(box.pasteWidth - ew > -1e-9 && box.pasteWidth - ew < 2, `canvas width ${box.pasteWidth} vs ${ew}`);
    assert(
      box.pasteHeight - eh > -1e-9 && box.pasteHeight - eh < 2,
      `canvas height ${box.pasteHeight} vs ${eh}`,
    );
    assert(box.toX >= 0 && box.toX + box.pasteWidth <= 64 && box.toY >= 0 && box.toY + box.pasteHeight <= 64);
    // rotation preserves area up to pixel-grid sampling (worst at thin scars near 45°)
    const area = maskArea(mask), expected = box.cutWidth * box.cutHeight;
    assert(Math.abs(area - expected) <= box.cutWidth + box.cutHeight, `mask ${area} vs ${expected}`);
    areaRatioSum += area / expected;
    // the mask lies inside the pasted canvas
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        if (!mask.data[y * 64 + x]) continue;
        assert(x >= box.toX && x < box.toX + box.pasteWidth && y >= box.toY && y < box.toY + box.pasteHeight);
      }
    }
  }
  assertAlmostEquals(areaRatioSum / 1500, 1, 0.03);
});

Deno.test("cutPasteScar: pixels outside the mask are untouched; without rotation the patch is an exact copy", () => {
  const img = testImage();
  const rng = createRng(5);
  for (let k = 0; k < 20; k++) {
    const { image, mask } = cutPasteScar(img, rng);
    for (let p = 0; p < 256 * 256; p++) {
      if (mask.data[p]) continue;
      for (let c = 0; c < 3; c++) assertEquals(image.data[p * 3 + c], img.data[p * 3 + c]);
    }
  }
  for (let k = 0; k < 20; k++) {
    const { image, mask, box } = cutPasteScar(img, rng, { jitter: null, rotation: [0, 0] });
    assertEquals([box.pasteWidth, box.pasteHeight], [box.cutWidth, box.cutHeight]);
    assertEquals(maskArea(mask), box.cutWidth * box.cutHeight);
    for (let y = 0; y < box.cutHeight; y++) {
      for (let x = 0; x < box.cutWidth; x++) {
        assertEquals(mask.data[(box.toY + y) * 256 + box.toX + x], 255);
        assertEquals(pixel(image, box.toX + x, box.toY + y), pixel(img, box.fromX + x, box.fromY + y));
      }
    }
  }
});

Deno.test("rotatePatch: counter-clockwise like PIL, expanded canvas, full coverage at 90°", () => {
  // 4 wide × 2 high, pixel value = 10 · index
  const patch: RgbImage = { width: 4, height: 2, data: new Uint8Array(24) };
  for (let i = 0; i < 8; i++) patch.data.fill(i * 10, i * 3, i * 3 + 3);
  const rot = rotatePatch(patch, 90);
  assertEquals([rot.image.width, rot.image.height], [2, 4]);
  assert(rot.alpha.every((a) => a === 255));
  // CCW: the top-right input pixel (3, 0) becomes the top-left output pixel, bottom-left (0, 1) the
  // bottom-right one
  assertEquals(rot.image.data[0], 30);
  assertEquals(rot.image.data[(3 * 2 + 1) * 3], 40);
  // PIL's general (non-transpose) path: ceil(max) − floor(min) of the rotated corners about the centre
  assertEquals(rotatedCanvasSize(3, 2, 90), [3, 4]);
  assertEquals(rotatedCanvasSize(3, 2, 0), [3, 2]);
  assertEquals(rotatedCanvasSize(10, 10, 45), [16, 16]); // 2 · ceil(10 √2 / 2)
  assertEquals(rotatePatch(patch, 0).image.data, patch.data);
  // a 45° rotation covers about the original area
  const big = rotatePatch(testImage(12, 20), 45);
  let covered = 0;
  for (const a of big.alpha) if (a) covered++;
  assert(Math.abs(covered - 240) <= 32, `covered ${covered}`);
});

// ---------------------------------------------------------------- variants, determinism

Deno.test("cutPaste3Way / augmentForVariant: labels, counts and shapes per variant", () => {
  const img = testImage(96, 80);
  const rng = createRng(6);
  const t = cutPaste3Way(img, rng);
  assert(t.original === img);
  assertEquals([t.normal.box.kind, t.scar.box.kind], ["normal", "scar"]);
  const expected: Record<string, number[]> = {
    "3way": [0, 1, 2],
    normal: [0, 1],
    scar: [0, 1],
    union: [0, 1],
  };
  for (const v of CUTPASTE_VARIANTS) {
    const item = augmentForVariant(v, img, rng);
    assertEquals(item.labels, expected[v]);
    assertEquals(item.images.length, item.labels.length);
    assertEquals(variantClassCount(v), v === "3way" ? 3 : 2);
    assert(item.images[0] === img, "original is the (un-jittered) input");
    for (const im of item.images) assertEquals([im.width, im.height, im.data.length], [96, 80, 96 * 80 * 3]);
    const tr = augmentTrainingItem(v, img, rng);
    assertEquals(tr.labels, expected[v]);
    assert(tr.images[0] !== img, "training item jitters the original");
  }
  assertThrows(() => augmentForVariant("bogus" as "3way", img, rng), RangeError, "unknown CutPaste variant");
  let normals = 0;
  for (let k = 0; k < 400; k++) if (cutPasteUnion(img, rng).box.kind === "normal") normals++;
  assert(normals > 150 && normals < 250, `union picked normal ${normals}/400 times`);
});

Deno.test("determinism: the same seed gives identical bytes, another seed differs", () => {
  const img = testImage(128, 128);
  const run = (seed: number) => {
    const rng = createRng(seed);
    const out: Uint8Array[] = [];
    for (let k = 0; k < 5; k++) {
      const item = augmentTrainingItem("3way", img, rng);
      for (const im of item.images) out.push(im.data);
    }
    return out;
  };
  const a = run(42), b = run(42), c = run(43);
  assertEquals(a, b);
  assertNotEquals(a, c);
});

// ---------------------------------------------------------------- colour jitter

function draw(op: JitterOp, f: number): JitterDraw {
  return { order: [op], brightness: null, contrast: null, saturation: null, hue: null, [op]: f };
}

Deno.test("colorJitter: zero parameters are the identity and return a new image", () => {
  const img = testImage(40, 30);
  const out = colorJitter(img, NO_JITTER, createRng(1));
  assert(out !== img && out.data !== img.data);
  assertEquals(out.data, img.data);
});

Deno.test("colorJitter: drawn factors and order follow torchvision's ranges", () => {
  const rng = createRng(9);
  for (let k = 0; k < 500; k++) {
    const d = drawJitter(DEFAULT_JITTER, rng);
    assertEquals([...d.order].sort(), ["brightness", "contrast", "hue", "saturation"]);
    for (const op of ["brightness", "contrast", "saturation"] as const) {
      assert(d[op]! >= 0.9 && d[op]! <= 1.1, `${op} ${d[op]}`);
    }
    assert(d.hue! >= -0.1 && d.hue! <= 0.1);
  }
  const half = drawJitter({ brightness: 0, contrast: 0.5, saturation: 0, hue: 0 }, rng);
  assertEquals([half.brightness, half.saturation, half.hue], [null, null, null]);
  assertThrows(() => drawJitter({ ...DEFAULT_JITTER, hue: 0.6 }, rng), RangeError);
});

Deno.test("colorJitter: brightness scales values (PIL blend with black, truncated and clipped)", () => {
  const img = testImage(20, 20);
  const half = applyJitter(img, draw("brightness", 0.5));
  const more = applyJitter(img, draw("brightness", 1.5));
  for (let i = 0; i < img.data.length; i++) {
    assertEquals(half.data[i], Math.floor(img.data[i] * 0.5));
    assertEquals(more.data[i], Math.min(255, Math.floor(img.data[i] * 1.5)));
  }
});

Deno.test("colorJitter: contrast blends with the rounded gray mean", () => {
  const img = testImage(20, 20);
  let sum = 0;
  for (let i = 0; i < img.data.length; i += 3) sum += pilLuma(img.data[i], img.data[i + 1], img.data[i + 2]);
  const mean = Math.floor(sum / 400 + 0.5);
  const out = applyJitter(img, draw("contrast", 0.5));
  for (let i = 0; i < img.data.length; i++) {
    assertEquals(out.data[i], Math.floor(mean + 0.5 * (img.data[i] - mean)));
  }
  const flat: RgbImage = { width: 4, height: 4, data: new Uint8Array(48).fill(77) };
  assertEquals(applyJitter(flat, draw("contrast", 1.3)).data, flat.data);
});

Deno.test("colorJitter: hue shift of pure colours and gray invariance under saturation and hue", () => {
  const red: RgbImage = { width: 1, height: 1, data: new Uint8Array([255, 0, 0]) };
  assertEquals([...applyJitter(red, draw("hue", 1 / 3)).data], [0, 255, 0]); // +120°: red → green
  const minus = [...applyJitter(red, draw("hue", -1 / 3)).data]; // −120°: red → blue (one 8-bit hue step off)
  assertEquals(minus[1], 0);
  assertEquals(minus[2], 255);
  assert(minus[0] <= 6);
  assertEquals([...applyJitter(red, draw("hue", 0)).data], [255, 0, 0]);
  const green: RgbImage = { width: 1, height: 1, data: new Uint8Array([0, 200, 0]) };
  assertEquals([...applyJitter(green, draw("hue", 1 / 3)).data], [0, 0, 200]);

  const gray: RgbImage = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3) };
  for (let p = 0; p < 256; p++) gray.data.fill(p, p * 3, p * 3 + 3);
  for (const f of [0, 0.5, 1.7]) assertEquals(applyJitter(gray, draw("saturation", f)).data, gray.data);
  for (const f of [-0.5, -0.1, 0.07, 0.5]) assertEquals(applyJitter(gray, draw("hue", f)).data, gray.data);
  const sat0 = applyJitter(testImage(8, 8), draw("saturation", 0));
  for (let i = 0; i < sat0.data.length; i += 3) {
    assert(sat0.data[i] === sat0.data[i + 1] && sat0.data[i] === sat0.data[i + 2], "saturation 0 → gray");
  }
  assertThrows(() => adjustHue(new Uint8Array(3), 0.7), RangeError);
});

Deno.test("colorJitter: the fused pipeline equals applying the ops one by one", () => {
  const img = testImage(33, 21);
  const rng = createRng(17);
  for (let k = 0; k < 200; k++) {
    const params = {
      brightness: rng.next() < 0.2 ? 0 : 0.5,
      contrast: rng.next() < 0.2 ? 0 : 0.5,
      saturation: rng.next() < 0.2 ? 0 : 0.5,
      hue: rng.next() < 0.2 ? 0 : 0.3,
    };
    const d = drawJitter(params, rng);
    const fused = img.data.slice();
    applyJitterInPlace(fused, d);
    const seq = img.data.slice();
    for (const op of d.order) {
      const f = d[op];
      if (f === null) continue;
      ({
        brightness: adjustBrightness,
        contrast: adjustContrast,
        saturation: adjustSaturation,
        hue: adjustHue,
      })
        [op](seq, f);
    }
    assertEquals(fused, seq, `order ${d.order.join(",")}`);
  }
});
