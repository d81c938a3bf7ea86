/**
 * Sample grids of a data set for the data notebook: normal images and defective ones with their
 * ground-truth masks drawn over them, per category, composed into one PNG.
 * @module
 */
import { basename } from "node:path";
import { type ImageRecord, listCategory } from "../data/mvtec.ts";
import { loadMask, loadRgb } from "../data/images.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { png, type PngDisplay } from "./display.ts";
import { composeGrid, type GridCell, overlayMask } from "../plot/images.ts";

/** Options of {@link categorySampleGrid} and {@link datasetOverviewGrid}. */
export interface SampleGridOptions {
  /** Side the images are loaded at (bicubic, like training; default 256). */
  size?: number;
  /** Images per row (default 4). */
  perRow?: number;
  /** Side of each cell in the PNG (default: 160 for a category, 128 for the overview, never above `size`). */
  cellSize?: number;
}

/** `n` items spread evenly over `items` (first and last included when n ≥ 2); all of them when fewer. */
export function pickEvenly<T>(items: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (items.length <= n) return [...items];
  if (n === 1) return [items[0]];
  return Array.from({ length: n }, (_, i) => items[Math.round((i * (items.length - 1)) / (n - 1))]);
}

/**
 * Load one record as a grid cell: defective images get their mask overlaid (when a mask file exists). The
 * caption is the file name plus "no mask" when a defective image has none, or with `withType` just the defect
 * type (for rows that mix types).
 */
export async function recordCell(record: ImageRecord, size: number, withType = false): Promise<GridCell> {
  const image: RgbImage = await loadRgb(record.path, size);
  const name = withType
    ? (record.split === "train" ? "train good" : record.defectType)
    : basename(record.path);
  if (record.label === 0) return { image, caption: name };
  if (!record.maskPath) return { image, caption: withType ? name : `${name} · no mask` };
  const mask = await loadMask(record.maskPath, size);
  return { image: overlayMask(image, mask), caption: name };
}

/**
 * One category at a glance: a row of training images, a row of good test images, then one row per defect
 * type with the ground-truth masks overlaid in red (tinted area, outlined border).
 */
export async function categorySampleGrid(
  dataDir: string,
  category: string,
  options: SampleGridOptions = {},
): Promise<PngDisplay> {
  const size = options.size ?? 256;
  const perRow = options.perRow ?? 4;
  const records = await listCategory(dataDir, category);
  const groups = new Map<string, ImageRecord[]>();
  for (const r of records) {
    const key = r.split === "train" ? "train good" : r.label === 0 ? "test good" : r.defectType;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: GridCell[][] = [];
  const labels: string[] = [];
  for (const [key, group] of groups) {
    rows.push(await Promise.all(pickEvenly(group, perRow).map((r) => recordCell(r, size))));
    labels.push(`${key} (${group.length})`);
  }
  const bytes = await composeGrid(rows, {
    cellSize: options.cellSize ?? Math.min(160, size),
    rowLabels: labels,
    title: `${category}: normal and defective samples (ground truth in red)`,
  });
  return png(bytes, `${category} sample grid`);
}

/**
 * All categories at a glance: per category two training images, then defective test images of different
 * defect types with their masks overlaid (up to `perRow` images per row).
 */
export async function datasetOverviewGrid(
  dataDir: string,
  categories: readonly string[],
  options: SampleGridOptions = {},
): Promise<PngDisplay> {
  const size = options.size ?? 256;
  const perRow = Math.max(2, options.perRow ?? 5);
  const rows: GridCell[][] = [];
  for (const category of categories) {
    const records = await listCategory(dataDir, category);
    const train = pickEvenly(records.filter((r) => r.split === "train"), 2);
    const byType = new Map<string, ImageRecord[]>();
    for (const r of records) {
      if (r.split === "test" && r.label === 1) {
        byType.set(r.defectType, [...(byType.get(r.defectType) ?? []), r]);
      }
    }
    // Round-robin over the defect types so the row shows as many kinds as fit.
    const defective: ImageRecord[] = [];
    const lists = [...byType.values()];
    for (let i = 0; defective.length < perRow - train.length && lists.some((l) => l.length > i); i++) {
      for (const l of lists) if (l[i] && defective.length < perRow - train.length) defective.push(l[i]);
    }
    rows.push(await Promise.all([...train, ...defective].map((r) => recordCell(r, size, true))));
  }
  const bytes = await composeGrid(rows, {
    cellSize: options.cellSize ?? Math.min(128, size),
    rowLabels: [...categories],
    title: "Two normal training images, then defective test images (ground truth in red)",
  });
  return png(bytes, "data set overview");
}
