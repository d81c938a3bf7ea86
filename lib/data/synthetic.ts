/**
 * A small, deterministic, MVTec-like data set for tests, examples and smoke runs: the same seed always
 * writes byte-identical PNG files in the MVTec AD layout, ground-truth masks included.
 *
 * Categories:
 * - `synthetic_texture`: a noisy woven fabric (two oriented stripe families) with a random phase per image;
 * - `synthetic_object`: a bottle seen from above (a shaded disc with a dark mouth) on a graded background,
 *   with slight pose (position, radius) and lighting variation.
 *
 * Defect types (each with an exact pixel mask: a pixel is in the mask if and only if the defect changed it):
 * - `scratch`: a thin curved line, dark on bright areas and bright on dark ones;
 * - `spot`: an irregular brown contamination blob.
 * On the object, defects lie on the object.
 * @module
 */

import { join } from "node:path";
import { UserError } from "../util/errors.ts";
import { createRng, type Rng } from "../util/rng.ts";
import { createMask, createRgbImage, type Mask, type RgbImage } from "./rgb_image.ts";
import { savePng } from "./images.ts";

/** Names of the categories the generator can make. */
export const SYNTHETIC_CATEGORIES = ["synthetic_texture", "synthetic_object"] as const;
/** A synthetic category name. */
export type SyntheticCategory = (typeof SYNTHETIC_CATEGORIES)[number];
/** Defect types written to `test/<type>` (each with masks in `ground_truth/<type>`). */
export const SYNTHETIC_DEFECT_TYPES = ["scratch", "spot"] as const;
/** A synthetic defect type. */
export type SyntheticDefectType = (typeof SYNTHETIC_DEFECT_TYPES)[number];

/** Options of {@link generateSyntheticDataset}. */
export interface SyntheticOptions {
  /** Categories to write (default: all of {@link SYNTHETIC_CATEGORIES}). */
  categories?: readonly string[];
  /** Seed; the same seed (and options) gives byte-identical files. Default 0. */
  seed?: number;
  /** Side length of the square images in pixels (default 128, at least 32). */
  size?: number;
  /** Images in `train/good` per category (default 16). */
  trainCount?: number;
  /** Images in `test/good` per category (default 6). */
  testGoodCount?: number;
  /** Images per defect type in `test/<defect>` per category (default 6; so 12 defective images). */
  testBadCount?: number;
}

/** What {@link generateSyntheticDataset} wrote. */
export interface SyntheticDatasetInfo {
  /** The data folder (pass it as `dataDir` to `listCategory`). */
  dir: string;
  /** Categories written. */
  categories: string[];
  /** Number of PNG files written (images and masks). */
  files: number;
}

/** Marker file written in each generated category folder; its presence allows regenerating over it. */
export const SYNTHETIC_MARKER = ".synthetic.json";

function isSyntheticCategory(name: string): name is SyntheticCategory {
  return (SYNTHETIC_CATEGORIES as readonly string[]).includes(name);
}

/** Mix integers into one 32-bit seed (so each image has its own stream, independent of the counts). */
function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
  }
  return h >>> 0;
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Object geometry of one image: where the defects may go. */
interface Region {
  /** Whether (x, y) may carry a defect. */
  inside(x: number, y: number): boolean;
  /** A random point inside the region. */
  sample(rng: Rng): [number, number];
}

function renderTexture(size: number, rng: Rng): { image: RgbImage; region: Region } {
  const image = createRgbImage(size, size);
  const d = image.data;
  const theta = (28 + rng.uniform(-3, 3)) * (Math.PI / 180);
  const period = (size / 16) * rng.uniform(0.95, 1.05);
  const phaseA = rng.uniform(0, 2 * Math.PI);
  const phaseB = rng.uniform(0, 2 * Math.PI);
  const light = rng.uniform(0.94, 1.06);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const k = (2 * Math.PI) / period;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x * cos + y * sin;
      const v = -x * sin + y * cos;
      const warp = Math.sin(k * u + phaseA);
      const weft = Math.sin(k * v + phaseB);
      // Over/under weave: which thread family is on top alternates like a checkerboard.
      const top = Math.sin((k / 2) * u + phaseA) * Math.sin((k / 2) * v + phaseB) > 0 ? warp : weft;
      const base = 135 + 38 * top + 10 * warp * weft;
      const n = rng.normal() * 6;
      const i = (y * size + x) * 3;
      d[i] = clamp255((base * 1.08 + n) * light);
      d[i + 1] = clamp255((base * 0.96 + n) * light);
      d[i + 2] = clamp255((base * 0.78 + n) * light);
    }
  }
  const margin = Math.round(size * 0.12);
  return {
    image,
    region: {
      inside: () => true,
      sample: (r) => [r.uniform(margin, size - margin), r.uniform(margin, size - margin)],
    },
  };
}

