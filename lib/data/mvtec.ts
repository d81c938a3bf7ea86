/**
 * The MVTec AD folder layout: the 15 category names, the official per-category image counts, and a typed
 * listing of a category's images.
 *
 * ```
 * <dataDir>/<category>/train/good/*.png
 * <dataDir>/<category>/test/<good|defect type>/*.png
 * <dataDir>/<category>/ground_truth/<defect type>/<name>_mask.png   (optional)
 * ```
 *
 * Any folder of `dataDir` with a `train/` sub-folder counts as a category, so generated data sets (see
 * `synthetic.ts`) and subsets load the same way as the official one. Folders whose name starts with a dot
 * (e.g. the extractor's temporary folder) are ignored.
 * @module
 */

import { join } from "node:path";
import { UserError } from "../util/errors.ts";

/** The 15 MVTec AD categories, in the order of the paper's tables. */
export const MVTEC_CATEGORIES = [
  "bottle",
  "cable",
  "capsule",
  "carpet",
  "grid",
  "hazelnut",
  "leather",
  "metal_nut",
  "pill",
  "screw",
  "tile",
  "toothbrush",
  "transistor",
  "wood",
  "zipper",
] as const;

/** One of the 15 MVTec AD category names. */
export type MvtecCategory = (typeof MVTEC_CATEGORIES)[number];

/** Facts about one category of the official MVTec AD release (Bergmann et al., CVPR 2019, Table 1). */
export interface OfficialCategoryInfo {
  /** Number of defect-free training images (`train/good`). */
  train: number;
  /** Number of defect-free test images (`test/good`). */
  testGood: number;
  /** Number of defective test images (all `test/<defect>` folders together). */
  testDefective: number;
  /** Number of defect types (folders of `test/` other than `good`). */
  defectTypes: number;
  /** Side length of the (square) images in pixels. */
  imageSide: number;
  /** Whether the category is a texture or an object. */
  kind: "texture" | "object";
  /** Whether the images are stored as single-channel grayscale PNGs. */
  grayscale: boolean;
}

/**
 * Official per-category image counts of MVTec AD (train good / test good / test defective), checked against
 * the paper's Table 1; totals: 3629 train, 467 test good, 1258 test defective (5354 images).
 */
export const MVTEC_OFFICIAL: Readonly<Record<MvtecCategory, Readonly<OfficialCategoryInfo>>> = {
  bottle: info(209, 20, 63, 3, 900, "object"),
  cable: info(224, 58, 92, 8, 1024, "object"),
  capsule: info(219, 23, 109, 5, 1000, "object"),
  carpet: info(280, 28, 89, 5, 1024, "texture"),
  grid: info(264, 21, 57, 5, 1024, "texture", true),
  hazelnut: info(391, 40, 70, 4, 1024, "object"),
  leather: info(245, 32, 92, 5, 1024, "texture"),
  metal_nut: info(220, 22, 93, 4, 700, "object"),
  pill: info(267, 26, 141, 7, 800, "object"),
  screw: info(320, 41, 119, 5, 1024, "object", true),
  tile: info(230, 33, 84, 5, 840, "texture"),
  toothbrush: info(60, 12, 30, 1, 1024, "object"),
  transistor: info(213, 60, 40, 4, 1024, "object"),
  wood: info(247, 19, 60, 5, 1024, "texture"),
  zipper: info(240, 32, 119, 7, 1024, "object", true),
};

function info(
  train: number,
  testGood: number,
  testDefective: number,
  defectTypes: number,
  imageSide: number,
  kind: "texture" | "object",
  grayscale = false,
): OfficialCategoryInfo {
  return { train, testGood, testDefective, defectTypes, imageSide, kind, grayscale };
}

/** Expected image counts of one category: training images (`train/good`) and all test images. */
export interface ExpectedCount {
  /** Images in `train/good`. */
  train: number;
  /** Images in all `test/*` folders together. */
  test: number;
}

/** Expected counts per category name, as used to verify an extraction. */
export type ExpectedCounts = Readonly<Record<string, ExpectedCount>>;

/** The official counts in the (train, test total) form used to verify an extraction of the archive. */
export const MVTEC_EXPECTED_COUNTS: ExpectedCounts = Object.fromEntries(
  MVTEC_CATEGORIES.map((c) => [c, {
    train: MVTEC_OFFICIAL[c].train,
    test: MVTEC_OFFICIAL[c].testGood + MVTEC_OFFICIAL[c].testDefective,
  }]),
);

/** True when `name` is one of the 15 official category names. */
export function isMvtecCategory(name: string): name is MvtecCategory {
  return (MVTEC_CATEGORIES as readonly string[]).includes(name);
}

/** One image of a category, as listed by {@link listCategory}. */
export interface ImageRecord {
  /** Path of the image file (`dataDir` joined with the relative path). */
  path: string;
  /** Category name (the folder name). */
  category: string;
  /** `train` (defect-free images to fit on) or `test`. */
  split: "train" | "test";
  /** `good`, or the name of the defect folder (e.g. `broken_large`). */
  defectType: string;
  /** 0 = good, 1 = defective. */
  label: 0 | 1;
  /** Ground-truth mask (`ground_truth/<defect>/<name>_mask.png`) when the file exists. */
  maskPath?: string;
}

