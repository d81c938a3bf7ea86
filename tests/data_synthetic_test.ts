// Tests of lib/data/synthetic.ts: layout, determinism (byte-identical files), exact masks, visible and
// learnable defects, speed, and refusal to overwrite foreign folders.
import { join } from "node:path";
import { assert, assertEquals, assertGreater, assertLess, assertNotEquals, assertRejects } from "./assert.ts";
import {
  generateSyntheticDataset,
  renderSyntheticSample,
  SYNTHETIC_CATEGORIES,
  SYNTHETIC_DEFECT_TYPES,
} from "../lib/data/synthetic.ts";
import { categoryCounts, listCategory, resolveCategories } from "../lib/data/mvtec.ts";
import { loadMask, loadRgb } from "../lib/data/images.ts";
import { UserError } from "../lib/util/errors.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readTree(root: string, rel = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(join(root, rel))) entries.push(e);
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await readTree(root, r)) out.set(k, v); }
    else out.set(r, await Deno.readFile(join(root, r)));
  }
  return out;
}

Deno.test("synthetic: MVTec layout with masks, readable by listCategory, fast", async () => {
  await withTmp(async (dir) => {
    const t0 = performance.now();
    const info = await generateSyntheticDataset(dir, { seed: 3 });
    const seconds = (performance.now() - t0) / 1000;
    assertLess(seconds, 10, "default set must generate well under 10 s");
    assertEquals(info.categories, [...SYNTHETIC_CATEGORIES]);
    assertEquals(await resolveCategories("all", dir), ["synthetic_object", "synthetic_texture"]);
    for (const category of SYNTHETIC_CATEGORIES) {
      const records = await listCategory(dir, category);
      const counts = categoryCounts(records);
      assertEquals(counts, {
        train: 16,
        testGood: 6,
        testDefective: 12,
        byDefectType: { scratch: 6, spot: 6 },
        masks: 12,
      });
      const bad = records.filter((r) => r.label === 1);
      assert(bad.every((r) => r.maskPath), "every defective image has a mask");
      const img = await loadRgb(records[0].path);
      assertEquals([img.width, img.height], [128, 128]);
      const mask = await loadMask(bad[0].maskPath!);
      assertEquals([mask.width, mask.height], [128, 128]);
      assertGreater(mask.data.filter((v) => v === 255).length, 20);
    }
    assertEquals(info.files, 2 * (16 + 6 + 12 + 12));
  });
});

Deno.test("synthetic: same seed → byte-identical files; another seed → different images", async () => {
  await withTmp(async (dir) => {
    const opts = { seed: 11, size: 64, trainCount: 3, testGoodCount: 2, testBadCount: 2 };
    await generateSyntheticDataset(join(dir, "a"), opts);
    await generateSyntheticDataset(join(dir, "b"), opts);
    await generateSyntheticDataset(join(dir, "c"), { ...opts, seed: 12 });
    const a = await readTree(join(dir, "a"));
    const b = await readTree(join(dir, "b"));
    const c = await readTree(join(dir, "c"));
    assertEquals([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) assertEquals(v, b.get(k), k);
    const img = "synthetic_texture/train/good/000.png";
    assertNotEquals(a.get(img), c.get(img));
    // Regenerating over an earlier synthetic set replaces it (fewer images: no stale files stay).
    await generateSyntheticDataset(join(dir, "a"), { ...opts, trainCount: 1 });
    assertEquals(categoryCounts(await listCategory(join(dir, "a"), "synthetic_object")).train, 1);
    // Images do not depend on the counts: train image 000 is the same with 1 or 3 training images.
    assertEquals(
      await Deno.readFile(join(dir, "a", "synthetic_object/train/good/000.png")),
      b.get("synthetic_object/train/good/000.png"),
    );
  });
});

Deno.test("synthetic: masks are exact (a pixel is masked iff the defect changed it) and defects are visible", () => {
  for (const category of SYNTHETIC_CATEGORIES) {
    for (const defect of SYNTHETIC_DEFECT_TYPES) {
      for (let seed = 0; seed < 6; seed++) {
        const s = renderSyntheticSample(category, 96, 1000 + seed, defect);
        const mask = s.mask!;
        let inside = 0;
        let changedInside = 0;
        let diffInside = 0;
        for (let p = 0; p < 96 * 96; p++) {
          const i = p * 3;
          const diff = Math.abs(s.image.data[i] - s.clean.data[i]) +
            Math.abs(s.image.data[i + 1] - s.clean.data[i + 1]) +
            Math.abs(s.image.data[i + 2] - s.clean.data[i + 2]);
          if (mask.data[p]) {
            inside++;
            if (diff > 0) changedInside++;
            diffInside += diff;
          } else {
            assertEquals(diff, 0, `${category}/${defect}/${seed}: pixel ${p} changed outside the mask`);
          }
        }
        assertGreater(inside, 15, `${category}/${defect}/${seed}: defect too small`);
        assertEquals(changedInside, inside, `${category}/${defect}/${seed}: masked pixels left unchanged`);
        assertGreater(diffInside / inside, 60, `${category}/${defect}/${seed}: defect not visible enough`);
      }
    }
  }
  // Good images: no mask, the clean image is the image.
  const good = renderSyntheticSample("synthetic_object", 64, 5);
  assertEquals(good.mask, undefined);
  // Pose/lighting vary between good images of a category.
  assertNotEquals(good.image.data, renderSyntheticSample("synthetic_object", 64, 6).image.data);
});

Deno.test("synthetic: refuses unknown categories and foreign folders", async () => {
  await withTmp(async (dir) => {
    await assertRejects(
      () => generateSyntheticDataset(dir, { categories: ["bottle"] }),
      UserError,
      "unknown synthetic category",
    );
    await Deno.mkdir(join(dir, "synthetic_texture", "train", "good"), { recursive: true });
    await Deno.writeTextFile(join(dir, "synthetic_texture", "train", "good", "mine.txt"), "user data");
    await assertRejects(
      () => generateSyntheticDataset(dir, { categories: ["synthetic_texture"], trainCount: 1 }),
      UserError,
      "refusing to overwrite",
    );
    assertEquals(
      await Deno.readTextFile(join(dir, "synthetic_texture", "train", "good", "mine.txt")),
      "user data",
    );
    await assertRejects(() => generateSyntheticDataset(dir, { size: 8 }), UserError, "invalid size");
  });
});
