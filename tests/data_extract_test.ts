// Tests of lib/data/extract.ts: tiny archives are built during the test (with the system tar/xz and with
// a small tar writer below), extracted, re-extracted (idempotent skip), truncated, corrupted and poisoned.
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { extractMvtec, readTar, safeArchivePath } from "../lib/data/extract.ts";
import { listCategory } from "../lib/data/mvtec.ts";
import { UserError } from "../lib/util/errors.ts";

async function hasProgram(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

const HAS_XZ = await hasProgram("xz");
const HAS_TAR = await hasProgram("tar");
if (!HAS_XZ) console.warn("data_extract_test: `xz` not installed; the tests that need it are ignored");

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

async function xzFile(tarPath: string, check = "crc64"): Promise<string> {
  await run("xz", ["-z", "-k", "-f", "-T1", `--check=${check}`, tarPath]);
  return `${tarPath}.xz`;
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

const LONG_NAME = "a_very_long_file_name_".repeat(6) + "end.txt"; // > 100 characters

/** The tree a tiny MVTec-like archive holds: relative path → content. */
function tinyTree(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let seed = 1;
  const add = (p: string, n: number) => files.set(p, bytes(n, seed++));
  for (const cat of ["cat_a", "cat_b"]) {
    for (let i = 0; i < 3; i++) add(`${cat}/train/good/00${i}.png`, 700 + i * 512); // spans blocks
    add(`${cat}/test/good/000.png`, 512); // exactly one block
    add(`${cat}/test/crack/000.png`, 0); // empty file
    add(`${cat}/test/crack/001.png`, 1234);
    add(`${cat}/ground_truth/crack/000_mask.png`, 100);
    add(`${cat}/ground_truth/crack/001_mask.png`, 100);
  }
  add(`cat_a/notes/${LONG_NAME}`, 321);
  add("license.txt", 50);
  return files;
}

const TINY_EXPECTED = { cat_a: { train: 3, test: 3 }, cat_b: { train: 3, test: 3 } };

async function writeTree(root: string, files: Map<string, Uint8Array>): Promise<void> {
  for (const [rel, data] of files) {
    const p = join(root, ...rel.split("/"));
    await Deno.mkdir(join(p, ".."), { recursive: true });
    await Deno.writeFile(p, data);
  }
}

/** Build `<tmp>/<name>.tar` from the tiny tree with the system tar in the given format. */
async function systemTar(tmp: string, format: "gnu" | "posix" | "ustar", name: string): Promise<string> {
  const src = join(tmp, `src-${name}`);
  const tree = tinyTree();
  if (format === "ustar") tree.delete(`cat_a/notes/${LONG_NAME}`); // ustar cannot hold the long name
  await writeTree(src, tree);
  const tarPath = join(tmp, `${name}.tar`);
  await run("tar", [`--format=${format}`, "-cf", tarPath, "-C", src, "--sort=name", "."]);
  return tarPath;
}

async function assertTreeExtracted(dest: string, tree: Map<string, Uint8Array>): Promise<void> {
  for (const [rel, data] of tree) {
    const got = await Deno.readFile(join(dest, ...rel.split("/")));
    assertEquals(got.length, data.length, rel);
    assert(got.every((b, i) => b === data[i]), `content of ${rel}`);
  }
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

// ---- a minimal tar writer, to craft archives the system tar would not write --------------------------------

interface RawEntry {
  name: string;
  type?: string;
  data?: Uint8Array;
  linkname?: string;
}

function header(name: string, type: string, size: number, linkname = ""): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number, len: number) => {
    const b = new TextEncoder().encode(s);
    h.set(b.subarray(0, len), off);
  };
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0");
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(0, 12), 136, 12);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put("ustar\u0000", 257, 6);
  put("00", 263, 2);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  put(oct(sum, 7) + "\u0000", 148, 8);
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

function buildTar(entries: RawEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const pad = (n: number) => new Uint8Array((512 - (n % 512)) % 512);
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    parts.push(header(e.name, e.type ?? "0", data.length, e.linkname ?? ""), data, pad(data.length));
  }
  parts.push(new Uint8Array(1024));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function craftXz(tmp: string, name: string, entries: RawEntry[]): Promise<string> {
  const tarPath = join(tmp, `${name}.tar`);
  await Deno.writeFile(tarPath, buildTar(entries));
  return await xzFile(tarPath);
}

async function* once(data: Uint8Array, chunk = 333): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
}