function renderObject(size: number, rng: Rng): { image: RgbImage; region: Region } {
  const image = createRgbImage(size, size);
  const d = image.data;
  const cx = size / 2 + rng.normal() * size * 0.015;
  const cy = size / 2 + rng.normal() * size * 0.015;
  const radius = size * 0.34 * rng.uniform(0.97, 1.03);
  const mouth = radius * 0.42;
  const lightAngle = rng.uniform(0, 2 * Math.PI);
  const lx = Math.cos(lightAngle);
  const ly = Math.sin(lightAngle);
  const light = rng.uniform(0.95, 1.05);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const r = Math.hypot(dx, dy);
      const i = (y * size + x) * 3;
      const n = rng.normal() * 3;
      let rr: number, gg: number, bb: number;
      if (r <= radius) {
        const t = r / radius;
        // Shaded glass: brighter towards the light, a bright rim, a dark mouth in the middle.
        const shade = 0.75 + 0.25 * ((dx * lx + dy * ly) / radius) + (t > 0.9 ? 0.25 : 0);
        if (r <= mouth) {
          const m = 18 + 30 * (r / mouth);
          rr = m;
          gg = m + 6;
          bb = m;
        } else {
          rr = 70 * shade;
          gg = 150 * shade;
          bb = 95 * shade;
        }
      } else {
        const g = 62 + 22 * ((x * lx + y * ly) / size);
        rr = g;
        gg = g;
        bb = g + 4;
      }
      d[i] = clamp255((rr + n) * light);
      d[i + 1] = clamp255((gg + n) * light);
      d[i + 2] = clamp255((bb + n) * light);
    }
  }
  const inner = radius - 2;
  return {
    image,
    region: {
      inside: (x, y) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= inner,
      sample: (r) => {
        const a = r.uniform(0, 2 * Math.PI);
        const rad = Math.sqrt(r.uniform(0.05, 0.5)) * inner;
        return [cx + rad * Math.cos(a), cy + rad * Math.sin(a)];
      },
    },
  };
}

function applyScratch(image: RgbImage, region: Region, rng: Rng): Mask {
  const size = image.width;
  const mask = createMask(size, size);
  const [x0, y0] = region.sample(rng);
  const angle = rng.uniform(0, Math.PI);
  const length = size * rng.uniform(0.25, 0.45);
  const bend = rng.uniform(-0.35, 0.35);
  const halfWidth = Math.max(1, size / 96) * rng.uniform(0.8, 1.3);
  // A quadratic curve through (x0, y0): points p(t) = c + t·dir·L/2 + (t² - 1/3)·normal·bend·L/2.
  const dxu = Math.cos(angle);
  const dyu = Math.sin(angle);
  const steps = Math.ceil(length * 2);
  const d = image.data;
  for (let s = 0; s <= steps; s++) {
    const t = (s / steps) * 2 - 1;
    const along = (t * length) / 2;
    const across = (t * t - 1 / 3) * bend * (length / 2);
    const px = x0 + along * dxu - across * dyu;
    const py = y0 + along * dyu + across * dxu;
    const w = halfWidth * (1 - 0.5 * t * t); // tapered ends
    for (let y = Math.floor(py - w - 1); y <= Math.ceil(py + w + 1); y++) {
      for (let x = Math.floor(px - w - 1); x <= Math.ceil(px + w + 1); x++) {
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        if (Math.hypot(x + 0.5 - px, y + 0.5 - py) > w) continue;
        if (!region.inside(x, y)) continue;
        mask.data[y * size + x] = 255;
      }
    }
  }
  // Dark scratch on bright material, bright scratch on dark material (decided once per scratch, from the
  // mean luminance under it, so the line looks continuous); every masked pixel changes visibly.
  let lumSum = 0;
  let count = 0;
  for (let p = 0; p < size * size; p++) {
    if (!mask.data[p]) continue;
    const i = p * 3;
    lumSum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    count++;
  }
  const dark = count > 0 && lumSum / count > 100;
  for (let p = 0; p < size * size; p++) {
    if (!mask.data[p]) continue;
    const i = p * 3;
    const before = d[i] + 256 * d[i + 1] + 65536 * d[i + 2];
    for (let c = 0; c < 3; c++) {
      d[i + c] = dark ? Math.round(d[i + c] * 0.25) : Math.round(d[i + c] + (255 - d[i + c]) * 0.75);
    }
    if (d[i] + 256 * d[i + 1] + 65536 * d[i + 2] === before) {
      d[i] = d[i + 1] = d[i + 2] = dark ? 40 : 200; // pure black/white: still change the pixel
    }
  }
  return mask;
}

