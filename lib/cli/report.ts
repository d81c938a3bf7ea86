/**
 * `deno task report` — execute the notebooks (`notebooks/0*.ipynb`, in order) headlessly with Jupyter's
 * nbclient on the Deno kernel and write the executed notebooks plus one self-contained HTML report to
 * `<output dir>/report/`. Flags set the notebooks' `SSPCAB_*` parameters; unset ones keep the environment's
 * value or the notebook's default. With `--screenshots` the report is then opened in headless Chromium,
 * checked (no console errors, every image rendered) and screenshotted per section.
 *
 * Needs Jupyter's tooling: `apt-get install -y --no-install-recommends python3-nbclient python3-nbconvert
 * jupyter-client jupyter-core` (and `chromium` for `--screenshots`).
 * @module
 */
import { parseCommand } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { BACKEND_CHOICES } from "../backend/mod.ts";
import { runReport } from "../report/run.ts";
import { checkReport } from "../report/screenshot.ts";
import { displayPath } from "../notebook/params.ts";

const SUMMARY = "Run the notebooks headlessly (Deno kernel, nbclient) and write outputs/report/report.html.";

const FLAGS = defineFlags({
  category: { type: "string", help: "SSPCAB_CATEGORY: category to show/train (default: first present)" },
  data_dir: {
    type: "string",
    help: "SSPCAB_DATA_DIR: MVTec-layout folder (default: data/mvtec or synthetic)",
  },
  size: { type: "number", help: "SSPCAB_SIZE: image side in pixels" },
  steps: { type: "number", help: "SSPCAB_STEPS: training steps of the training notebooks" },
  backend: { type: "string", choices: BACKEND_CHOICES, help: "SSPCAB_BACKEND: compute backend" },
  archive: { type: "string", help: "SSPCAB_ARCHIVE: official MVTec AD archive to extract first" },
  output_dir: { type: "string", help: "SSPCAB_OUTPUT_DIR: output folder (default: outputs)" },
  notebooks: { type: "string", help: "only these notebooks, by prefix, e.g. 01,02 (default: all 0*)" },
  timeout: { type: "number", default: 0, help: "per-cell timeout in seconds (0: none)" },
  kernel: { type: "string", help: "Jupyter kernel name (default: the notebooks' kernelspec, deno)" },
  screenshots: { type: "boolean", default: false, help: "check the report in headless Chromium" },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("report", SUMMARY, FLAGS);
    if (!flags) return;
    const result = await runReport({
      params: {
        category: flags.category,
        dataDir: flags.data_dir,
        size: flags.size,
        steps: flags.steps,
        backend: flags.backend,
        archive: flags.archive,
      },
      outputDir: flags.output_dir,
      only: flags.notebooks?.split(",").map((s) => s.trim()).filter(Boolean),
      timeout: flags.timeout,
      kernel: flags.kernel,
    });
    if (flags.screenshots) {
      const check = await checkReport(result.reportPath);
      for (const s of check.sections) {
        console.log(`screenshot ${displayPath(s.screenshot)}: ${s.images} images, ${s.svgs} SVG figures`);
      }
      if (check.problems.length) {
        throw new UserError(
          `the report did not render cleanly:\n  ${check.problems.join("\n  ")}`,
          "open the report in a browser and look at the named section",
        );
      }
      console.log(`browser check: ${check.images.length} images rendered, no console errors`);
    }
  });
}
