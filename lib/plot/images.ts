/**
 * Pictures for the notebooks and the report: ground-truth masks and pasted regions drawn over images (tinted fill and/or
 * outline), ImageNet-normalised batches turned back into pixels, and labelled image grids composed with
 * sharp into one PNG.
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { cloneRgbImage, createMask, type Mask, type RgbImage } from "../data/rgb_image.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../data/normalize.ts";
import { escapeXml } from "./svg.ts";

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/** Red: ground-truth defects. */
export const DEFECT_COLOR: Rgb = [230, 30, 40];
/** Yellow: regions pasted by CutPaste. */
export const PASTE_COLOR: Rgb = [255, 215, 0];

function checkSameSize(image: RgbImage, mask: Mask, what: string): void {
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new RangeError(
      `${what}: mask is ${mask.width}×${mask.height} but the image is ${image.width}×${image.height}`,
    );
  }
}

/**
 * The boundary of a mask: pixels inside it (value > 0) that have a pixel outside it (or the image border)
 * within `thickness` pixels (Chebyshev distance). Returns a new 0/255 mask.
 */
export function maskOutline(mask: Mask, thickness = 1): Mask {
  const { width: w, height: h, data } = mask;
  const t = Math.max(1, Math.floor(thickness));
  const out = createMask(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!data[y * w + x]) continue;
      let edge = false;
      for (let dy = -t; dy <= t && !edge; dy++) {
        const yy = y + dy;
        for (let dx = -t; dx <= t; dx++) {
          const xx = x + dx;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h || !data[yy * w + xx]) {
            edge = true;
            break;
          }
        }
      }
      if (edge) out.data[y * w + x] = 255;
    }
  }
  return out;
}

/** Options of {@link overlayMask}. */
export interface OverlayOptions {
  /** Colour of fill and outline (default {@link DEFECT_COLOR}). */
  color?: Rgb;
  /** Opacity of the fill, 0 (no fill) to 1 (default 0.35). */
  alpha?: number;
  /** Outline thickness in pixels; 0 draws no outline (default 1). */
  thickness?: number;
}

/**
 * The image with `mask` drawn over it: the masked pixels tinted with `color` at `alpha`, and the mask's
 * boundary ({@link maskOutline}) in `color`. The input is not modified.
 */
export function overlayMask(image: RgbImage, mask: Mask, options: OverlayOptions = {}): RgbImage {
  checkSameSize(image, mask, "overlayMask");
  const color = options.color ?? DEFECT_COLOR;
  const alpha = Math.min(1, Math.max(0, options.alpha ?? 0.35));
  const thickness = options.thickness ?? 1;
  const out = cloneRgbImage(image);
  const d = out.data;
  if (alpha > 0) {
    for (let p = 0; p < mask.data.length; p++) {
      if (!mask.data[p]) continue;
      for (let c = 0; c < 3; c++) d[p * 3 + c] = Math.round(d[p * 3 + c] * (1 - alpha) + color[c] * alpha);
    }
  }
  if (thickness > 0) {
    const edge = maskOutline(mask, thickness);
    for (let p = 0; p < edge.data.length; p++) {
      if (!edge.data[p]) continue;
      d[p * 3] = color[0];
      d[p * 3 + 1] = color[1];
      d[p * 3 + 2] = color[2];
    }
  }
  return out;
}

/** The image with only the boundary of `mask` drawn in `color` (the region itself stays visible). */
export function outlineMask(image: RgbImage, mask: Mask, color: Rgb = PASTE_COLOR, thickness = 1): RgbImage {
  return overlayMask(image, mask, { color, alpha: 0, thickness });
}

/**
 * Image `index` of an ImageNet-normalised NHWC batch (`Float32Array`, as `buildBatch` makes) back as 8-bit
 * RGB: `x · std + mean`, scaled to 0–255 and clamped.
 */