const quiet = { progress: false, warn: () => {} } as const;

// ---- tests ---------------------------------------------------------------------------------------------------

Deno.test({
  name: "extract: GNU tar.xz (wasm decoder) → categories in place; second run skips",
  ignore: !HAS_XZ || !HAS_TAR,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const archive = await xzFile(await systemTar(tmp, "gnu", "gnu"));
      const dest = join(tmp, "data");
      const r1 = await extractMvtec(archive, dest, {
        ...quiet,
        expectedCounts: TINY_EXPECTED,
        decoder: "wasm",
      });
      assertEquals(r1.skipped, false);
      assertEquals(r1.categories, ["cat_a", "cat_b"]);
      assertEquals(r1.counts, TINY_EXPECTED);
      assertEquals(r1.mismatches, []);
      assertEquals(r1.files, tinyTree().size);
      await assertTreeExtracted(dest, tinyTree());
      // No temporary folder is left; only the categories, the top-level file and the marker.
      assertEquals(await listNames(dest), [".mvtec-extract.json", "cat_a", "cat_b", "license.txt"]);
      const records = await listCategory(dest, "cat_a");
      assertEquals(records.filter((r) => r.maskPath).length, 2);

      const r2 = await extractMvtec(archive, dest, { ...quiet, expectedCounts: TINY_EXPECTED });
      assertEquals(r2.skipped, true);
      assertEquals(r2.files, 0);
      assertEquals(r2.counts, TINY_EXPECTED);
      // A removed image makes the next run extract again (and restore it).
      await Deno.remove(join(dest, "cat_b", "train", "good", "000.png"));
      const r3 = await extractMvtec(archive, dest, { ...quiet, expectedCounts: TINY_EXPECTED });
      assertEquals(r3.skipped, false);
      await assertTreeExtracted(dest, tinyTree());
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "extract: pax (posix) tar.xz via system xz, ustar, plain .tar, and no count check",
  ignore: !HAS_XZ || !HAS_TAR,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const pax = await xzFile(await systemTar(tmp, "posix", "pax"));
      const d1 = join(tmp, "d1");
      const r1 = await extractMvtec(pax, d1, { ...quiet, expectedCounts: TINY_EXPECTED, decoder: "system" });
      assertEquals(r1.categories, ["cat_a", "cat_b"]);
      await assertTreeExtracted(d1, tinyTree());

      const d2 = join(tmp, "d2");
      await extractMvtec(pax, d2, { ...quiet, expectedCounts: TINY_EXPECTED, decoder: "wasm" });
      await assertTreeExtracted(d2, tinyTree());

      const ustarTar = await systemTar(tmp, "ustar", "ustar");
      const ustarTree = tinyTree();
      ustarTree.delete(`cat_a/notes/${LONG_NAME}`);
      const d3 = join(tmp, "d3");
      await extractMvtec(await xzFile(ustarTar), d3, { ...quiet, expectedCounts: TINY_EXPECTED });
      await assertTreeExtracted(d3, ustarTree);

      // SHA-256 checks: the wasm decoder cannot verify them; "auto" falls back to the system xz.
      const sha = await xzFile(await systemTar(tmp, "gnu", "sha"), "sha256");
      await assertRejects(
        () =>
          extractMvtec(sha, join(tmp, "d5"), { ...quiet, expectedCounts: TINY_EXPECTED, decoder: "wasm" }),
        UserError,
        "SHA-256",
      );
      const warnings: string[] = [];
      const r5 = await extractMvtec(sha, join(tmp, "d5"), {
        progress: false,
        expectedCounts: TINY_EXPECTED,
        warn: (m) => warnings.push(m),
      });
      assertEquals(r5.skipped, false);
      assert(warnings.some((w) => w.includes("system xz")), warnings.join("\n"));
      await assertTreeExtracted(join(tmp, "d5"), tinyTree());

      // An uncompressed tar is accepted too; expectedCounts: null skips the check (and still allows a skip).
      const d4 = join(tmp, "d4");
      const r4 = await extractMvtec(ustarTar, d4, { ...quiet, expectedCounts: null });
      assertEquals(r4.mismatches, []);
      await assertTreeExtracted(d4, ustarTree);
      assertEquals((await extractMvtec(ustarTar, d4, { ...quiet, expectedCounts: null })).skipped, true);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "extract: truncated or corrupt archive → clear UserError, no category left behind",
  ignore: !HAS_XZ || !HAS_TAR,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const archive = await xzFile(await systemTar(tmp, "gnu", "full"));
      const full = await Deno.readFile(archive);
      const truncated = join(tmp, "truncated.tar.xz");
      await Deno.writeFile(truncated, full.subarray(0, Math.floor(full.length * 0.6)));
      const corrupt = join(tmp, "corrupt.tar.xz");
      const bad = full.slice();
      for (let i = 0; i < 8; i++) bad[Math.floor(bad.length / 2) + i] ^= 0x5a;
      await Deno.writeFile(corrupt, bad);

      for (const decoder of ["wasm", "system"] as const) {
        for (
          const [file, words] of [[truncated, /truncated|end of input/i], [corrupt, /corrupt/i]] as const
        ) {
          const dest = join(tmp, `dest-${decoder}-${file === truncated ? "t" : "c"}`);
          // A category already in place must survive a failed extraction untouched.
          await Deno.mkdir(join(dest, "cat_b"), { recursive: true });
          await Deno.writeTextFile(join(dest, "cat_b", "keep.txt"), "keep");
          const err = await assertRejects(
            () => extractMvtec(file, dest, { ...quiet, expectedCounts: TINY_EXPECTED, decoder }),
            UserError,
          );
          assertStringIncludes(err.message, file);
          assert(words.test(err.message), `${decoder}: ${err.message}`);
          assertEquals(await listNames(dest), ["cat_b"], `${decoder}: dest after failure`);
          assertEquals(await listNames(join(dest, "cat_b")), ["keep.txt"]);
        }
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "extract: malicious entries (.., absolute path, links out) are refused; nothing written outside",
  ignore: !HAS_XZ,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const good = (name: string) => ({ name, data: bytes(10, 7) });
      const absTarget = join(tmp, "abs-evil.txt");
      const cases: [string, RawEntry[], RegExp][] = [
        ["dotdot", [good("cat_a/train/good/0.png"), { name: "../evil.txt", data: bytes(5, 1) }], /'\.\.'/],
        ["nested-dotdot", [good("cat_a/train/good/0.png"), {
          name: "cat_a/../../evil.txt",
          data: bytes(5, 1),
        }], /'\.\.'/],
        ["absolute", [good("cat_a/train/good/0.png"), { name: absTarget, data: bytes(5, 1) }], /absolute/],
        ["symlink-out", [good("cat_a/train/good/0.png"), {
          name: "cat_a/train/good/link.png",
          type: "2",
          linkname: "../../../../evil.txt",
        }], /outside/],
        ["symlink-abs", [good("cat_a/train/good/0.png"), {
          name: "cat_a/train/good/link.png",
          type: "2",
          linkname: "/etc/passwd",
        }], /outside/],
        ["hardlink-out", [good("cat_a/train/good/0.png"), {
          name: "cat_a/train/good/hl.png",
          type: "1",
          linkname: "../evil.txt",
        }], /outside/],
      ];
      for (const [name, entries, why] of cases) {
        const archive = await craftXz(tmp, name, entries);
        const dest = join(tmp, `dest-${name}`);
        const err = await assertRejects(
          () => extractMvtec(archive, dest, { ...quiet, expectedCounts: null }),
          UserError,
          "refusing",
        );
        assert(why.test(err.message), `${name}: ${err.message}`);
        assertStringIncludes(err.message, archive);
        assertEquals(await listNames(dest), [], `${name}: nothing may stay in the destination`);
        assert(!(await exists(join(tmp, "evil.txt"))), `${name}: wrote outside`);
        assert(!(await exists(absTarget)), `${name}: wrote to the absolute path`);
      }
      // Links that stay inside are materialised as plain copies (never as symlinks).
      const archive = await craftXz(tmp, "inside-links", [
        good("cat_a/train/good/0.png"),
        { name: "cat_a/train/good/1.png", type: "2", linkname: "0.png" },
        { name: "cat_a/test/good/0.png", type: "1", linkname: "cat_a/train/good/0.png" },
      ]);
      const dest = join(tmp, "dest-inside");
      const r = await extractMvtec(archive, dest, {
        ...quiet,
        expectedCounts: { cat_a: { train: 2, test: 1 } },
      });
      assertEquals(r.counts, { cat_a: { train: 2, test: 1 } });
      const st = await Deno.lstat(join(dest, "cat_a", "train", "good", "1.png"));
      assert(st.isFile && !st.isSymlink);
      assertEquals(await Deno.readFile(join(dest, "cat_a", "test", "good", "0.png")), bytes(10, 7));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "extract: count mismatch errors (or warns), bad inputs give UserErrors",
  ignore: !HAS_XZ || !HAS_TAR,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const archive = await xzFile(await systemTar(tmp, "gnu", "mm"));
      const wrong = {
        cat_a: { train: 4, test: 3 },
        cat_b: { train: 3, test: 3 },
        cat_c: { train: 1, test: 1 },
      };
      const err = await assertRejects(
        () => extractMvtec(archive, join(tmp, "d1"), { ...quiet, expectedCounts: wrong }),
        UserError,
        "differ from the expected",
      );
      assertStringIncludes(err.message, "cat_a: found 3 train / 3 test images, expected 4 / 3");
      assertStringIncludes(err.message, "cat_c: missing");
      const warnings: string[] = [];
      const r = await extractMvtec(archive, join(tmp, "d2"), {
        progress: false,
        expectedCounts: wrong,
        strictCounts: false,
        warn: (m) => warnings.push(m),
      });
      assertEquals(r.mismatches.length, 2);
      assert(warnings.some((w) => w.includes("cat_a: found")));

      await assertRejects(
        () => extractMvtec(join(tmp, "nope.tar.xz"), join(tmp, "d3"), quiet),
        UserError,
        "archive not found",
      );
      const notXz = join(tmp, "not.tar.xz");
      await Deno.writeTextFile(notXz, "hello, this is not an archive");
      await assertRejects(
        () => extractMvtec(notXz, join(tmp, "d4"), quiet),
        UserError,
        "not an xz-compressed",
      );
      const empty = join(tmp, "empty.tar.xz");
      await Deno.writeFile(empty, new Uint8Array(0));
      await assertRejects(() => extractMvtec(empty, join(tmp, "d5"), quiet), UserError, "empty");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("readTar: pax path and GNU long name records, bad checksum, missing end marker", async () => {
  const long = "dir/" + "x".repeat(150) + ".bin";
  const data = bytes(600, 3);
  const paxData = new TextEncoder().encode(paxRecord("path", long));
  const gnuName = new TextEncoder().encode("gnu/" + "y".repeat(120) + ".bin\u0000");
  const tar = buildTar([
    { name: "PaxHeaders/x", type: "x", data: paxData },
    { name: "short-name-ignored", data },
    { name: "././@LongLink", type: "L", data: gnuName },
    { name: "truncated-name", data: bytes(3, 4) },
    { name: "folder/", type: "5" },
  ]);
  const seen: { path: string; type: string; size: number; first?: number }[] = [];
  for await (const { entry, body } of readTar(once(tar))) {
    let first: number | undefined;
    for await (const chunk of body) {
      first ??= chunk[0];
      break; // leaving data unread must be fine
    }
    seen.push({ path: entry.path, type: entry.type, size: entry.size, first });
  }
  assertEquals(seen, [
    { path: long, type: "file", size: 600, first: data[0] },
    { path: "gnu/" + "y".repeat(120) + ".bin", type: "file", size: 3, first: bytes(3, 4)[0] },
    { path: "folder/", type: "directory", size: 0, first: undefined },
  ]);

  const broken = tar.slice();
  broken[3] ^= 1; // header byte changed, checksum no longer matches
  await assertRejects(
    async () => {
      for await (const _ of readTar(once(broken))) { /* read */ }
    },
    Error,
    "checksum",
  );
  await assertRejects(
    async () => {
      for await (const _ of readTar(once(tar.subarray(0, 512 * 3)))) { /* read */ }
    },
    Error,
    "end of",
  );
});

Deno.test("safeArchivePath: normalises harmless names, refuses escaping ones", () => {
  assertEquals(safeArchivePath("./bottle/train/good/000.png", "a.tar"), "bottle/train/good/000.png");
  assertEquals(safeArchivePath("bottle//test/", "a.tar"), "bottle/test");
  assertEquals(safeArchivePath("./", "a.tar"), "");
  for (const bad of ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", "a\u0000b", "a/.."]) {
    let threw = false;
    try {
      safeArchivePath(bad, "a.tar");
    } catch (err) {
      threw = err instanceof UserError && err.message.includes("refusing");
    }
    assert(threw, `should refuse ${JSON.stringify(bad)}`);
  }
});