/** File extensions (lower case) that count as images. */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg"];

function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith(".") && IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

function stem(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Code-point order: the same on every machine and locale (unlike `localeCompare`). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function readDirNames(path: string, want: "file" | "dir"): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) {
      if (e.name.startsWith(".")) continue;
      let isDir = e.isDirectory;
      let isFile = e.isFile;
      if (e.isSymlink) {
        // A user may link a data folder in; follow it.
        const st = await statOrNull(join(path, e.name));
        isDir = st?.isDirectory ?? false;
        isFile = st?.isFile ?? false;
      }
      if ((want === "dir" && isDir) || (want === "file" && isFile)) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return names.sort(byCodePoint);
}

const DATA_HINT = "extract the official archive with `extractMvtec` (lib/data/extract.ts) into data/, " +
  "or pass the folder that holds the category folders (bottle/, cable/, …)";

/** Throws a {@link UserError} unless `dataDir` is an existing folder. */
async function requireDataDir(dataDir: string): Promise<void> {
  const st = await statOrNull(dataDir);
  if (!st) throw new UserError(`MVTec data folder not found: ${dataDir}`, DATA_HINT);
  if (!st.isDirectory) throw new UserError(`MVTec data path is not a folder: ${dataDir}`, DATA_HINT);
}

/**
 * The categories present in `dataDir`: sub-folders that contain a `train/` folder. Official categories come
 * first in {@link MVTEC_CATEGORIES} order, then any others (e.g. synthetic ones) alphabetically. Returns []
 * when there are none; throws a {@link UserError} when `dataDir` does not exist.
 */
export async function presentCategories(dataDir: string): Promise<string[]> {
  await requireDataDir(dataDir);
  const found: string[] = [];
  for (const name of await readDirNames(dataDir, "dir")) {
    const st = await statOrNull(join(dataDir, name, "train"));
    if (st?.isDirectory) found.push(name);
  }
  return sortCategories(found);
}

/** Sort category names: official ones in {@link MVTEC_CATEGORIES} order first, then the rest by name. */
export function sortCategories(names: Iterable<string>): string[] {
  const rank = (n: string) => {
    const i = (MVTEC_CATEGORIES as readonly string[]).indexOf(n);
    return i < 0 ? MVTEC_CATEGORIES.length : i;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || byCodePoint(a, b));
}

function presentList(present: string[]): string {
  return present.length ? present.join(", ") : "(none)";
}

/**
 * Turn a category selection into a list of category names present in `dataDir`.
 *
 * `spec` is `"all"` (every category present in `dataDir`, see {@link presentCategories}), a comma-separated
 * list (`"bottle,cable"`), or an array of names. Names are trimmed and de-duplicated; the order given is
 * kept. Throws a {@link UserError} for a missing `dataDir`, an empty selection, or a category whose folder
 * is missing (the message lists the categories that are present).
 */
export async function resolveCategories(
  spec: string | readonly string[],
  dataDir: string,
): Promise<string[]> {
  const present = await presentCategories(dataDir);
  const raw = typeof spec === "string" ? spec.split(",") : [...spec];
  const names = [...new Set(raw.map((s) => s.trim()).filter((s) => s.length > 0))];
  if (names.length === 0) {
    throw new UserError(
      `no category selected (got ${JSON.stringify(spec)})`,
      `use "all" or a comma-separated list of: ${presentList(present)}`,
    );
  }
  if (names.length === 1 && names[0].toLowerCase() === "all") {
    if (present.length === 0) {
      throw new UserError(
        `no category folders (with a train/ folder) found in ${dataDir}`,
        DATA_HINT,
      );
    }
    return present;
  }
  const missing = names.filter((n) => !present.includes(n));
  if (missing.length > 0) {
    const unknown = missing.filter((n) => !isMvtecCategory(n));
    const hint = unknown.length > 0
      ? `MVTec AD categories are: ${MVTEC_CATEGORIES.join(", ")}; present in ${dataDir}: ${
        presentList(present)
      }`
      : `present in ${dataDir}: ${presentList(present)}; extract the archive or choose one of those`;
    throw new UserError(
      `category folder${missing.length > 1 ? "s" : ""} not found in ${dataDir}: ${missing.join(", ")}`,
      hint,
    );
  }
  return names;
}

/**
 * List the images of one category, sorted deterministically: train before test; within test `good` first,
 * then defect types by name; files by name (code-point order).
 *
 * Throws a {@link UserError} when `dataDir` or the category folder is missing (listing the categories that
 * are present), when the category has no `train/good` folder (wrong layout), or when it holds no images.
 * A missing `test/` folder is allowed (only training records are returned); missing masks are allowed
 * (`maskPath` is then absent).
 */
