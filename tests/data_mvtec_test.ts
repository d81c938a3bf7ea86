// Tests of lib/data/mvtec.ts on a synthetic data set generated here (real PNGs and masks, always), on the
// real lite subset (when present beside the project) and on small folder trees made here.
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  categoryCounts,
  countCategoryImages,
  datasetSummary,
  listCategory,
  MVTEC_CATEGORIES,
  MVTEC_EXPECTED_COUNTS,
  MVTEC_OFFICIAL,
  presentCategories,
  resolveCategories,
} from "../lib/data/mvtec.ts";
import { UserError } from "../lib/util/errors.ts";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { loadMask } from "../lib/data/images.ts";

const LITE = join(import.meta.dirname!, "..", "..", "shared", "data", "mvtec-lite");
const HAS_LITE = await Deno.stat(join(LITE, "bottle", "train", "good")).then(() => true, () => false);
if (!HAS_LITE) console.warn(`data_mvtec_test: MVTec lite subset not found at ${LITE}; its tests are ignored`);

async function touch(root: string, ...rels: string[]): Promise<void> {
  for (const rel of rels) {
    const p = join(root, ...rel.split("/"));
    await Deno.mkdir(join(p, ".."), { recursive: true });
    await Deno.writeFile(p, new Uint8Array(0));
  }
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("MVTec constants: 15 categories and the official counts (paper Table 1 totals)", () => {
  assertEquals(MVTEC_CATEGORIES.length, 15);
  const total = (k: "train" | "testGood" | "testDefective") =>
    MVTEC_CATEGORIES.reduce((s, c) => s + MVTEC_OFFICIAL[c][k], 0);
  assertEquals([total("train"), total("testGood"), total("testDefective")], [3629, 467, 1258]);
  assertEquals(MVTEC_CATEGORIES.reduce((s, c) => s + MVTEC_OFFICIAL[c].defectTypes, 0), 73);
  assertEquals(MVTEC_EXPECTED_COUNTS.bottle, { train: 209, test: 83 });
  assertEquals(MVTEC_EXPECTED_COUNTS.zipper, { train: 240, test: 151 });
  assertEquals(MVTEC_EXPECTED_COUNTS.toothbrush, { train: 60, test: 42 });
  assertEquals(
    MVTEC_CATEGORIES.filter((c) => MVTEC_OFFICIAL[c].grayscale),
    ["grid", "screw", "zipper"],
  );
});

Deno.test("listCategory on a generated synthetic data set: typed, sorted records with masks", async () => {
  await withTmp(async (dir) => {
    await generateSyntheticDataset(dir, {
      seed: 5,
      size: 32,
      trainCount: 9,
      testGoodCount: 4,
      testBadCount: 2,
    });
    assertEquals(await presentCategories(dir), ["synthetic_object", "synthetic_texture"]);
    assertEquals(await resolveCategories("all", dir), ["synthetic_object", "synthetic_texture"]);
    const records = await listCategory(dir, "synthetic_object");
    const train = records.filter((r) => r.split === "train");
    const test = records.filter((r) => r.split === "test");
    assertEquals(train.length, 9);
    assert(train.every((r) => r.label === 0 && r.defectType === "good" && r.category === "synthetic_object"));
    assertEquals(train.map((r) => r.path.slice(-7)), [...Array(9)].map((_, i) => `00${i}.png`));
    assertEquals(records.indexOf(test[0]), 9, "train records come first");
    // Good test images first, then the defect types by name, each sorted by file name.
    assertEquals(test.map((r) => `${r.defectType}:${r.label}:${r.path.slice(-7)}`), [
      "good:0:000.png",
      "good:0:001.png",
      "good:0:002.png",
      "good:0:003.png",
      "scratch:1:000.png",
      "scratch:1:001.png",
      "spot:1:000.png",
      "spot:1:001.png",
    ]);
    for (const r of test) {
      if (r.label === 0) {
        assertEquals(r.maskPath, undefined);
        continue;
      }
      const maskName = `${r.path.slice(-7, -4)}_mask.png`;
      assertEquals(r.maskPath, join(dir, "synthetic_object", "ground_truth", r.defectType, maskName));
      const mask = await loadMask(r.maskPath!);
      assertEquals([mask.width, mask.height], [32, 32]);
      assert(mask.data.some((v) => v > 0), `${r.maskPath} marks the defect`);
    }
    assertEquals(categoryCounts(records), {
      train: 9,
      testGood: 4,
      testDefective: 4,
      byDefectType: { scratch: 2, spot: 2 },
      masks: 4,
    });
    const rows = await datasetSummary(dir);
    assertEquals(rows.map((r) => [r.category, r.train, r.testGood, r.testDefective, r.masks, r.complete]), [
      ["synthetic_object", 9, 4, 4, 4, undefined],
      ["synthetic_texture", 9, 4, 4, 4, undefined],
    ]);
    assertEquals(await countCategoryImages(join(dir, "synthetic_texture")), { train: 9, test: 8 });
    const err = await assertRejects(
      () => resolveCategories("synthetic_object,bottle", dir),
      UserError,
      "bottle",
    );
    assertStringIncludes(err.message, "synthetic_texture");
  });
});

Deno.test({
  name: "listCategory on the lite subset: typed, sorted records without masks",
  ignore: !HAS_LITE,
  async fn() {
    const records = await listCategory(LITE, "bottle");
    const train = records.filter((r) => r.split === "train");
    const test = records.filter((r) => r.split === "test");
    assertEquals(train.length, 9);
    assert(train.every((r) => r.label === 0 && r.defectType === "good" && r.category === "bottle"));
    // Sorted by name, whatever order the folder lists them in.
    assertEquals(train.map((r) => r.path.slice(-7)), [...Array(9)].map((_, i) => `00${i}.png`));
    assertEquals(test.map((r) => `${r.defectType}:${r.label}`), [
      "good:0",
      "good:0",
      "good:0",
      "good:0",
      "contamination:1",
      "contamination:1",
      "contamination:1",
      "contamination:1",
    ]);
    assert(records.every((r) => r.maskPath === undefined), "the lite subset has no masks");
    assertEquals(records.indexOf(test[0]), 9, "train records come first");
    assertEquals(categoryCounts(records), {
      train: 9,
      testGood: 4,
      testDefective: 4,
      byDefectType: { contamination: 4 },
      masks: 0,
    });
    assertEquals(await resolveCategories("all", LITE), ["bottle"]);
    assertEquals(await resolveCategories(" bottle ,bottle", LITE), ["bottle"]);
    const err = await assertRejects(() => resolveCategories("bottle,cable", LITE), UserError, "cable");
    assertStringIncludes(err.message, "present in");
    assertStringIncludes(err.message, "bottle");
    const rows = await datasetSummary(LITE);
    assertEquals(rows.length, 1);
    assertEquals(rows[0].complete, false);
    assertEquals(rows[0].official?.train, 209);
    assertEquals(await countCategoryImages(join(LITE, "bottle")), { train: 9, test: 8 });
  },
});

Deno.test("listCategory: masks, defect order, ignored files, deterministic order", async () => {
  await withTmp(async (dir) => {
    await touch(
      dir,
      "widget/train/good/b.png",
      "widget/train/good/a.png",
      "widget/train/good/B.png",
      "widget/train/good/readme.txt",
      "widget/train/good/.hidden.png",
      "widget/test/zebra/000.png",
      "widget/test/good/000.png",
      "widget/test/crack/001.png",
      "widget/test/crack/000.jpg",
      "widget/ground_truth/crack/000_mask.png",
      "widget/ground_truth/zebra/000_mask.png",
      ".extract-tmp-x/train/good/0.png",
      "notacategory/readme.txt",
    );
    const records = await listCategory(dir, "widget");
    assertEquals(
      records.map((r) =>
        `${r.split}/${r.defectType}/${r.path.split(/[\\/]/).pop()}:${r.label}:${!!r.maskPath}`
      ),
      [
        "train/good/B.png:0:false",
        "train/good/a.png:0:false",
        "train/good/b.png:0:false",
        "test/good/000.png:0:false",
        "test/crack/000.jpg:1:true",
        "test/crack/001.png:1:false",
        "test/zebra/000.png:1:true",
      ],
    );
    assertEquals(records[4].maskPath, join(dir, "widget", "ground_truth", "crack", "000_mask.png"));
    assertEquals(categoryCounts(records), {
      train: 3,
      testGood: 1,
      testDefective: 3,
      byDefectType: { crack: 2, zebra: 1 },
      masks: 2,
    });
    // Hidden folders (the extractor's temporary folder) and folders without train/ are not categories.
    assertEquals(await presentCategories(dir), ["widget"]);
    assertEquals(await resolveCategories(["widget"], dir), ["widget"]);
  });
});

Deno.test("presentCategories / resolveCategories: official order first, then others", async () => {
  await withTmp(async (dir) => {
    await touch(dir, "zipper/train/good/0.png", "aaa_custom/train/good/0.png", "bottle/train/good/0.png");
    assertEquals(await presentCategories(dir), ["bottle", "zipper", "aaa_custom"]);
    assertEquals(await resolveCategories("all", dir), ["bottle", "zipper", "aaa_custom"]);
    assertEquals(await resolveCategories("zipper,bottle", dir), ["zipper", "bottle"]);
    await assertRejects(() => resolveCategories(" , ", dir), UserError, "no category selected");
    const err = await assertRejects(() => resolveCategories("bottel", dir), UserError, "bottel");
    assertStringIncludes(err.message, "MVTec AD categories are");
  });
});

Deno.test("mvtec: clear UserErrors for missing folder, missing category, wrong layout, no images", async () => {
  await withTmp(async (dir) => {
    const missing = join(dir, "nope");
    const e1 = await assertRejects(() => listCategory(missing, "bottle"), UserError, "data folder not found");
    assertStringIncludes(e1.message, missing);
    await assertRejects(() => resolveCategories("all", missing), UserError, "not found");

    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await assertRejects(() => resolveCategories("all", empty), UserError, "no category folders");

    await touch(
      dir,
      "data/bottle/train/good/0.png",
      "data/cable/test/good/0.png",
      "data/pill/train/good/x.txt",
    );
    const data = join(dir, "data");
    const e2 = await assertRejects(() => listCategory(data, "screw"), UserError, "category folder not found");
    assertStringIncludes(e2.message, "bottle");
    const e3 = await assertRejects(() => listCategory(data, "cable"), UserError, "wrong layout");
    assertStringIncludes(e3.message, join("cable", "train", "good"));
    const e4 = await assertRejects(() => listCategory(data, "pill"), UserError, "no images in category pill");
    assertStringIncludes(e4.message, join(data, "pill"));
    await touch(dir, "data/tile/train/good/.keep", "data/tile/test/good/0.png");
    await assertRejects(() => listCategory(data, "tile"), UserError, "no training images");
    await Deno.writeTextFile(join(dir, "file"), "x");
    await assertRejects(() => listCategory(join(dir, "file"), "bottle"), UserError, "not a folder");
  });
});
