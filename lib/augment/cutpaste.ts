/**
 * CutPaste augmentations (Li et al., CVPR 2021) with the semantics of the PyTorch reimplementation that both
 * reference codes use:
 *
 * - **normal**: a rectangle of area U[0.02, 0.15] · W · H and log-uniform aspect ratio in [0.3, 1/0.3] is cut
 *   from the image, colour-jittered, and pasted back at an independent random location;
 * - **scar**: a thin rectangle (width U[2, 16], height U[10, 25], truncated to integers) is cut, jittered,
 *   rotated by U[−45°, 45°] into its expanded bounding box (PIL `rotate(expand=True)` geometry), and pasted
 *   through the rotated rectangle's mask;
 * - **3-way**: (original, normal, scar) with labels 0, 1, 2; **union**: normal or scar with p = 0.5; the
 *   binary variants return (original, augmented) with labels 0, 1.
 *
 * Random numbers are drawn from the given {@link Rng} in the reference's order, so the same seed gives the
 * same bytes. Each result carries the pasted-pixel mask and the sampled geometry.
 * @module
 */

import { cloneRgbImage, createMask, type Mask, type RgbImage } from "../data/rgb_image.ts";
import type { Rng } from "../util/rng.ts";
import { colorJitter, DEFAULT_JITTER, type JitterParams } from "./color_jitter.ts";

/** Parameters of {@link cutPasteNormal}. */
export interface CutPasteNormalParams {
  /** Range of the patch area as a fraction of the image area. */
  areaRatio: readonly [number, number];
  /** Aspect ratios are log-uniform in [aspectRatio, 1 / aspectRatio]. */
  aspectRatio: number;
}

/** Parameters of {@link cutPasteScar}. */
export interface CutPasteScarParams {
  /** Range of the scar width in pixels (drawn uniformly, then truncated). */
  width: readonly [number, number];
  /** Range of the scar height in pixels (drawn uniformly, then truncated). */
  height: readonly [number, number];
  /** Range of the rotation in degrees (counter-clockwise, like PIL's `rotate`). */
  rotation: readonly [number, number];
}

/** The reference's CutPasteNormal parameters: area ratio [0.02, 0.15], aspect ratio 0.3. */
export const CUTPASTE_NORMAL_DEFAULTS: Readonly<CutPasteNormalParams> = Object.freeze({
  areaRatio: Object.freeze([0.02, 0.15] as const),
  aspectRatio: 0.3,
});

/** The reference's CutPasteScar parameters: width [2, 16], height [10, 25], rotation [−45°, 45°]. */
export const CUTPASTE_SCAR_DEFAULTS: Readonly<CutPasteScarParams> = Object.freeze({
  width: Object.freeze([2, 16] as const),
  height: Object.freeze([10, 25] as const),
  rotation: Object.freeze([-45, 45] as const),
});

/** Options of {@link cutPasteNormal}: parameter overrides and the patch jitter. */
export interface CutPasteNormalOptions extends Partial<CutPasteNormalParams> {
  /** Colour jitter applied to the cut patch; `null` copies the patch unchanged. Default {@link DEFAULT_JITTER}. */
  jitter?: JitterParams | null;
}

/** Options of {@link cutPasteScar}: parameter overrides and the patch jitter. */
export interface CutPasteScarOptions extends Partial<CutPasteScarParams> {
  /** Colour jitter applied to the cut patch; `null` copies the patch unchanged. Default {@link DEFAULT_JITTER}. */
  jitter?: JitterParams | null;
}

