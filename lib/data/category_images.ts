/**
 * A category's images loaded and resized once: the train/good images the model trains and fits its density on,
 * and the test images it is evaluated on, with their records.
 * @module
 */
import { type ImageRecord, listCategory } from "./mvtec.ts";
import { loadMany } from "./images.ts";
import type { RgbImage } from "./rgb_image.ts";
import { UserError } from "../util/errors.ts";
import { createProgress } from "../util/progress.ts";

/** Loaded images of one category. */
export interface CategoryImages {
  /** Category name. */
  category: string;
  /** Train records (all `good`). */
  trainRecords: ImageRecord[];
  /** Train images, resized. */
  train: RgbImage[];
  /** Test records (good and defective). */
  testRecords: ImageRecord[];
  /** Test images, resized. */
  test: RgbImage[];
}

/**
 * List and load a category at `size`×`size`. Needs train images; test images are required unless
 * `requireTest` is false. Shows a progress bar unless `quiet`; `maxPixels` is the decompression-bomb limit.
 */
export async function loadCategoryImages(
  dataDir: string,
  category: string,
  size: number,
  options: { requireTest?: boolean; quiet?: boolean; maxPixels?: number } = {},
): Promise<CategoryImages> {
  const records = await listCategory(dataDir, category);
  const trainRecords = records.filter((r) => r.split === "train");
  const testRecords = records.filter((r) => r.split === "test");
  if (trainRecords.length === 0) {
    throw new UserError(
      `no training images in ${dataDir}/${category}/train/good`,
      "add the category's good images there",
    );
  }
  if (
    (options.requireTest ?? true) &&
    (!testRecords.some((r) => r.label === 0) || !testRecords.some((r) => r.label === 1))
  ) {
    throw new UserError(
      `${dataDir}/${category}/test needs both good and defective images to evaluate ` +
        `(found ${testRecords.filter((r) => r.label === 0).length} good, ${
          testRecords.filter((r) => r.label === 1).length
        } defective)`,
      "add test/good and test/<defect> images in the MVTec layout",
    );
  }
  const paths = [...trainRecords, ...testRecords].map((r) => r.path);
  const progress = options.quiet
    ? undefined
    : createProgress({ label: `load ${category}`, total: paths.length, unit: "img" });
  const images = await loadMany(paths, size, {
    onProgress: (done) => progress?.update(done),
    maxPixels: options.maxPixels,
  });
  progress?.done();
  return {
    category,
    trainRecords,
    train: images.slice(0, trainRecords.length),
    testRecords,
    test: images.slice(trainRecords.length),
  };
}
