// Tests of lib/report without Jupyter or a browser: CSV results tables, splicing nbconvert pages into one
// self-contained report (external resources removed, ids prefixed), the failure message naming notebook and
// cell, the driver-event plumbing of executeNotebook (with a stand-in for Python), notebook discovery and the
// environment passed to the kernel.
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./assert.ts";
import { parseCsv, readResultTables } from "../lib/report/results.ts";
import {
  bodyAttributes,
  buildReportHtml,
  externalResources,
  extractBody,
  extractStyles,
  formatDuration,
  notebookTitle,
  prefixIds,
  type ReportInput,
  stripExternalResources,
} from "../lib/report/html.ts";
import { codeCellNumber, executeNotebook, formatFailure, stripAnsi } from "../lib/report/execute.ts";
import { findJupyterPython, shebangInterpreter, whichOnPath } from "../lib/report/jupyter.ts";
import { findChromium } from "../lib/report/screenshot.ts";
import { listNotebooks, notebookEnv, progressPrinter } from "../lib/report/run.ts";
import { DRIVER_PY } from "../lib/report/driver.ts";
import { UserError } from "../lib/util/errors.ts";
import {
  formatSecondsPerImage,
  localizationCategoryOf,
  localizationPlotPath,
  readLocalizationSection,
} from "../lib/report/localization.ts";
import {
  type LocalizationFile,
  type LocalizationMethodResult,
  localizationPath,
  writeLocalization,
} from "../lib/io/localization_file.ts";
import { plotDir } from "../lib/pipeline/run_eval.ts";
import { runDirs } from "../lib/notebook/run_dirs.ts";
import { svgToPng } from "../lib/plot/png.ts";

Deno.test("results: parseCsv handles quotes, escaped quotes, commas, CRLF and a missing final newline", () => {
  assertEquals(parseCsv('a,b,c\r\n1,"x, y","say ""hi"""\n2,,3'), [
    ["a", "b", "c"],
    ["1", "x, y", 'say "hi"'],
    ["2", "", "3"],
  ]);
  assertEquals(parseCsv("h\n\n"), [["h"]]);
  assertEquals(parseCsv('"multi\nline",2\n'), [["multi\nline", "2"]]);
});