/** The sampled geometry of one CutPaste draw (all positions are top-left corners, in pixels). */
export interface CutPasteBox {
  /** Which augmentation produced it. */
  kind: "normal" | "scar";
  /** Normal: the drawn area ratio; scar: `cutWidth · cutHeight / (W · H)`. */
  areaRatio: number;
  /** Normal: the drawn aspect ratio (width / height before rounding); scar: `cutWidth / cutHeight`. */
  aspect: number;
  /** Width of the cut rectangle. */
  cutWidth: number;
  /** Height of the cut rectangle. */
  cutHeight: number;
  /** Column of the source rectangle. */
  fromX: number;
  /** Row of the source rectangle. */
  fromY: number;
  /** Column where the (rotated) patch is pasted. */
  toX: number;
  /** Row where the (rotated) patch is pasted. */
  toY: number;
  /** Rotation in degrees (0 for normal). */
  rotationDeg: number;
  /** Width of the pasted canvas (the rotated bounding box for scar; `cutWidth` for normal). */
  pasteWidth: number;
  /** Height of the pasted canvas (the rotated bounding box for scar; `cutHeight` for normal). */
  pasteHeight: number;
}

/** One augmented image, the mask of the pixels that were pasted (255), and the sampled geometry. */
export interface CutPasteResult {
  /** The augmented image (a new image; the input is unchanged). */
  image: RgbImage;
  /** 255 where a patch pixel was pasted, 0 elsewhere. */
  mask: Mask;
  /** The sampled geometry. */
  box: CutPasteBox;
}

/** Python's `round()` (half to even), as used by the reference for the patch size. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `int(random.uniform(0, hi))` — a top-left coordinate in [0, hi] (0 when `hi <= 0`). */
function drawLocation(rng: Rng, hi: number): number {
  return hi > 0 ? Math.floor(rng.uniform(0, hi)) : 0;
}

/** Copy the `w × h` rectangle at (x, y) into a new image (like PIL `crop`). */
export function cropRgb(img: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  const rowBytes = w * 3;
  for (let r = 0; r < h; r++) {
    const start = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(start, start + rowBytes), r * rowBytes);
  }
  return { width: w, height: h, data: out };
}

/** Check that the image can hold at least a 1-pixel patch. */
function checkImage(img: RgbImage, what: string): void {
  if (img.width < 1 || img.height < 1 || img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `${what}: expected an RGB image with data.length = width·height·3, got ${img.width}×${img.height} ` +
        `with ${img.data.length} bytes`,
    );
  }
}

/**
 * CutPasteNormal: cut a rectangle of area `U(areaRatio) · W · H` and aspect `exp(U(log a, log 1/a))`
 * (`cutWidth = round(√(area · aspect))`, `cutHeight = round(√(area / aspect))`, clipped to the image), jitter it,
 * and paste it at an independent random location. Draw order as in the reference: area, aspect, source row,
 * source column, jitter, destination row, destination column.
 */
export function cutPasteNormal(img: RgbImage, rng: Rng, options: CutPasteNormalOptions = {}): CutPasteResult {
  checkImage(img, "cutPasteNormal");
  const areaRange = options.areaRatio ?? CUTPASTE_NORMAL_DEFAULTS.areaRatio;
  const aspectRatio = options.aspectRatio ?? CUTPASTE_NORMAL_DEFAULTS.aspectRatio;
  const jitter = options.jitter === undefined ? DEFAULT_JITTER : options.jitter;
  const W = img.width, H = img.height;

  const areaRatio = rng.uniform(areaRange[0], areaRange[1]);
  const area = areaRatio * W * H;
  const logLo = Math.log(aspectRatio), logHi = Math.log(1 / aspectRatio);
  const aspect = Math.exp(rng.uniform(Math.min(logLo, logHi), Math.max(logLo, logHi)));
  const cutWidth = Math.min(W, Math.max(1, roundHalfEven(Math.sqrt(area * aspect))));
  const cutHeight = Math.min(H, Math.max(1, roundHalfEven(Math.sqrt(area / aspect))));
  const fromY = drawLocation(rng, H - cutHeight);
  const fromX = drawLocation(rng, W - cutWidth);
  let patch = cropRgb(img, fromX, fromY, cutWidth, cutHeight);
  if (jitter) patch = colorJitter(patch, jitter, rng);
  const toY = drawLocation(rng, H - cutHeight);
  const toX = drawLocation(rng, W - cutWidth);

  const image = cloneRgbImage(img);
  const mask = createMask(W, H);
  const rowBytes = cutWidth * 3;
  for (let r = 0; r < cutHeight; r++) {
    const row = toY + r;
    image.data.set(patch.data.subarray(r * rowBytes, (r + 1) * rowBytes), (row * W + toX) * 3);
    mask.data.fill(255, row * W + toX, row * W + toX + cutWidth);
  }
  return {
    image,
    mask,
    box: {
      kind: "normal",
      areaRatio,
      aspect,
      cutWidth,
      cutHeight,
      fromX,
      fromY,
      toX,
      toY,
      rotationDeg: 0,
      pasteWidth: cutWidth,
      pasteHeight: cutHeight,
    },
  };
}

