/**
 * What `predict --heatmap` and `infer --heatmap` share: the numbers printed for an image's anomaly map (its
 * maximum and the defect area — the fraction of pixels at or above the pixel threshold), the overlay PNG
 * (inferno heatmap over the image plus the outline of the predicted mask `map ≥ pixel threshold`), and the
 * one note printed when no pixel threshold is known.
 * @module
 */
import { basename, extname, join } from "node:path";
import type { RgbImage } from "../data/rgb_image.ts";
import { saveRgbPng } from "../data/images.ts";
import { heatmapOverlay, outlineMask, PREDICTED_COLOR, predictedMask } from "../plot/images.ts";
import { mapScore } from "../localize/map_score.ts";

/** The numbers printed for a map. */
export interface MapSummary {
  /** The map's maximum (its image-level score). */
  mapMax: number;
  /** Fraction of pixels ≥ the pixel threshold (absent without a threshold). */
  defectArea?: number;
}

/**
 * The maximum of `map` and, with a pixel threshold, the fraction of its pixels ≥ it. A map with NaN is a
 * `UserError` naming `name`.
 */
export function summarizeMap(
  map: ArrayLike<number>,
  pixelThreshold: number | null,
  name?: string,
): MapSummary {
  const mapMax = mapScore(map, name);
  if (pixelThreshold === null) return { mapMax };
  let count = 0;
  for (let i = 0; i < map.length; i++) if (map[i] >= pixelThreshold) count++;
  return { mapMax, defectArea: count / map.length };
}

/**
 * The heatmap picture of an image: its anomaly map in the inferno colour map over it (scaled to the map's own
 * range), and with a pixel threshold the outline of the predicted mask in `PREDICTED_COLOR` (cyan: it stands out on the inferno colour map).
 */
export function heatmapPicture(
  image: RgbImage,
  map: ArrayLike<number>,
  pixelThreshold: number | null,
): RgbImage {
  const overlay = heatmapOverlay(image, map);
  if (pixelThreshold === null) return overlay;
  const thickness = Math.max(1, Math.round(Math.min(image.width, image.height) / 128));
  return outlineMask(
    overlay,
    predictedMask(map, image.width, image.height, pixelThreshold),
    PREDICTED_COLOR,
    thickness,
  );
}

/** File names `<stem>.heatmap.png` for `paths`, made unique with `-2`, `-3`, … when stems repeat. */
export function heatmapNames(paths: readonly string[]): string[] {
  const used = new Set<string>();
  return paths.map((p) => {
    const stem = basename(p, extname(p));
    let name = `${stem}.heatmap.png`;
    for (let k = 2; used.has(name); k++) name = `${stem}-${k}.heatmap.png`;
    used.add(name);
    return name;
  });
}

/** Where the heatmaps of `paths` go in `dir`. */
export function heatmapPaths(dir: string, paths: readonly string[]): string[] {
  return heatmapNames(paths).map((name) => join(dir, name));
}

/** Write the heatmap picture of one image (see {@link heatmapPicture}) as a PNG. */
export async function writeHeatmap(
  path: string,
  image: RgbImage,
  map: ArrayLike<number>,
  pixelThreshold: number | null,
): Promise<void> {
  await saveRgbPng(path, heatmapPicture(image, map, pixelThreshold));
}

/**
 * The lines a command prints for its predictions: one {@link formatPrediction}-style line each (via
 * `format`), each followed by its heatmap's path when written, and — once, first — the note that no pixel
 * threshold is known when a map has no defect area.
 */
export function predictionLines<
  P extends { mapMax?: number; defectArea?: number; mapMethod?: string; heatmapPath?: string },
>(predictions: readonly P[], format: (p: P) => string, fromBundle = false): string[] {
  const lines: string[] = [];
  const noArea = predictions.find((p) => p.mapMax !== undefined && p.defectArea === undefined);
  if (noArea) lines.push(noPixelThresholdNote(noArea.mapMethod ?? "anomaly", fromBundle));
  for (const p of predictions) {
    lines.push(format(p));
    if (p.heatmapPath) lines.push(`  heatmap: ${p.heatmapPath}`);
  }
  return lines;
}

/**
 * The note printed once when a map has no pixel threshold (so no defect area is printed); `bundle` says the
 * map came from an exported bundle (which then needs exporting again).
 */
export function noPixelThresholdNote(method: string, bundle = false): string {
  return `note: no pixel threshold is stored for the ${method} map (eval ran without ` +
    `\`--localization ${method}\`${
      bundle ? " before the export" : ""
    }), so only the map's maximum is printed, ` +
    `no defect area; run \`deno task eval --localization ${method}\`${
      bundle ? " and export again" : ""
    } to store one`;
}