export function denormalizeImage(
  pixels: Float32Array,
  index: number,
  size: number | { width: number; height: number },
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
): RgbImage {
  const { width, height } = typeof size === "number" ? { width: size, height: size } : size;
  const per = width * height * 3;
  if ((index + 1) * per > pixels.length || index < 0) {
    throw new RangeError(
      `denormalizeImage: image ${index} of ${width}×${height} is outside a batch of ${
        pixels.length / per
      } images`,
    );
  }
  const out = new Uint8Array(per);
  const base = index * per;
  for (let i = 0; i < per; i++) {
    const c = i % 3;
    const v = (pixels[base + i] * std[c] + mean[c]) * 255;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width, height, data: out };
}

/** One cell of an image grid: an image (or `null` for an empty slot) and an optional caption below it. */
export interface GridCell {
  /** The image; resized to the cell size when it differs. */
  image: RgbImage | null;
  /** Caption under the image (one line; shortened to fit). */
  caption?: string;
}

/** Options of {@link composeGrid}. */
export interface GridOptions {
  /** Side length of each (square) cell in pixels (default 160). */
  cellSize?: number;
  /** Gap between cells in pixels (default 6). */
  gap?: number;
  /** One label per row, drawn on the left (omit for none). */
  rowLabels?: string[];
  /** Title above the grid. */
  title?: string;
  /** Font size of captions in px (default 12; labels and title are larger). */
  fontSize?: number;
  /** Background colour (default white). */
  background?: Rgb;
}

/** Approximate width of `text` in DejaVu Sans at `fontSize` px. */
function approxTextWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

/** Shorten `text` with an ellipsis so it fits in `width` px at `fontSize`. */
export function fitText(text: string, width: number, fontSize: number): string {
  if (approxTextWidth(text, fontSize) <= width) return text;
  const n = Math.max(1, Math.floor(width / (fontSize * 0.6)) - 1);
  return text.slice(0, n) + "…";
}

async function cellPng(image: RgbImage, cell: number): Promise<Buffer> {
  const upscale = image.width < cell || image.height < cell;
  return await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(cell, cell, { fit: "fill", kernel: upscale ? "nearest" : "lanczos3" })
    .png()
    .toBuffer();
}

/**
 * Compose rows of images into one labelled PNG: optional title, optional row labels on the left, a caption
 * under each image. Images of another size than `cellSize` are resized (nearest-neighbour when enlarging,
 * so pixels stay crisp). Returns the PNG bytes.
 */