/** A patch rotated into its expanded bounding box, with its coverage mask. */
export interface RotatedPatch {
  /** The rotated colours (0 outside the rotated rectangle). */
  image: RgbImage;
  /** 255 inside the rotated rectangle, 0 outside (`image.width · image.height` bytes). */
  alpha: Uint8Array;
}

/** PIL rounds the rotation matrix entries to 15 decimals; doing the same keeps the canvas size identical. */
function round15(x: number): number {
  return Math.round(x * 1e15) / 1e15;
}

/** Size of the canvas PIL's `rotate(deg, expand=True)` gives a `w × h` image: `[width, height]`. */
export function rotatedCanvasSize(w: number, h: number, deg: number): [number, number] {
  const th = (-deg * Math.PI) / 180;
  const a = round15(Math.cos(th)), b = round15(Math.sin(th));
  const cx = w / 2, cy = h / 2;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const [x, y] of [[0, 0], [w, 0], [w, h], [0, h]]) {
    const X = a * (x - cx) + b * (y - cy) + cx;
    const Y = -b * (x - cx) + a * (y - cy) + cy;
    if (X < minX) minX = X;
    if (X > maxX) maxX = X;
    if (Y < minY) minY = Y;
    if (Y > maxY) maxY = Y;
  }
  return [Math.ceil(maxX) - Math.floor(minX), Math.ceil(maxY) - Math.floor(minY)];
}

/**
 * Rotate a patch by `deg` degrees counter-clockwise about its centre into the expanded bounding box (PIL
 * `rotate(deg, expand=True)` geometry). Inverse mapping: each output pixel centre is mapped back into the
 * source; it is covered (`alpha = 255`) when that point lies in `[0, w) × [0, h)` (PIL's nearest-neighbour
 * inside test) and its colour is sampled bilinearly (edge-clamped).
 */
export function rotatePatch(patch: RgbImage, deg: number): RotatedPatch {
  const w = patch.width, h = patch.height;
  const th = (-deg * Math.PI) / 180;
  const a = round15(Math.cos(th)), b = round15(Math.sin(th));
  const [nw, nh] = rotatedCanvasSize(w, h, deg);
  const out = new Uint8Array(nw * nh * 3);
  const alpha = new Uint8Array(nw * nh);
  const src = patch.data;
  const cx = w / 2, cy = h / 2, ncx = nw / 2, ncy = nh / 2;
  const wm1 = w - 1, hm1 = h - 1;
  for (let y = 0; y < nh; y++) {
    const Y = y + 0.5 - ncy;
    for (let x = 0; x < nw; x++) {
      const X = x + 0.5 - ncx;
      const xin = a * X + b * Y + cx;
      const yin = -b * X + a * Y + cy;
      if (!(xin >= 0 && xin < w && yin >= 0 && yin < h)) continue;
      const o = y * nw + x;
      alpha[o] = 255;
      const sx = xin - 0.5, sy = yin - 0.5;
      let x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      let x1 = x0 + 1, y1 = y0 + 1;
      if (x0 < 0) x0 = 0;
      if (y0 < 0) y0 = 0;
      if (x1 > wm1) x1 = wm1;
      if (y1 > hm1) y1 = hm1;
      const i00 = (y0 * w + x0) * 3, i01 = (y0 * w + x1) * 3;
      const i10 = (y1 * w + x0) * 3, i11 = (y1 * w + x1) * 3;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      for (let c = 0; c < 3; c++) {
        const v = w00 * src[i00 + c] + w01 * src[i01 + c] + w10 * src[i10 + c] + w11 * src[i11 + c];
        out[o * 3 + c] = v + 0.5; // Uint8Array store truncates; v ∈ [0, 255]
      }
    }
  }
  return { image: { width: nw, height: nh, data: out }, alpha };
}

