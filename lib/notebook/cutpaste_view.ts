/**
 * Pictures of the CutPaste self-supervision for the visualisation notebook: originals next to their
 * CutPaste-normal and scar versions with the pasted region outlined, a 3-way training batch as the network
 * sees it (ImageNet-normalised, turned back into pixels), and the distributions of the sampled patch
 * geometry as histogram figures.
 * @module
 */
import {
  cutPaste3Way,
  CUTPASTE_NORMAL_DEFAULTS,
  CUTPASTE_SCAR_DEFAULTS,
  type CutPasteBox,
  cutPasteNormal,
  cutPasteScar,
} from "../augment/cutpaste.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import type { Batch } from "../train/batch_plan.ts";
import { type Figure, scoreHistogramFigure } from "../plot/figure.ts";
import { createRng } from "../util/rng.ts";
import { type Displayable, markdown, png, type PngDisplay } from "./display.ts";
import { composeGrid, denormalizeImage, type GridCell, outlineMask } from "../plot/images.ts";

/** Short description of a sampled CutPaste geometry, for captions. */
export function describeBox(box: CutPasteBox): string {
  if (box.kind === "normal") {
    return `normal ${box.cutWidth}×${box.cutHeight} (${(box.areaRatio * 100).toFixed(1)}%)`;
  }
  const deg = Math.round(box.rotationDeg);
  return `scar ${box.cutWidth}×${box.cutHeight}, ${deg > 0 ? "+" : ""}${deg}°`;
}

/** Options of {@link cutPasteGallery}. */
export interface GalleryOptions {
  /** Seed of the augmentation draws (default 0). */
  seed?: number;
  /** Cell side in the PNG (default 192). */
  cellSize?: number;
  /** Outline thickness in image pixels (default: 1 per 128 px of image side). */
  thickness?: number;
}

/**
 * One row per image: the original, its CutPaste-normal version and its scar version (the 3-way triple,
 * drawn as in training, patch colour jitter included), each augmented image with the pasted pixels
 * outlined in yellow and the sampled geometry in the caption.
 */
export async function cutPasteGallery(
  images: readonly RgbImage[],
  options: GalleryOptions = {},
): Promise<PngDisplay> {
  const rng = createRng(options.seed ?? 0);
  const rows: GridCell[][] = [];
  for (const image of images) {
    const t = cutPaste3Way(image, rng);
    const thickness = options.thickness ?? Math.max(1, Math.round(image.width / 128));
    rows.push([
      { image, caption: `original ${image.width}×${image.height}` },
      { image: t.normal.image, caption: "CutPaste (plain)" },
      {
        image: outlineMask(t.normal.image, t.normal.mask, undefined, thickness),
        caption: describeBox(t.normal.box),
      },
      { image: t.scar.image, caption: "CutPaste scar (plain)" },
      {
        image: outlineMask(t.scar.image, t.scar.mask, undefined, thickness),
        caption: describeBox(t.scar.box),
      },
    ]);
  }
  const bytes = await composeGrid(rows, {
    cellSize: options.cellSize ?? 192,
    title: "Original · CutPaste normal (plain, outlined) · CutPaste scar (plain, outlined)",
  });
  return png(bytes, "CutPaste gallery");
}

/** Names of the 3-way classes, by label. */
export const THREE_WAY_CLASSES: readonly string[] = ["0 original", "1 CutPaste", "2 scar"];

/**
 * A training batch as the network receives it: the `buildBatch` output (ImageNet-normalised NHWC floats,
 * originals first, then all CutPaste, then all scar) turned back into pixels, one row per class label.
 * At most `maxPerRow` images per row are shown.
 */
export async function batchGrid(
  batch: Batch,
  options: { cellSize?: number; maxPerRow?: number } = {},
): Promise<PngDisplay> {
  const maxPerRow = options.maxPerRow ?? 8;
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < batch.count; i++) {
    byLabel.set(batch.labels[i], [...(byLabel.get(batch.labels[i]) ?? []), i]);
  }
  const labels = [...byLabel.keys()].sort((a, b) => a - b);
  const rows = labels.map((label) =>
    byLabel.get(label)!.slice(0, maxPerRow).map((i): GridCell => ({
      image: denormalizeImage(batch.pixels, i, batch.size),
      caption: `#${i} label ${label}`,
    }))
  );
  const bytes = await composeGrid(rows, {
    cellSize: options.cellSize ?? 128,
    rowLabels: labels.map((l) => THREE_WAY_CLASSES[l] ?? `label ${l}`),
    title:
      `Training batch of step ${batch.step}: ${batch.count} images (${batch.size}×${batch.size}), denormalised`,
  });
  return png(bytes, "training batch");
}

