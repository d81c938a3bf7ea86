/**
 * Rasterise figures to PNG with sharp (librsvg renders our SVG; fonts come from fontconfig, so the generic
 * `sans-serif` family resolves to DejaVu Sans on Debian). sharp is loaded on first use, so importing the
 * plot module costs nothing for callers that only want SVG.
 * @module
 */
import type { Figure } from "./figure.ts";
import { renderSvg } from "./svg.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** Options of {@link svgToPng} and {@link savePng}. */
export interface PngOptions {
  /** Pixel scale: 2 gives a 2× (retina) image of the same figure (default 1; clamped to 0.1–8). */
  scale?: number;
}

/** The pixel size of an SVG document, read from its root `width`/`height` attributes (or its viewBox). */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? "";
  const attr = (name: string) => {
    const m = new RegExp(`\\s${name}="([0-9.]+)"`).exec(root);
    return m ? parseFloat(m[1]) : NaN;
  };
  let width = attr("width");
  let height = attr("height");
  if (!(width > 0) || !(height > 0)) {
    const vb = /viewBox="([-0-9.\s,]+)"/.exec(root)?.[1].trim().split(/[\s,]+/).map(Number);
    width = vb?.[2] ?? NaN;
    height = vb?.[3] ?? NaN;
  }
  if (!(width > 0) || !(height > 0)) throw new Error("svgSize: the SVG has no width/height or viewBox");
  return { width, height };
}

/**
 * Rasterise an SVG document to PNG bytes. At scale 1 one SVG unit is one pixel (sharp's default SVG
 * density of 72 dpi); the scale multiplies the density, so text and lines stay sharp.
 */
export async function svgToPng(svg: string, options: PngOptions = {}): Promise<Uint8Array> {
  const scale = Math.min(8, Math.max(0.1, Number.isFinite(options.scale) ? options.scale! : 1));
  const { default: sharp } = await import("sharp");
  const buffer = await sharp(new TextEncoder().encode(svg), { density: 72 * scale })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Render a figure to PNG bytes (see {@link svgToPng}). */
export async function figureToPng(figure: Figure, options: PngOptions = {}): Promise<Uint8Array> {
  return await svgToPng(renderSvg(figure), options);
}

/**
 * Render a figure and write it as a PNG at `path`, atomically (temporary file, then rename); parent
 * folders are created. Resolves to the path.
 */
export async function savePng(figure: Figure, path: string, options: PngOptions = {}): Promise<string> {
  await writeFileAtomic(path, await figureToPng(figure, options));
  return path;
}

/** Alias of {@link savePng} that does not clash with `savePng` of `lib/data/images.ts` in a re-export. */
export const saveFigurePng: (figure: Figure, path: string, options?: PngOptions) => Promise<string> = savePng;

/** Render a figure and write it as an SVG file at `path`, atomically; parent folders are created. */
export async function saveSvg(figure: Figure, path: string): Promise<string> {
  await writeFileAtomic(path, renderSvg(figure));
  return path;
}