/**
 * CutPasteScar: cut a `int(U(width)) × int(U(height))` rectangle, jitter it, rotate it by `U(rotation)` degrees
 * into its expanded bounding box ({@link rotatePatch}), and paste it through the rotated mask at
 * `(int(U(0, W − pasteWidth)), int(U(0, H − pasteHeight)))` (clipped at the image border should the canvas be
 * larger than the image). Draw order as in the reference: width, height, source row, source column, jitter,
 * rotation, destination row, destination column.
 */
export function cutPasteScar(img: RgbImage, rng: Rng, options: CutPasteScarOptions = {}): CutPasteResult {
  checkImage(img, "cutPasteScar");
  const widthRange = options.width ?? CUTPASTE_SCAR_DEFAULTS.width;
  const heightRange = options.height ?? CUTPASTE_SCAR_DEFAULTS.height;
  const rotRange = options.rotation ?? CUTPASTE_SCAR_DEFAULTS.rotation;
  const jitter = options.jitter === undefined ? DEFAULT_JITTER : options.jitter;
  const W = img.width, H = img.height;

  const cutWidth = Math.min(W, Math.max(1, Math.trunc(rng.uniform(widthRange[0], widthRange[1]))));
  const cutHeight = Math.min(H, Math.max(1, Math.trunc(rng.uniform(heightRange[0], heightRange[1]))));
  const fromY = drawLocation(rng, H - cutHeight);
  const fromX = drawLocation(rng, W - cutWidth);
  let patch = cropRgb(img, fromX, fromY, cutWidth, cutHeight);
  if (jitter) patch = colorJitter(patch, jitter, rng);
  const rotationDeg = rng.uniform(rotRange[0], rotRange[1]);
  const rotated = rotatePatch(patch, rotationDeg);
  const pw = rotated.image.width, ph = rotated.image.height;
  const toY = drawLocation(rng, H - ph);
  const toX = drawLocation(rng, W - pw);

  const image = cloneRgbImage(img);
  const mask = createMask(W, H);
  const dst = image.data, rd = rotated.image.data, ra = rotated.alpha;
  for (let y = 0; y < ph; y++) {
    const row = toY + y;
    if (row >= H) break;
    for (let x = 0; x < pw; x++) {
      const col = toX + x;
      if (col >= W) break;
      const s = y * pw + x;
      if (ra[s] === 0) continue;
      const d = row * W + col;
      mask.data[d] = 255;
      dst[d * 3] = rd[s * 3];
      dst[d * 3 + 1] = rd[s * 3 + 1];
      dst[d * 3 + 2] = rd[s * 3 + 2];
    }
  }
  return {
    image,
    mask,
    box: {
      kind: "scar",
      areaRatio: (cutWidth * cutHeight) / (W * H),
      aspect: cutWidth / cutHeight,
      cutWidth,
      cutHeight,
      fromX,
      fromY,
      toX,
      toY,
      rotationDeg,
      pasteWidth: pw,
      pasteHeight: ph,
    },
  };
}

/** Options of the combined variants: per-augmentation options. */
export interface CutPasteOptions {
  /** Options for the normal augmentation. */
  normal?: CutPasteNormalOptions;
  /** Options for the scar augmentation. */
  scar?: CutPasteScarOptions;
}

/** The 3-way triple: the original (the input object itself, not a copy), a normal and a scar CutPaste. */
export interface CutPasteTriple {
  /** The input image (same object; label 0). */
  original: RgbImage;
  /** CutPasteNormal of the input (label 1). */
  normal: CutPasteResult;
  /** CutPasteScar of the input (label 2). */
  scar: CutPasteResult;
}