export async function listCategory(dataDir: string, category: string): Promise<ImageRecord[]> {
  await requireDataDir(dataDir);
  const catDir = join(dataDir, category);
  const st = await statOrNull(catDir);
  if (!st?.isDirectory) {
    const present = await presentCategories(dataDir);
    throw new UserError(
      `category folder not found: ${catDir}`,
      `categories present in ${dataDir}: ${presentList(present)}`,
    );
  }
  const trainDir = join(catDir, "train", "good");
  if (!(await statOrNull(trainDir))?.isDirectory) {
    throw new UserError(
      `wrong layout: ${trainDir} is missing`,
      `an MVTec category folder holds train/good/*.png, test/<good|defect>/*.png and ` +
        `ground_truth/<defect>/*_mask.png; point at the folder that contains ${category}/train/good`,
    );
  }

  const records: ImageRecord[] = [];
  for (const name of (await readDirNames(trainDir, "file")).filter(isImageFile)) {
    records.push({ path: join(trainDir, name), category, split: "train", defectType: "good", label: 0 });
  }

  const testDir = join(catDir, "test");
  const defectTypes = (await readDirNames(testDir, "dir")).sort((a, b) =>
    a === "good" ? -1 : b === "good" ? 1 : byCodePoint(a, b)
  );
  for (const defectType of defectTypes) {
    const dir = join(testDir, defectType);
    const gtDir = join(catDir, "ground_truth", defectType);
    const masks = new Set(await readDirNames(gtDir, "file"));
    for (const name of (await readDirNames(dir, "file")).filter(isImageFile)) {
      const label: 0 | 1 = defectType === "good" ? 0 : 1;
      const record: ImageRecord = { path: join(dir, name), category, split: "test", defectType, label };
      const maskName = `${stem(name)}_mask.png`;
      if (masks.has(maskName)) record.maskPath = join(gtDir, maskName);
      records.push(record);
    }
  }

  if (records.length === 0) {
    throw new UserError(
      `no images in category ${category} (${catDir})`,
      `expected PNG/JPEG files in ${category}/train/good and ${category}/test/*; ` +
        `re-extract the archive if the folder is empty`,
    );
  }
  if (!records.some((r) => r.split === "train")) {
    throw new UserError(
      `no training images in ${trainDir}`,
      `a category needs defect-free PNG/JPEG images in train/good to fit on; re-extract the archive`,
    );
  }
  return records;
}

/** Image counts of one category, as shown in the data-set table of the notebooks. */
export interface CategoryCounts {
  /** Images in `train/good`. */
  train: number;
  /** Images in `test/good`. */
  testGood: number;
  /** Defective test images (all defect types). */
  testDefective: number;
  /** Defective test images per defect type (sorted by name). */
  byDefectType: Record<string, number>;
  /** Test images that have a ground-truth mask. */
  masks: number;
}

/** Count train good / test good / test defective (by type) / masks in a list of {@link ImageRecord}s. */
export function categoryCounts(records: readonly ImageRecord[]): CategoryCounts {
  const counts: CategoryCounts = { train: 0, testGood: 0, testDefective: 0, byDefectType: {}, masks: 0 };
  const byType = new Map<string, number>();
  for (const r of records) {
    if (r.split === "train") counts.train++;
    else if (r.label === 0) counts.testGood++;
    else {
      counts.testDefective++;
      byType.set(r.defectType, (byType.get(r.defectType) ?? 0) + 1);
    }
    if (r.maskPath) counts.masks++;
  }
  for (const k of [...byType.keys()].sort(byCodePoint)) counts.byDefectType[k] = byType.get(k)!;
  return counts;
}

/** One row of {@link datasetSummary}. */
export interface CategorySummaryRow extends CategoryCounts {
  /** Category name. */
  category: string;
  /** Official counts when the category is one of the 15 MVTec AD categories. */
  official?: OfficialCategoryInfo;
  /** Whether the counts equal the official ones (undefined for non-MVTec categories). */
  complete?: boolean;
}

/**
 * Per-category counts for a table (e.g. in the data notebook), compared with the official numbers.
 * `categories` defaults to every category present in `dataDir`.
 */
export async function datasetSummary(
  dataDir: string,
  categories?: readonly string[],
): Promise<CategorySummaryRow[]> {
  const cats = categories ? [...categories] : await resolveCategories("all", dataDir);
  const rows: CategorySummaryRow[] = [];
  for (const category of cats) {
    const counts = categoryCounts(await listCategory(dataDir, category));
    const row: CategorySummaryRow = { category, ...counts };
    if (isMvtecCategory(category)) {
      const o = MVTEC_OFFICIAL[category];
      row.official = { ...o };
      row.complete = counts.train === o.train && counts.testGood === o.testGood &&
        counts.testDefective === o.testDefective;
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Count the images of a category folder without validating the layout: `train` = images in `train/good`,
 * `test` = images in all `test/*` folders. Missing folders count as 0. Used to verify an extraction.
 */
export async function countCategoryImages(categoryDir: string): Promise<ExpectedCount> {
  const train = (await readDirNames(join(categoryDir, "train", "good"), "file")).filter(isImageFile).length;
  let test = 0;
  for (const d of await readDirNames(join(categoryDir, "test"), "dir")) {
    test += (await readDirNames(join(categoryDir, "test", d), "file")).filter(isImageFile).length;
  }
  return { train, test };
}
