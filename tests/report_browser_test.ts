// End-to-end check of `deno task report` (opt-in: SSPCAB_REPORT_TEST=1, since it needs Jupyter's nbclient /
// nbconvert, the Deno kernelspec and Chromium): run every notebook on the Deno kernel, open the HTML report in
// headless Chromium, fail on console errors, broken images or empty SVG figures, and keep one screenshot per
// report section under <output dir>/report/. Also checks that a failing cell stops the run with a message
// naming the notebook and the cell.
//
//   SSPCAB_REPORT_TEST=1 deno test -A tests/report_browser_test.ts
//
// Parameters of the run come from the environment as usual (SSPCAB_SIZE defaults to 128 here to keep it fast;
// SSPCAB_DATA_DIR unset means data/mvtec if present, else the synthetic set). Writes to SSPCAB_OUTPUT_DIR
// (default outputs/), like `deno task report`.
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { runReport } from "../lib/report/run.ts";
import { checkReport } from "../lib/report/screenshot.ts";
import { externalResources } from "../lib/report/html.ts";
import { UserError } from "../lib/util/errors.ts";

const ENABLED = Deno.env.get("SSPCAB_REPORT_TEST") === "1";

Deno.test({
  name: "report: the notebooks run headless and the HTML report renders cleanly in Chromium",
  ignore: !ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const size = Number(Deno.env.get("SSPCAB_SIZE") ?? 128);
    const result = await runReport({ params: { size }, log: (l) => console.log(l) });
    assert(result.runs.length >= 2, "at least notebooks 01 and 02");
    for (const run of result.runs) assert(run.ok, `${run.notebook} failed`);
    const html = await Deno.readTextFile(result.reportPath);
    assertEquals(externalResources(html), [], "the report is self-contained");

    const check = await checkReport(result.reportPath);
    for (const s of check.sections) {
      console.log(`${s.id}: ${s.images} images, ${s.svgs} SVG figures → ${s.screenshot}`);
    }
    assertEquals(check.problems, []);
    const names = result.runs.map((r) => r.notebook.replace(/^.*[\\/]/, "").replace(/\.ipynb$/, ""));
    assertEquals(check.sections.map((s) => s.id), ["report-title", ...names.map((n) => `nb-${n}`)]);
    const byId = Object.fromEntries(check.sections.map((s) => [s.id, s]));
    assert(byId["nb-01_data_extraction"].images >= 2, "data notebook: sample grid and overview");
    assert(byId["nb-02_cutpaste_visualisation"].images >= 2, "CutPaste notebook: gallery and batch");
    assert(
      byId["nb-02_cutpaste_visualisation"].svgs >= 5,
      "CutPaste notebook: histograms and receptive field",
    );
    for (const s of check.sections) {
      const meta = await sharp(await Deno.readFile(s.screenshot)).metadata();
      assertEquals(meta.width, 1280, s.screenshot);
      assert((meta.height ?? 0) > 100, `${s.screenshot} is ${meta.height} px tall`);
    }
  },
});

function notebook(cells: { type: "markdown" | "code"; source: string }[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    cells: cells.map((c, i) =>
      c.type === "code"
        ? {
          cell_type: "code",
          id: `c${i}`,
          metadata: {},
          execution_count: null,
          outputs: [],
          source: c.source,
        }
        : { cell_type: "markdown", id: `c${i}`, metadata: {}, source: c.source }
    ),
  });
}

Deno.test({
  name: "report: a failing cell stops the run, naming the notebook and the cell",
  ignore: !ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab-report-fail-" });
    try {
      const nbDir = join(dir, "notebooks");
      await Deno.mkdir(nbDir);
      await Deno.writeTextFile(
        join(nbDir, "01_ok.ipynb"),
        notebook([{ type: "code", source: "const x = 1;\nx + 1" }]),
      );
      await Deno.writeTextFile(
        join(nbDir, "02_fail.ipynb"),
        notebook([
          { type: "markdown", source: "# Fails" },
          { type: "code", source: "const y = 2;" },
          { type: "code", source: 'throw new Error("boom from the test");' },
        ]),
      );
      await Deno.writeTextFile(join(nbDir, "03_never.ipynb"), notebook([{ type: "code", source: "1" }]));
      const err = await assertRejects(
        () => runReport({ notebooksDir: nbDir, outputDir: join(dir, "out"), log: () => {} }),
        UserError,
      );
      assertStringIncludes(err.message, "notebooks/02_fail.ipynb failed at cell 2 (code cell 2)");
      assertStringIncludes(err.message, '`throw new Error("boom from the test");`');
      assertStringIncludes(err.message, "boom from the test");
      const report = join(dir, "out", "report");
      assert((await Deno.stat(join(report, "02_fail.ipynb"))).isFile, "the partly executed notebook is kept");
      await assertRejects(() => Deno.stat(join(report, "03_never.ipynb")), Deno.errors.NotFound);
      await assertRejects(() => Deno.stat(join(report, "report.html")), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