/** CutPaste3Way: (original, normal, scar) of one image; normal is drawn before scar, as in the reference. */
export function cutPaste3Way(img: RgbImage, rng: Rng, opts: CutPasteOptions = {}): CutPasteTriple {
  const normal = cutPasteNormal(img, rng, opts.normal);
  const scar = cutPasteScar(img, rng, opts.scar);
  return { original: img, normal, scar };
}

/** CutPasteUnion: one `U(0, 1)` draw, then normal when it is < 0.5, otherwise scar. */
export function cutPasteUnion(img: RgbImage, rng: Rng, opts: CutPasteOptions = {}): CutPasteResult {
  return rng.next() < 0.5 ? cutPasteNormal(img, rng, opts.normal) : cutPasteScar(img, rng, opts.scar);
}

/** The CutPaste training variants: 3-way (3 classes) and the binary normal, scar and union (2 classes). */
export type CutPasteVariant = "3way" | "normal" | "scar" | "union";

/** All variant names, for flag validation. */
export const CUTPASTE_VARIANTS: readonly CutPasteVariant[] = Object.freeze([
  "3way",
  "normal",
  "scar",
  "union",
]);

/** Number of classes the head predicts for a variant: 3 for `3way`, otherwise 2. */
export function variantClassCount(variant: CutPasteVariant): number {
  return variant === "3way" ? 3 : 2;
}

/** Options of {@link augmentForVariant}. */
export interface AugmentOptions extends CutPasteOptions {
  /**
   * Colour jitter applied to the whole image before CutPaste (the reference's `before_cutpaste`); the jittered
   * image is also the label-0 sample. Default `null` (none); {@link augmentTrainingItem} uses
   * {@link DEFAULT_JITTER}.
   */
  beforeJitter?: JitterParams | null;
}

/** Images of one data-set item with their class labels (0 = original, 1 = cutpaste/normal, 2 = scar). */
export interface AugmentedItem {
  /** The images, original first. */
  images: RgbImage[];
  /** The class label of each image. */
  labels: number[];
}

/**
 * Augment one image for a variant: `3way` → [original, normal, scar] with labels [0, 1, 2]; `normal`, `scar`,
 * `union` → [original, augmented] with labels [0, 1]. With `beforeJitter` set, the image is jittered first.
 */
export function augmentForVariant(
  variant: CutPasteVariant,
  img: RgbImage,
  rng: Rng,
  options: AugmentOptions = {},
): AugmentedItem {
  const base = options.beforeJitter ? colorJitter(img, options.beforeJitter, rng) : img;
  switch (variant) {
    case "3way": {
      const t = cutPaste3Way(base, rng, options);
      return { images: [base, t.normal.image, t.scar.image], labels: [0, 1, 2] };
    }
    case "normal":
      return { images: [base, cutPasteNormal(base, rng, options.normal).image], labels: [0, 1] };
    case "scar":
      return { images: [base, cutPasteScar(base, rng, options.scar).image], labels: [0, 1] };
    case "union":
      return { images: [base, cutPasteUnion(base, rng, options).image], labels: [0, 1] };
    default:
      throw new RangeError(
        `unknown CutPaste variant "${variant as string}"; use one of ${CUTPASTE_VARIANTS.join(", ")}`,
      );
  }
}

/**
 * What the training loader does per item: colour jitter (default {@link DEFAULT_JITTER}) on the whole image,
 * then {@link augmentForVariant} with patch jitter {@link DEFAULT_JITTER}.
 */
export function augmentTrainingItem(
  variant: CutPasteVariant,
  img: RgbImage,
  rng: Rng,
  options: AugmentOptions = {},
): AugmentedItem {
  return augmentForVariant(variant, img, rng, {
    ...options,
    beforeJitter: options.beforeJitter === undefined ? DEFAULT_JITTER : options.beforeJitter,
  });
}