Deno.test("results: readResultTables finds CSVs under the output folder, models_perf.csv first, skips data", async () => {
  const out = await Deno.makeTempDir({ prefix: "sspcab-results-" });
  try {
    assertEquals(await readResultTables(out), []);
    await Deno.mkdir(join(out, "models"), { recursive: true });
    await Deno.mkdir(join(out, "a_run", "models"), { recursive: true });
    await Deno.mkdir(join(out, "synthetic", "x"), { recursive: true });
    await Deno.mkdir(join(out, "report"), { recursive: true });
    await Deno.writeTextFile(join(out, "a_run", "models", "models_perf.csv"), "category,roc_auc\nwood,0.9\n");
    await Deno.writeTextFile(
      join(out, "models", "models_perf.csv"),
      "category,roc_auc\nbottle,0.99\nmean,0.99\n",
    );
    await Deno.writeTextFile(join(out, "synthetic", "x", "data.csv"), "not,results\n");
    await Deno.writeTextFile(join(out, "report", "old.csv"), "not,results\n");
    const rows = Array.from({ length: 70 }, (_, i) => `c${i},${i}`).join("\n");
    await Deno.writeTextFile(join(out, "long.csv"), `k,v\n${rows}\n`);
    const tables = await readResultTables(out, { shownDir: "outputs", maxRows: 60 });
    assertEquals(tables.map((t) => t.caption), [
      "outputs/models/models_perf.csv",
      "outputs/a_run/models/models_perf.csv",
      "outputs/long.csv",
    ]);
    assertEquals(tables[0].headers, ["category", "roc_auc"]);
    assertEquals(tables[0].rows, [["bottle", "0.99"], ["mean", "0.99"]]);
    assertEquals(tables[2].rows.length, 60);
    assertEquals(tables[2].note, "first 60 of 70 rows");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const NBCONVERT_PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Notebook</title>
<script src="file:///usr/share/javascript/requirejs/require.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>
<link rel="stylesheet" href="https://cdn.example.org/x.css">
<link rel="icon" href="data:image/png;base64,AAAA">
<style type="text/css">:root { --jp-x: 1; }</style>
<style type="text/css">.jp-Cell { margin: 0; }</style>
<!-- Load mathjax -->
<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"> </script>
<script type="text/x-mathjax-config">init_mathjax = function() {}; init_mathjax();</script>
<!-- End of mathjax configuration --></head>
<body class="jp-Notebook" data-jp-theme-light="true">
<h1 id="Title">Title<a class="anchor-link" href="#Title">¶</a></h1>
<svg width="10" height="10"><defs><clipPath id="clip-1"><rect width="5" height="5"/></clipPath></defs><g clip-path="url(#clip-1)"><path d="M0 0"/></g></svg>
<img src="data:image/png;base64,iVBOR">
<script>console.log("inline stays")</script>
</body></html>`;

Deno.test("html: styles, body and body attributes are extracted from an nbconvert page", () => {
  assertEquals(extractStyles(NBCONVERT_PAGE).length, 2);
  assertStringIncludes(extractBody(NBCONVERT_PAGE), '<h1 id="Title">');
  assert(!extractBody(NBCONVERT_PAGE).includes("<head>"));
  assertEquals(bodyAttributes(NBCONVERT_PAGE), 'class="jp-Notebook" data-jp-theme-light="true"');
  assertEquals(extractBody("<p>x</p>"), "<p>x</p>");
});

Deno.test("html: external scripts, stylesheets and MathJax are removed; data: URLs and inline scripts stay", () => {
  assertEquals(externalResources(NBCONVERT_PAGE).length, 4);
  const clean = stripExternalResources(NBCONVERT_PAGE);
  assertEquals(externalResources(clean), []);
  assert(!/<script[^>]*src="(https?|file):/.test(clean));
  assert(!/<link[^>]*href="https?:/.test(clean));
  assert(!clean.includes("x-mathjax-config"));
  assertStringIncludes(clean, 'href="data:image/png;base64,AAAA"');
  assertStringIncludes(clean, 'console.log("inline stays")');
  assertStringIncludes(clean, 'src="data:image/png;base64,iVBOR"');
  assertEquals(externalResources('<img src="pic.png"><style>@import url("https://x/y.css");</style>'), [
    "pic.png",
    "https://x/y.css",
  ]);
});

Deno.test("html: prefixIds rewrites ids and their references (anchors, SVG url(#…)) consistently", () => {
  const out = prefixIds(extractBody(NBCONVERT_PAGE), "nb-01");
  assertStringIncludes(out, 'id="nb-01-Title"');
  assertStringIncludes(out, 'href="#nb-01-Title"');
  assertStringIncludes(out, 'id="nb-01-clip-1"');
  assertStringIncludes(out, "url(#nb-01-clip-1)");
  assertEquals(prefixIds('<a href="#elsewhere">x</a>', "p"), '<a href="#elsewhere">x</a>');
});

function reportInput(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    title: "Report <test>",
    startedAt: new Date("2024-01-02T03:04:05.678Z"),
    totalSeconds: 75,
    params: { SSPCAB_SIZE: "128", SSPCAB_CATEGORY: "" },
    backend: { requested: "auto" },
    facts: { data: "outputs/synthetic (synthetic)" },
    versions: { Deno: "2.0.0" },
    results: [],
    resultsHint: "no results files under outputs/ yet",
    sections: [
      { name: "01_a", title: "First", html: NBCONVERT_PAGE, codeCells: 3, seconds: 1.25 },
      { name: "02_b", title: "Second", html: NBCONVERT_PAGE, codeCells: 4, seconds: 2 },
    ],
    ...overrides,
  };
}

Deno.test("html: buildReportHtml makes one self-contained document with a title page and one section per notebook", () => {
  const html = buildReportHtml(reportInput());
  assertEquals(externalResources(html), []);
  assertEquals((html.match(/<html/g) ?? []).length, 1);
  assertEquals((html.match(/<body/g) ?? []).length, 1);
  assertStringIncludes(html, '<body class="jp-Notebook" data-jp-theme-light="true">');
  assertStringIncludes(html, "<title>Report &lt;test&gt;</title>");
  assertStringIncludes(html, "2024-01-02 03:04:05 UTC");
  assertStringIncludes(html, "(default)");
  assertStringIncludes(html, "not reported");
  assertStringIncludes(html, "outputs/synthetic (synthetic)");
  assertStringIncludes(html, "1 min 15 s");
  assertStringIncludes(html, "None: no results files under outputs/ yet");
  assertStringIncludes(html, '<section class="report-section" id="nb-01_a"');
  assertStringIncludes(html, '<section class="report-section" id="nb-02_b"');
  assertStringIncludes(html, 'href="#nb-01_a"');
  // Notebook styles kept once, ids unique across sections.
  assertEquals((html.match(/--jp-x: 1/g) ?? []).length, 1);
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assertEquals(ids.length, new Set(ids).size, "duplicate ids");
  const withResults = buildReportHtml(reportInput({
    backend: { requested: "wasm", used: "wasm (SIMD)" },
    results: [{
      caption: "outputs/models/models_perf.csv",
      headers: ["category", "roc_auc"],
      rows: [["bottle", "0.99"]],
    }],
  }));
  assertStringIncludes(withResults, "wasm (SIMD)");
  assertStringIncludes(withResults, '<td class="num">0.99</td>');
  assert(!withResults.includes("None:"));
});

Deno.test("html: notebookTitle reads the first heading; formatDuration", () => {
  assertEquals(
    notebookTitle({
      cells: [{ cell_type: "code", source: "# x" }, {
        cell_type: "markdown",
        source: ["intro\n", "# 01 · Data\n"],
      }],
    }),
    "01 · Data",
  );
  assertEquals(notebookTitle({ cells: [] }), null);
  assertEquals(formatDuration(3.14), "3.1 s");
  assertEquals(formatDuration(125), "2 min 05 s");
  assertEquals(formatDuration(7260), "2 h 1 min");
});

Deno.test("execute: formatFailure names the notebook, the cell (index, code cell, first line) and the error", () => {
  const msg = formatFailure({
    notebook: "notebooks/02_cutpaste_visualisation.ipynb",
    index: 6,
    codeCell: 4,
    firstLine: "const batch = buildBatch(plan, train, 0);",
    kind: "error",
    ename: "TypeError",
    evalue: "Cannot read properties of undefined (reading 'width')",
    traceback: [
      "\x1b[31mTypeError: Cannot read properties of undefined (reading 'width')\x1b[0m",
      "    at buildBatch (batch_plan.ts:70:5)",
    ],
  });
  assertStringIncludes(
    msg,
    "notebook notebooks/02_cutpaste_visualisation.ipynb failed at cell 6 (code cell 4)",
  );
  assertStringIncludes(msg, "`const batch = buildBatch(plan, train, 0);`");
  assertStringIncludes(msg, "TypeError: Cannot read properties of undefined (reading 'width')");
  assertStringIncludes(msg, "at buildBatch (batch_plan.ts:70:5)");
  assert(!msg.includes("\x1b["));
  assertEquals((msg.match(/TypeError/g) ?? []).length, 1, "the traceback's first line repeats the error");
  const timeout = formatFailure({
    notebook: "n",
    index: 2,
    firstLine: "x",
    kind: "timeout",
    ename: "",
    evalue: "",
    traceback: [],
  });
  assertStringIncludes(timeout, "ran past the timeout");
  const dead = formatFailure({
    notebook: "n",
    index: null,
    firstLine: "",
    kind: "kernel",
    ename: "DeadKernelError",
    evalue: "died",
    traceback: [],
  });
  assertStringIncludes(dead, "before its first cell ran");
  assertEquals(stripAnsi("\x1b[1m\x1b[31mx\x1b[0m"), "x");
  const cells = [{ cell_type: "markdown" }, { cell_type: "code" }, { cell_type: "markdown" }, {
    cell_type: "code",
  }];
  assertEquals(codeCellNumber(cells, 3), 2);
  assertEquals(codeCellNumber(cells, 2), undefined);
});

/** A stand-in for Python: ignores the driver, prints the given events and exits with `code`. */
async function fakePython(dir: string, events: object[], code: number): Promise<string> {
  const path = join(dir, "fake-python");
  const lines = events.map((e) => `echo '${JSON.stringify(e)}'`).join("\n");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ncat > /dev/null\necho "kernel chatter" >&2\n${lines}\nexit ${code}\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test({
  name:
    "execute: driver events become cell timings, and an error event a CellFailure with its code-cell number",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab-exec-" });
    try {
      const nb = join(dir, "01_x.ipynb");
      await Deno.writeTextFile(
        nb,
        JSON.stringify({
          cells: [
            { cell_type: "markdown", source: "# t" },
            { cell_type: "code", source: "const a = 1;" },
            { cell_type: "markdown", source: "x" },
            { cell_type: "code", source: 'throw new Error("boom")' },
          ],
        }),
      );
      const okPy = await fakePython(dir, [
        { event: "start", cells: 4, code_cells: 2, kernel: "deno" },
        { event: "cell_start", index: 1, first_line: "const a = 1;" },
        { event: "cell_done", index: 1, seconds: 0.5 },
        { event: "html", path: join(dir, "x.html") },
        { event: "done" },
      ], 0);
      const seen: string[] = [];
      const ok = await executeNotebook({
        python: okPy,
        notebook: nb,
        output: join(dir, "o.ipynb"),
        cwd: dir,
        onEvent: (e) => seen.push(e.event),
      });
      assert(ok.ok);
      assertEquals(ok.cellTimes, [{ index: 1, firstLine: "const a = 1;", seconds: 0.5 }]);
      assertEquals(ok.htmlPath, join(dir, "x.html"));
      assertEquals([ok.cells, ok.codeCells], [4, 2]);
      assertEquals(seen, ["start", "cell_start", "cell_done", "html", "done"]);

      const badPy = await fakePython(dir, [
        { event: "cell_start", index: 3, first_line: 'throw new Error("boom")' },
        {
          event: "error",
          index: 3,
          first_line: 'throw new Error("boom")',
          kind: "error",
          ename: "Error",
          evalue: "boom",
          traceback: ["Error: boom", "    at <anonymous>:1:7"],
        },
      ], 1);
      const bad = await executeNotebook({
        python: badPy,
        notebook: nb,
        output: join(dir, "o.ipynb"),
        cwd: dir,
      });
      assert(!bad.ok);
      assertEquals(bad.failure?.index, 3);
      assertEquals(bad.failure?.codeCell, 2);
      assertStringIncludes(
        formatFailure(bad.failure!),
        'failed at cell 3 (code cell 2): `throw new Error("boom")`',
      );
      assertStringIncludes(bad.stderr, "kernel chatter");

      const crashPy = await fakePython(dir, [{ event: "start", cells: 4, code_cells: 2, kernel: "deno" }], 3);
      const crash = await executeNotebook({
        python: crashPy,
        notebook: nb,
        output: join(dir, "o.ipynb"),
        cwd: dir,
      });
      assertEquals(crash.failure?.kind, "kernel");
      assertEquals(crash.failure?.index, null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("driver: the Python script handles failures, late outputs and keeps SVG outputs", () => {
  for (
    const needle of [
      "CellExecutionError",
      "CellTimeoutError",
      "DeadKernelError",
      "_async_poll_output_msg",
      '"clean_html"',
      'nbformat.write(nb, cfg["output"])',
    ]
  ) {
    assertStringIncludes(DRIVER_PY, needle);
  }
  assert(!DRIVER_PY.includes("\t"), "no tabs in the Python source");
});

Deno.test("jupyter: shebang interpreters and PATH lookup", async () => {
  assertEquals(shebangInterpreter("#!/usr/bin/python3"), "/usr/bin/python3");
  assertEquals(shebangInterpreter("#!/usr/bin/env python3"), "python3");
  assertEquals(shebangInterpreter("#! /opt/py/bin/python3.11 -I"), "/opt/py/bin/python3.11");
  assertEquals(shebangInterpreter("import sys"), null);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "tool"), "#!/bin/sh\n");
    await Deno.chmod(join(dir, "tool"), 0o755);
    assertEquals(await whichOnPath("tool", `/nonexistent:${dir}`), join(dir, "tool"));
    assertEquals(await whichOnPath("no-such-tool-xyz", dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jupyter/screenshot: SSPCAB_PYTHON and SSPCAB_CHROMIUM are used first", async () => {
  const dir = await Deno.makeTempDir();
  const before = { py: Deno.env.get("SSPCAB_PYTHON"), chromium: Deno.env.get("SSPCAB_CHROMIUM") };
  const restore = (name: string, v: string | undefined) =>
    v === undefined ? Deno.env.delete(name) : Deno.env.set(name, v);
  try {
    // A stand-in Python that "imports nbclient" (exits 0) and records that it was asked.
    const fake = join(dir, "fake-python");
    await Deno.writeTextFile(fake, `#!/bin/sh\necho "$@" > "${join(dir, "asked")}"\nexit 0\n`);
    await Deno.chmod(fake, 0o755);
    Deno.env.set("SSPCAB_PYTHON", ` ${fake} `);
    assertEquals(await findJupyterPython(), fake);
    assertStringIncludes(await Deno.readTextFile(join(dir, "asked")), "import nbclient");
    Deno.env.set("SSPCAB_CHROMIUM", "my-browsers/chromium");
    assertEquals(await findChromium(), "my-browsers/chromium");
  } finally {
    restore("SSPCAB_PYTHON", before.py);
    restore("SSPCAB_CHROMIUM", before.chromium);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: listNotebooks sorts 0*.ipynb, filters by prefix and explains an empty selection", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of ["02_b.ipynb", "01_a.ipynb", "10_late.ipynb", "notes.md", "03_c.ipynb"]) {
      await Deno.writeTextFile(join(dir, n), "{}");
    }
    assertEquals((await listNotebooks(dir)).map((p) => p.slice(dir.length + 1)), [
      "01_a.ipynb",
      "02_b.ipynb",
      "03_c.ipynb",
    ]);
    assertEquals((await listNotebooks(dir, ["02", "03"])).length, 2);
    await assertRejects(
      () => listNotebooks(dir, ["05"]),
      UserError,
      "present: 01_a.ipynb, 02_b.ipynb, 03_c.ipynb",
    );
    await assertRejects(() => listNotebooks(join(dir, "missing")), UserError, "notebook folder not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: notebookEnv sets the given parameters, the output folder and the facts file only", () => {
  const env = notebookEnv({ size: 128, category: "", backend: "wasm" }, "outputs", "/tmp/f.json", {
    PATH: "/bin",
    SSPCAB_CATEGORY: "bottle",
    SSPCAB_OUTPUT_DIR: "elsewhere",
  });
  assertEquals(env.PATH, "/bin");
  assertEquals(env.SSPCAB_SIZE, "128");
  assertEquals(env.SSPCAB_BACKEND, "wasm");
  assertEquals(env.SSPCAB_CATEGORY, "bottle", "an empty flag keeps the environment's value");
  assertEquals(env.SSPCAB_OUTPUT_DIR, "outputs");
  assertEquals(env.SSPCAB_REPORT_FACTS, "/tmp/f.json");
  assert(!("SSPCAB_STEPS" in env));
});

Deno.test("run: progressPrinter prints a header and one line per finished cell with its first line", () => {
  const lines: string[] = [];
  const p = progressPrinter("01_x", (l) => lines.push(l));
  p({ event: "start", code_cells: 2, kernel: "deno" });
  p({ event: "cell_start", index: 1, first_line: "const a = 1;" });
  p({ event: "cell_done", index: 1, seconds: 1.234 });
  assertEquals(lines.length, 2);
  assertMatch(lines[0], /▶ 01_x: 2 code cells \(kernel deno\)/);
  assertMatch(lines[1], /✓ cell {2}1 +1\.2 s {2}const a = 1;/);
  p({ event: "cell_start", index: 2, first_line: "boom()" });
  p({ event: "cell_done", index: 2, seconds: 0.1, status: "error" });
  assertMatch(lines[2], /✗ cell {2}2 .*boom\(\)/);
});

function locFile(
  overrides: Partial<LocalizationMethodResult & { category: string; n_images: number }> = {},
): LocalizationFile {
  const { category = "bottle", n_images = 83, ...method } = overrides;
  return {
    category,
    map_size: 64,
    n_images,
    mask_resize: "nearest",
    methods: [{
      method: "gradcam",
      options: { sigma: 4, layer: "layer4" },
      pixel_auroc: 0.91234,
      au_pro: 0.70016,
      pro_limit: 0.3,
      pixel_f1: 0.41239,
      pixel_threshold: 0.5,
      image_auroc_of_max: 0.87,
      seconds_per_image: 0.012345,
      ...method,
    }],
  };
}

Deno.test("localization: file names are recognised with the owner module's naming; plots in eval's plot folder", () => {
  const dir = join("out", "models");
  assertEquals(localizationCategoryOf(localizationPath(dir, "bottle")), "bottle");
  assertEquals(localizationCategoryOf(localizationPath(dir, "metal_nut")), "metal_nut");
  assertEquals(localizationCategoryOf(join(dir, "model-bottle.scores.json")), null);
  assertEquals(localizationCategoryOf(join(dir, "bottle.localization.json")), null);
  assertEquals(localizationCategoryOf(join(dir, "model-.localization.json")), null);
  assertEquals(
    localizationPlotPath(dir, "bottle", "patch"),
    join(plotDir(dir, "bottle"), "localization_patch.png"),
  );
  assertEquals(formatSecondsPerImage(0.012345), "0.0123");
  assertEquals(formatSecondsPerImage(2.5), "2.50");
  assertEquals(formatSecondsPerImage(0), "0");
});

Deno.test("localization: the title page shows a Localisation table and the heatmap grids written where notebook 04 and eval write them", async () => {
  const out = await Deno.makeTempDir({ prefix: "sspcab-loc-" });
  try {
    // No localisation file: no localisation part, the title page is unchanged.
    await Deno.mkdir(join(out, "models"), { recursive: true });
    await Deno.writeTextFile(join(out, "models", "models_perf.csv"), "category,roc_auc\nbottle,0.99\n");
    assertEquals(await readLocalizationSection(out), null);
    const results = await readResultTables(out, { shownDir: "outputs" });
    const plain = buildReportHtml(reportInput({ results }));
    assertEquals(buildReportHtml(reportInput({ results, localization: null })), plain);
    assert(!plain.includes("Localisation"));

    // The model folder notebook 04 uses for SSPCAB_OUTPUT_DIR=out (the report runs it with that variable).
    const modelDir = runDirs(out, "bottle").modelDir;
    assertEquals(modelDir, join(out, "models"));
    await writeLocalization(localizationPath(modelDir, "bottle"), locFile());
    await writeLocalization(
      localizationPath(modelDir, "wood"),
      locFile({ category: "wood", method: "sspcab", pixel_auroc: 0.5, au_pro: 0.25, seconds_per_image: 3 }),
    );
    // A second run's model folder gets its own table, after models/.
    await Deno.mkdir(join(out, "a_run", "models"), { recursive: true });
    await writeLocalization(
      localizationPath(join(out, "a_run", "models"), "cable"),
      locFile({ category: "cable", method: "patch", pro_limit: 0.2 }),
    );
    // Nothing is looked for in the synthetic set or the report folder.
    await Deno.mkdir(join(out, "synthetic"), { recursive: true });
    await writeLocalization(localizationPath(join(out, "synthetic"), "x"), locFile());
    const png = await svgToPng(
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="6"><rect width="8" height="6" fill="red"/></svg>',
    );
    const gridPath = localizationPlotPath(modelDir, "bottle", "gradcam");
    await Deno.mkdir(join(gridPath, ".."), { recursive: true });
    await Deno.writeFile(gridPath, png);

    const loc = await readLocalizationSection(out, { shownDir: "outputs" });
    assert(loc);
    assertEquals(loc.notes, []);
    assertEquals(loc.tables.map((t) => t.caption), [
      "outputs/models/model-<category>.localization.json",
      "outputs/a_run/models/model-<category>.localization.json",
    ]);
    assertEquals(loc.tables[0].headers, [
      "category",
      "method",
      "pixel AUROC",
      "AU-PRO@0.3",
      "pixel F1",
      "image AUROC of max",
      "s/image",
      "test images",
    ]);
    assertEquals(loc.tables[0].rows, [
      ["bottle", "gradcam", "0.9123", "0.7002", "0.4124", "0.8700", "0.0123", "83"],
      ["wood", "sspcab", "0.5000", "0.2500", "0.4124", "0.8700", "3.00", "83"],
    ]);
    assertEquals(loc.tables[1].headers[3], "AU-PRO@0.2");
    assertEquals(loc.tables[1].rows[0].slice(0, 2), ["cable", "patch"]);
    assertEquals(loc.figures.length, 1);
    assertStringIncludes(
      loc.figures[0].caption,
      "outputs/models/plots/model-bottle/localization_gradcam.png",
    );
    const prefix = "data:image/png;base64,";
    assert(loc.figures[0].src.startsWith(prefix));
    assertEquals(Uint8Array.from(atob(loc.figures[0].src.slice(prefix.length)), (c) => c.charCodeAt(0)), png);

    const html = buildReportHtml(reportInput({ results, localization: loc }));
    assertEquals(externalResources(html), []);
    assertStringIncludes(html, "<h2>Localisation</h2>");
    assert(html.indexOf("<h2>Results</h2>") < html.indexOf("<h2>Localisation</h2>"));
    assert(html.indexOf("<h2>Localisation</h2>") < html.indexOf("<h2>Contents</h2>"));
    assertStringIncludes(html, "<th>AU-PRO@0.3</th>");
    assertStringIncludes(
      html,
      '<td>bottle</td><td>gradcam</td><td class="num">0.9123</td><td class="num">0.7002</td>',
    );
    assertStringIncludes(html, `<img src="${loc.figures[0].src}"`);
    // The rest of the title page is as without localisation results.
    assertEquals(html.replace(/\n<h2>Localisation<\/h2>[\s\S]*?(?=\n<h2>Contents)/, ""), plain);
    // A figure that is not a data: URL is never referenced.
    const bad = buildReportHtml(reportInput({
      localization: { tables: [], notes: [], figures: [{ caption: "grid", src: "plots/x.png" }] },
    }));
    assertEquals(externalResources(bad), []);
    assertStringIncludes(bad, "grid: not embedded (not a data: URL)");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("localization: a malformed results file is skipped with a note naming it; the others and the report stay", async () => {
  const out = await Deno.makeTempDir({ prefix: "sspcab-loc-bad-" });
  try {
    const modelDir = join(out, "models");
    await Deno.mkdir(modelDir, { recursive: true });
    await writeLocalization(localizationPath(modelDir, "bottle"), locFile());
    await Deno.writeTextFile(
      localizationPath(modelDir, "cable"),
      JSON.stringify(locFile({ category: "cable", pixel_auroc: 1.5 })),
    );
    await Deno.writeTextFile(localizationPath(modelDir, "wood"), '{"method": "gradcam", "pixel_au');
    const gridPath = localizationPlotPath(modelDir, "bottle", "sspcab");
    await Deno.mkdir(join(gridPath, ".."), { recursive: true });
    await Deno.writeTextFile(gridPath, "not a png");

    const loc = await readLocalizationSection(out, { shownDir: "outputs" });
    assert(loc);
    assertEquals(loc.tables.length, 1);
    assertEquals(loc.tables[0].rows.map((r) => r[0]), ["bottle"]);
    assertEquals(loc.figures, []);
    assertEquals(loc.notes.length, 3);
    const [png, cable, wood] = [
      loc.notes.find((n) => n.includes("localization_sspcab.png")),
      loc.notes.find((n) => n.includes("model-cable")),
      loc.notes.find((n) => n.includes("model-wood")),
    ];
    assertStringIncludes(
      png!,
      "outputs/models/plots/model-bottle/localization_sspcab.png not embedded: it is not a PNG",
    );
    assertStringIncludes(cable!, "skipped outputs/models/model-cable.localization.json:");
    assertStringIncludes(cable!, 'field "methods[0].pixel_auroc" must be a number in [0, 1] (got 1.5)');
    assertStringIncludes(wood!, "skipped outputs/models/model-wood.localization.json:");
    assertStringIncludes(wood!, "is not valid JSON");
    assertStringIncludes(wood!, "deno task eval --localization");
    for (const note of loc.notes) {
      assert(!note.includes(out), `note shows the shown path, not ${out}: ${note}`);
    }

    const html = buildReportHtml(reportInput({ localization: loc }));
    assertStringIncludes(html, "skipped outputs/models/model-cable.localization.json");
    assertStringIncludes(html, '<td>bottle</td><td>gradcam</td><td class="num">0.9123</td>');

    // Every file malformed: the part stays, with its notes and no table.
    await Deno.remove(localizationPath(modelDir, "bottle"));
    const only = await readLocalizationSection(out, { shownDir: "outputs" });
    assertEquals(only?.tables, []);
    assertEquals(only?.notes.length, 2, "the grid of a category without a results file is not looked at");
    const html2 = buildReportHtml(reportInput({ localization: only }));
    assertStringIncludes(html2, "<h2>Localisation</h2>");
    assertStringIncludes(html2, "skipped outputs/models/model-wood.localization.json");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