export async function composeGrid(rows: GridCell[][], options: GridOptions = {}): Promise<Uint8Array> {
  const cell = options.cellSize ?? 160;
  const gap = options.gap ?? 6;
  const font = options.fontSize ?? 12;
  const bg = options.background ?? [255, 255, 255];
  const columns = Math.max(1, ...rows.map((r) => r.length));
  const hasCaptions = rows.some((r) => r.some((c) => c.caption));
  const captionH = hasCaptions ? Math.ceil(font * 1.6) : 0;
  const labelFont = font + 1;
  const labelW = options.rowLabels?.length
    ? Math.ceil(Math.max(...options.rowLabels.map((l) => approxTextWidth(l, labelFont)))) + 2 * gap
    : 0;
  const titleH = options.title ? Math.ceil((font + 4) * 2) : 0; // title line height
  const titleFont = font + 4;
  const width = Math.max(
    labelW + gap + columns * (cell + gap),
    options.title ? Math.ceil(approxTextWidth(options.title, titleFont) * 1.05) + 2 * gap : 0,
  );
  const rowH = cell + captionH + gap;
  const height = titleH + gap + rows.length * rowH;

  const composites: { input: Buffer; top: number; left: number }[] = [];
  const texts: string[] = [];
  const family = "DejaVu Sans, Verdana, sans-serif";
  if (options.title) {
    texts.push(
      `<text x="${gap}" y="${Math.round(titleH * 0.65)}" font-size="${titleFont}" font-weight="bold">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  for (let r = 0; r < rows.length; r++) {
    const top = titleH + gap + r * rowH;
    const label = options.rowLabels?.[r];
    if (label) {
      texts.push(
        `<text x="${gap}" y="${top + cell / 2 + labelFont / 3}" font-size="${labelFont}" font-weight="bold">${
          escapeXml(label)
        }</text>`,
      );
    }
    for (let c = 0; c < rows[r].length; c++) {
      const { image, caption } = rows[r][c];
      const left = labelW + gap + c * (cell + gap);
      if (image) composites.push({ input: await cellPng(image, cell), top, left });
      if (caption) {
        texts.push(
          `<text x="${left + cell / 2}" y="${top + cell + font * 1.2}" font-size="${font}" ` +
            `text-anchor="middle">${escapeXml(fitText(caption, cell, font))}</text>`,
        );
      }
    }
  }
  if (texts.length) {
    const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<g font-family="${family}" fill="#222222">${texts.join("")}</g></svg>`;
    composites.push({ input: Buffer.from(overlay, "utf8"), top: 0, left: 0 });
  }
  const buf = await sharp({
    create: { width, height, channels: 3, background: { r: bg[0], g: bg[1], b: bg[2] } },
  })
    .composite(composites)
    .png({ compressionLevel: 6 })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Control points of the 'inferno' colour map (perceptually uniform, dark → bright: black, purple, red,
 * orange, pale yellow) at t = 0, 0.125, …, 1; {@link heatColor} interpolates linearly between them.
 */
export const INFERNO_STOPS: readonly Rgb[] = [
  [0, 0, 4],
  [31, 12, 72],
  [85, 15, 109],
  [136, 34, 106],
  [186, 54, 85],
  [227, 89, 51],
  [249, 140, 10],
  [249, 201, 50],
  [252, 255, 164],
];

/** The inferno colour of `t` in [0, 1] (clamped; NaN counts as 0). */
export function heatColor(t: number): Rgb {
  const v = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = v * (INFERNO_STOPS.length - 1);
  const i = Math.min(INFERNO_STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = INFERNO_STOPS[i];
  const b = INFERNO_STOPS[i + 1];
  return [
    Math.round(a[0] + f * (b[0] - a[0])),
    Math.round(a[1] + f * (b[1] - a[1])),
    Math.round(a[2] + f * (b[2] - a[2])),
  ];
}

/** Options of {@link heatmapOverlay}. */
export interface HeatmapOverlayOptions {
  /** Opacity of the colour map over the image, 0–1 (default 0.5). */
  alpha?: number;
  /** Map value shown as the darkest colour (default: the map's minimum). */
  min?: number;
  /** Map value shown as the brightest colour (default: the map's maximum). */
  max?: number;
}

/**
 * An anomaly map (`image.height × image.width`, row-major) drawn over the image: each value scaled to
 * [0, 1] between `min` and `max` (default the map's own range; a constant map is all dark), coloured with
 * {@link heatColor} and alpha-blended, `out = (1 − α)·image + α·colour`. With `alpha` 1 the result is the
 * colour map alone. The input is not modified.
 */
export function heatmapOverlay(
  image: RgbImage,
  map: ArrayLike<number>,
  options: HeatmapOverlayOptions = {},
): RgbImage {
  const n = image.width * image.height;
  if (map.length !== n) {
    throw new RangeError(
      `heatmapOverlay: the map has ${map.length} values but the image is ${image.width}×${image.height}`,
    );
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let p = 0; p < n; p++) {
    const v = map[p];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  lo = options.min ?? lo;
  hi = options.max ?? hi;
  const span = hi > lo ? hi - lo : 0;
  const alpha = Math.min(1, Math.max(0, options.alpha ?? 0.5));
  const out = cloneRgbImage(image);
  const d = out.data;
  for (let p = 0; p < n; p++) {
    const c = heatColor(span > 0 ? (map[p] - lo) / span : 0);
    for (let k = 0; k < 3; k++) {
      d[3 * p + k] = Math.round((1 - alpha) * d[3 * p + k] + alpha * c[k]);
    }
  }
  return out;
}

/** Cyan: the predicted defect mask (anomaly map ≥ the pixel threshold). */
export const PREDICTED_COLOR: Rgb = [0, 200, 255];

/**
 * The predicted defect mask of an anomaly map: 255 where `map[p] ≥ threshold`, else 0 (a NaN is never a
 * defect). `map` is `width × height`, row-major.
 */
export function predictedMask(
  map: ArrayLike<number>,
  width: number,
  height: number,
  threshold: number,
): Mask {
  if (map.length !== width * height) {
    throw new RangeError(`predictedMask: the map has ${map.length} values, expected ${width}×${height}`);
  }
  const out = createMask(width, height);
  for (let p = 0; p < map.length; p++) if (map[p] >= threshold) out.data[p] = 255;
  return out;
}

/** Input of {@link localizationPanelCells} and {@link localizationPanel}. */
export interface LocalizationPanelInput {
  /** The image at the map's size. */
  image: RgbImage;
  /** Its ground-truth mask at the same size (any non-zero value is a defect; all-zero for a good image). */
  mask: ArrayLike<number>;
  /** Its anomaly map, `image.height × image.width`, row-major. */
  map: ArrayLike<number>;
  /** The colour scale of the heatmap (one per method over the test set, so panels compare). */
  range: { min: number; max: number };
  /** Pixel threshold: map values ≥ it form the predicted mask. */
  threshold: number;
  /** Caption of the first cell (e.g. defect type and file name). */
  caption?: string;
  /** Opacity of the heatmap over the image (default 0.5). */
  alpha?: number;
}

/**
 * The four cells of an anomalib-style localisation panel: the image; the ground truth drawn as an outline on
 * the image (the mask's contour in {@link DEFECT_COLOR}, the region itself untinted); the heatmap overlay on
 * the given colour scale; the predicted mask — the region where the map is ≥ the threshold tinted in
 * {@link PREDICTED_COLOR} with its contour drawn.
 */
export function localizationPanelCells(input: LocalizationPanelInput): GridCell[] {
  const { image, mask, map, range, threshold } = input;
  const n = image.width * image.height;
  if (mask.length !== n) {
    throw new RangeError(
      `localizationPanel: the mask has ${mask.length} values but the image is ${image.width}×${image.height}`,
    );
  }
  const gt = createMask(image.width, image.height);
  for (let p = 0; p < n; p++) if (mask[p]) gt.data[p] = 255;
  const predicted = predictedMask(map, image.width, image.height, threshold);
  const fraction = predicted.data.reduce((c, v) => c + (v ? 1 : 0), 0) / n;
  return [
    { image, caption: input.caption ?? "image" },
    { image: outlineMask(image, gt, DEFECT_COLOR), caption: "ground truth" },
    {
      image: heatmapOverlay(image, map, { min: range.min, max: range.max, alpha: input.alpha }),
      caption: "anomaly map",
    },
    {
      image: overlayMask(image, predicted, { color: PREDICTED_COLOR, alpha: 0.4 }),
      caption: `predicted (${(100 * fraction).toFixed(1)}% ≥ ${formatThreshold(threshold)})`,
    },
  ];
}

function formatThreshold(t: number): string {
  return Math.abs(t) >= 1e4 || (t !== 0 && Math.abs(t) < 1e-3) ? t.toExponential(2) : t.toPrecision(4);
}

/** A localisation panel ({@link localizationPanelCells}) as one PNG: a row of four cells under `title`. */
export async function localizationPanel(
  input: LocalizationPanelInput,
  options: { title?: string; cellSize?: number } = {},
): Promise<Uint8Array> {
  return await composeGrid([localizationPanelCells(input)], {
    cellSize: options.cellSize ?? 192,
    ...(options.title ? { title: options.title } : {}),
  });
}
