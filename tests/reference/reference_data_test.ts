/**
 * The committed reference data is well formed: the localization cases keep the schema their consumers read
 * ({ cases: [{ name, height, width, maps, masks, expected: { pixel_auroc, au_pro_0_3 } }] }), and every
 * file the parity and density tests read is present and small.
 */
import { assert, assertEquals } from "../assert.ts";
import { join } from "node:path";
import { readReferenceJson, REFERENCE_DIR } from "../helpers/reference.ts";

interface LocalizationCase {
  name: string;
  height: number;
  width: number;
  maps: number[][];
  masks: number[][];
  expected: { pixel_auroc: number; au_pro_0_3: number };
}

Deno.test("localization reference: cases with flattened maps, 0/1 masks and expected metrics", async () => {
  const doc = await readReferenceJson<{ cases: LocalizationCase[] }>("localization/localization.json");
  assert(doc.cases.length >= 3, "several cases");
  const names = new Set<string>();
  for (const c of doc.cases) {
    assert(!names.has(c.name), `case names are unique (${c.name})`);
    names.add(c.name);
    assertEquals(Object.keys(c).sort(), ["expected", "height", "maps", "masks", "name", "width"], c.name);
    assert(c.maps.length >= 1 && c.maps.length === c.masks.length, `${c.name}: one mask per map`);
    for (let i = 0; i < c.maps.length; i++) {
      assertEquals(c.maps[i].length, c.height * c.width, `${c.name}: map ${i} has height × width values`);
      assertEquals(c.masks[i].length, c.height * c.width, `${c.name}: mask ${i} has height × width values`);
      assert(c.maps[i].every(Number.isFinite), `${c.name}: map ${i} is finite`);
      assert(c.masks[i].every((v) => v === 0 || v === 1), `${c.name}: mask ${i} is 0/1`);
    }
    const all = c.masks.flat();
    assert(all.includes(0) && all.includes(1), `${c.name}: both defect and defect-free pixels`);
    for (const [key, v] of Object.entries(c.expected)) {
      assert(v >= 0 && v <= 1, `${c.name}: ${key} = ${v} is in [0, 1]`);
    }
    assertEquals(Object.keys(c.expected).sort(), ["au_pro_0_3", "pixel_auroc"], c.name);
  }
});

Deno.test("reference data stays small (under 5 MB in all)", async () => {
  let total = 0;
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory && e.name !== "__pycache__") await walk(p);
      else if (e.isFile) total += (await Deno.stat(p)).size;
    }
  };
  await walk(REFERENCE_DIR);
  assert(total < 5 * 1024 * 1024, `tests/reference holds ${total} bytes`);
});
