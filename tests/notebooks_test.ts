// Checks of the committed notebooks (notebooks/*.ipynb): valid nbformat 4 JSON, committed without outputs and
// execution counts, a Deno kernelspec, a first code cell that is the parameters cell reading the SSPCAB_*
// environment variables, relative library imports and no machine paths — and that the code cells, put
// together as one module, type-check against the library (the Deno kernel itself does not type-check).
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { assert, assertEquals, assertMatch } from "./assert.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NOTEBOOKS = join(ROOT, "notebooks");

/** The parameters every notebook's first code cell must read from the environment. */
const REQUIRED_ENV = [
  "SSPCAB_CATEGORY",
  "SSPCAB_DATA_DIR",
  "SSPCAB_SIZE",
  "SSPCAB_STEPS",
  "SSPCAB_BACKEND",
  "SSPCAB_OUTPUT_DIR",
];

interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}

interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: { kernelspec?: { name?: string; language?: string; display_name?: string } };
  cells: Cell[];
}

const text = (source: string | string[]) => (Array.isArray(source) ? source.join("") : source);

async function notebookFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(NOTEBOOKS)) {
    if (e.isFile && e.name.endsWith(".ipynb")) names.push(e.name);
  }
  return names.sort();
}

async function load(name: string): Promise<Notebook> {
  return JSON.parse(await Deno.readTextFile(join(NOTEBOOKS, name)));
}

Deno.test("notebooks: the series exists and is named 0N_name.ipynb", async () => {
  const names = await notebookFiles();
  assert(names.includes("01_data_extraction.ipynb"), `found ${names.join(", ")}`);
  assert(names.includes("02_cutpaste_visualisation.ipynb"), `found ${names.join(", ")}`);
  for (const n of names) {
    assertMatch(n, /^\d\d_[a-z0-9_]+\.ipynb$/, `${n}: name notebooks 0N_snake_case.ipynb`);
  }
});

Deno.test("notebooks: valid nbformat 4, no outputs, no execution counts, Deno kernelspec", async () => {
  for (const name of await notebookFiles()) {
    const nb = await load(name);
    assertEquals(nb.nbformat, 4, `${name}: nbformat`);
    assert(Number.isInteger(nb.nbformat_minor) && nb.nbformat_minor >= 4, `${name}: nbformat_minor`);
    assert(Array.isArray(nb.cells) && nb.cells.length > 0, `${name}: cells`);
    assertEquals(nb.metadata.kernelspec?.name, "deno", `${name}: kernelspec name`);
    assertEquals(nb.metadata.kernelspec?.language, "typescript", `${name}: kernelspec language`);
    assert(typeof nb.metadata.kernelspec?.display_name === "string", `${name}: kernelspec display_name`);
    const ids = new Set<string>();
    nb.cells.forEach((cell, i) => {
      const where = `${name} cell ${i}`;
      assert(["code", "markdown", "raw"].includes(cell.cell_type), `${where}: cell_type ${cell.cell_type}`);
      assert(typeof cell.source === "string" || Array.isArray(cell.source), `${where}: source`);
      assert(cell.metadata && typeof cell.metadata === "object", `${where}: metadata`);
      assert(text(cell.source).trim().length > 0, `${where}: empty cell`);
      if (nb.nbformat_minor >= 5) {
        assert(typeof cell.id === "string" && /^[a-zA-Z0-9_-]{1,64}$/.test(cell.id), `${where}: cell id`);
        assert(!ids.has(cell.id!), `${where}: duplicate cell id ${cell.id}`);
        ids.add(cell.id!);
      }
      if (cell.cell_type === "code") {
        assertEquals(cell.outputs, [], `${where}: commit notebooks without outputs`);
        assertEquals(cell.execution_count, null, `${where}: commit notebooks without execution counts`);
        assert(!("execution" in cell.metadata), `${where}: execution timing metadata`);
      } else {
        assert(!("outputs" in cell) && !("execution_count" in cell), `${where}: markdown cell with outputs`);
      }
    });
  }
});

Deno.test("notebooks: the first code cell is the parameters cell reading SSPCAB_* variables", async () => {
  for (const name of await notebookFiles()) {
    const nb = await load(name);
    const first = nb.cells.find((c) => c.cell_type === "code");
    assert(first, `${name}: no code cell`);
    const src = text(first.source);
    assertMatch(src, /parameters/i, `${name}: the first code cell should say it is the parameters cell`);
    for (const v of REQUIRED_ENV) {
      assertMatch(
        src,
        new RegExp(`(envString|envNumber|Deno\\.env\\.get)\\(\\s*["']${v}["']`),
        `${name}: the parameters cell does not read ${v}`,
      );
    }
    // Parameters only: no data loading or display in that cell.
    assert(!/await\s/.test(src), `${name}: the parameters cell should only set parameters`);
  }
});

Deno.test("notebooks: library imports are relative and no machine paths are committed", async () => {
  for (const name of await notebookFiles()) {
    const raw = await Deno.readTextFile(join(NOTEBOOKS, name));
    assert(!/file:\/\//.test(raw), `${name}: contains a file:// URL`);
    assert(!/["'`(\s](\/(home|root|work|tmp|Users)\/)/.test(raw), `${name}: contains an absolute path`);
    assert(!/jsr:/.test(raw), `${name}: uses a jsr: specifier`);
    const nb = JSON.parse(raw) as Notebook;
    for (const cell of nb.cells.filter((c) => c.cell_type === "code")) {
      for (const m of text(cell.source).matchAll(/from\s+["']([^"']+)["']/g)) {
        const spec = m[1];
        assert(
          spec.startsWith("../lib/") || spec.startsWith("npm:") || spec.startsWith("node:") ||
            spec === "sharp",
          `${name}: import "${spec}" — import the library relatively (../lib/…)`,
        );
      }
    }
  }
});

Deno.test("notebooks: the code cells type-check against the library", async () => {
  const libUrl = pathToFileURL(join(ROOT, "lib")).href;
  const dir = await Deno.makeTempDir({ prefix: "sspcab-nbcheck-" });
  try {
    const files: string[] = [];
    for (const name of await notebookFiles()) {
      const nb = await load(name);
      const body = nb.cells.filter((c) => c.cell_type === "code").map((c, i) =>
        `// ---- code cell ${i + 1}\n${text(c.source).replaceAll(`"../lib/`, `"${libUrl}/`)};\n`
      ).join("\n");
      const file = join(dir, name.replace(/\.ipynb$/, ".ts"));
      await Deno.writeTextFile(file, `${body}\nexport {};\n`);
      files.push(file);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", join(ROOT, "deno.json"), ...files],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const msg = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, `deno check of the notebooks' code failed:\n${msg}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