function applySpot(image: RgbImage, region: Region, rng: Rng): Mask {
  const size = image.width;
  const mask = createMask(size, size);
  const [cx, cy] = region.sample(rng);
  const r0 = size * rng.uniform(0.06, 0.11);
  // Irregular outline: the radius varies with the angle as a sum of a few sinusoids.
  const harmonics = [2, 3, 5].map((f) => ({ f, a: rng.uniform(0.06, 0.16), p: rng.uniform(0, 2 * Math.PI) }));
  const tint = [rng.uniform(95, 125), rng.uniform(55, 75), rng.uniform(20, 40)];
  const d = image.data;
  const reach = Math.ceil(r0 * 1.6);
  for (let y = Math.floor(cy - reach); y <= Math.ceil(cy + reach); y++) {
    for (let x = Math.floor(cx - reach); x <= Math.ceil(cx + reach); x++) {
      if (x < 0 || y < 0 || x >= size || y >= size) continue;
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const a = Math.atan2(dy, dx);
      let rad = r0;
      for (const h of harmonics) rad += r0 * h.a * Math.sin(h.f * a + h.p);
      const r = Math.hypot(dx, dy);
      if (r > rad || !region.inside(x, y)) continue;
      const i = (y * size + x) * 3;
      const t = r / rad; // darker core, lighter edge
      const n = rng.normal() * 5;
      const next = [0, 1, 2].map((c) => clamp255(tint[c] * (0.75 + 0.35 * t) + n));
      if (next[0] === d[i] && next[1] === d[i + 1] && next[2] === d[i + 2]) next[0] = clamp255(next[0] + 9);
      d[i] = next[0];
      d[i + 1] = next[1];
      d[i + 2] = next[2];
      mask.data[y * size + x] = 255;
    }
  }
  return mask;
}

/** One generated sample: the image and, for defective ones, the exact defect mask. */
export interface SyntheticSample {
  /** The image. */
  image: RgbImage;
  /** The defect mask (0 / 255), absent for good images. */
  mask?: Mask;
  /** The defect-free image the defect was painted on (for good images: the image itself). */
  clean: RgbImage;
}

/**
 * Render one image of a synthetic category from a seed, with an optional defect. Pure: the same arguments
 * give the same pixels. {@link generateSyntheticDataset} uses it with one seed per file.
 */
export function renderSyntheticSample(
  category: SyntheticCategory,
  size: number,
  seed: number,
  defect?: SyntheticDefectType,
): SyntheticSample {
  const rng = createRng(seed);
  const { image, region } = category === "synthetic_texture"
    ? renderTexture(size, rng)
    : renderObject(size, rng);
  if (!defect) return { image, clean: image };
  const clean = { width: image.width, height: image.height, data: image.data.slice() };
  let mask = defect === "scratch" ? applyScratch(image, region, rng) : applySpot(image, region, rng);
  // A defect that happened to miss the region entirely would make a "defective" image without a defect.
  for (let attempt = 1; !mask.data.some((v) => v) && attempt < 10; attempt++) {
    const retry = createRng(mixSeed(seed, attempt));
    mask = defect === "scratch" ? applyScratch(image, region, retry) : applySpot(image, region, retry);
  }
  return { image, mask, clean };
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 0): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) {
    throw new UserError(`invalid ${name}: ${value}`, `use an integer >= ${min}`);
  }
  return v;
}