/** Geometry of many CutPaste draws, for the distribution plots. */
export interface GeometrySample {
  /** Boxes of CutPaste-normal draws. */
  normal: CutPasteBox[];
  /** Boxes of scar draws. */
  scar: CutPasteBox[];
}

/**
 * Draw `n` CutPaste-normal and `n` scar geometries on a blank `size`×`size` image (no colour jitter, so only
 * the geometry is sampled; the draws follow the same distributions as in training).
 */
export function sampleCutPasteGeometry(n: number, size: number, seed = 0): GeometrySample {
  const blank: RgbImage = { width: size, height: size, data: new Uint8Array(size * size * 3) };
  const rng = createRng(seed);
  const normal: CutPasteBox[] = [];
  const scar: CutPasteBox[] = [];
  for (let i = 0; i < n; i++) {
    normal.push(cutPasteNormal(blank, rng, { jitter: null }).box);
    scar.push(cutPasteScar(blank, rng, { jitter: null }).box);
  }
  return { normal, scar };
}

/** The histogram figures of a {@link GeometrySample}: what was drawn, next to the reference's ranges. */
export interface GeometryFigures {
  /** CutPaste normal: patch area as a fraction of the image (uniform). */
  area: Figure;
  /** CutPaste normal: log aspect ratio (uniform in log space). */
  aspect: Figure;
  /** Scar: width and height in pixels. */
  scarSize: Figure;
  /** Scar: rotation in degrees (uniform). */
  rotation: Figure;
}

/** Histograms (lib/plot figure specs) of the sampled areas, aspect ratios, scar sizes and rotations. */
export function geometryFigures(sample: GeometrySample): GeometryFigures {
  const n = CUTPASTE_NORMAL_DEFAULTS;
  const s = CUTPASTE_SCAR_DEFAULTS;
  const size = { width: 560, height: 340 };
  const fmt = (v: number) => String(Number(v.toFixed(2)));
  return {
    area: scoreHistogramFigure(
      { "patch area / image area": sample.normal.map((b) => b.areaRatio) },
      NaN,
      `CutPaste normal: area ratio ~ U[${n.areaRatio[0]}, ${n.areaRatio[1]}]`,
      { ...size, xTitle: "area ratio", nbins: 26 },
    ),
    aspect: scoreHistogramFigure(
      { "ln(width / height)": sample.normal.map((b) => Math.log(b.aspect)) },
      NaN,
      `CutPaste normal: aspect log-uniform in [${n.aspectRatio}, ${fmt(1 / n.aspectRatio)}]`,
      { ...size, xTitle: "ln(aspect ratio)", nbins: 24 },
    ),
    scarSize: scoreHistogramFigure(
      {
        [`width ~ U[${s.width[0]}, ${s.width[1]})`]: sample.scar.map((b) => b.cutWidth),
        [`height ~ U[${s.height[0]}, ${s.height[1]})`]: sample.scar.map((b) => b.cutHeight),
      },
      NaN,
      "Scar: cut size in pixels (truncated to integers)",
      { ...size, xTitle: "pixels", nbins: 30 },
    ),
    rotation: scoreHistogramFigure(
      { "rotation (degrees)": sample.scar.map((b) => b.rotationDeg) },
      NaN,
      `Scar: rotation ~ U[${s.rotation[0]}°, ${s.rotation[1]}°]`,
      { ...size, xTitle: "degrees (counter-clockwise)", nbins: 18 },
    ),
  };
}

/** A one-line Markdown summary of a batch: shape of the pixel array, its mean, and the labels. */
export function batchSummary(batch: Batch): Displayable {
  let sum = 0;
  for (let i = 0; i < batch.pixels.length; i++) sum += batch.pixels[i];
  const mean = batch.pixels.length ? sum / batch.pixels.length : NaN;
  return markdown(
    `Step ${batch.step}: \`pixels\` is a \`Float32Array\` of ${batch.count}×${batch.size}×${batch.size}×3 ` +
      `ImageNet-normalised values (mean ${mean.toFixed(2)}); \`labels\` = [${
        Array.from(batch.labels).join(", ")
      }].`,
  );
}