const pad3 = (i: number) => String(i).padStart(3, "0");

/**
 * Write a synthetic data set in the MVTec AD layout under `dir`:
 * `<category>/train/good/NNN.png`, `<category>/test/good/NNN.png`, `<category>/test/<defect>/NNN.png` and
 * `<category>/ground_truth/<defect>/NNN_mask.png`. Same seed and options → byte-identical files.
 *
 * An existing category folder is replaced only when it was made by this generator (it holds
 * {@link SYNTHETIC_MARKER}); otherwise a {@link UserError} is thrown and nothing is deleted.
 */
export async function generateSyntheticDataset(
  dir: string,
  options: SyntheticOptions = {},
): Promise<SyntheticDatasetInfo> {
  const categories = [...(options.categories ?? SYNTHETIC_CATEGORIES)];
  for (const c of categories) {
    if (!isSyntheticCategory(c)) {
      throw new UserError(
        `unknown synthetic category "${c}"`,
        `choose from: ${SYNTHETIC_CATEGORIES.join(", ")}`,
      );
    }
  }
  const seed = positiveInt(options.seed, 0, "seed");
  const size = positiveInt(options.size, 128, "size", 32);
  const trainCount = positiveInt(options.trainCount, 16, "trainCount", 1);
  const testGoodCount = positiveInt(options.testGoodCount, 6, "testGoodCount");
  const testBadCount = positiveInt(options.testBadCount, 6, "testBadCount");

  let files = 0;
  for (const category of categories) {
    const catIndex = SYNTHETIC_CATEGORIES.indexOf(category as SyntheticCategory);
    const catDir = join(dir, category);
    try {
      await Deno.stat(catDir);
      try {
        await Deno.stat(join(catDir, SYNTHETIC_MARKER));
      } catch {
        throw new UserError(
          `refusing to overwrite ${catDir}: it was not made by the synthetic generator`,
          "choose another output folder for the synthetic data set",
        );
      }
      await Deno.remove(catDir, { recursive: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    await Deno.mkdir(catDir, { recursive: true });
    const write = async (path: string, sample: SyntheticSample, maskPath?: string) => {
      await savePng(path, sample.image);
      files++;
      if (maskPath && sample.mask) {
        await savePng(maskPath, sample.mask);
        files++;
      }
    };
    for (let i = 0; i < trainCount; i++) {
      const s = renderSyntheticSample(category as SyntheticCategory, size, mixSeed(seed, catIndex, 0, 0, i));
      await write(join(catDir, "train", "good", `${pad3(i)}.png`), s);
    }
    for (let i = 0; i < testGoodCount; i++) {
      const s = renderSyntheticSample(category as SyntheticCategory, size, mixSeed(seed, catIndex, 1, 0, i));
      await write(join(catDir, "test", "good", `${pad3(i)}.png`), s);
    }
    for (const [di, defect] of SYNTHETIC_DEFECT_TYPES.entries()) {
      for (let i = 0; i < testBadCount; i++) {
        const s = renderSyntheticSample(
          category as SyntheticCategory,
          size,
          mixSeed(seed, catIndex, 2, di + 1, i),
          defect,
        );
        await write(
          join(catDir, "test", defect, `${pad3(i)}.png`),
          s,
          join(catDir, "ground_truth", defect, `${pad3(i)}_mask.png`),
        );
      }
    }
    const marker = {
      generator: "sspcab-deno synthetic",
      category,
      seed,
      size,
      trainCount,
      testGoodCount,
      testBadCount,
    };
    await Deno.writeTextFile(join(catDir, SYNTHETIC_MARKER), JSON.stringify(marker, null, 2) + "\n");
  }
  return { dir, categories, files };
}
