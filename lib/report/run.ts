/**
 * The report runner behind `deno task report`: install the Deno kernelspec if needed, execute
 * `notebooks/0*.ipynb` in order with Jupyter's nbclient (parameters passed as `SSPCAB_*` environment
 * variables), stop with a message naming the notebook and cell when one fails, and write the executed
 * notebooks plus one self-contained HTML report to `<output dir>/report/`. Its title page shows the results
 * tables and, where evaluation (or notebook 04) wrote them, the localisation results and heatmap grids found
 * under the output folder.
 * @module
 */
import { readReportFacts, reportFactsPath, writeReportFacts } from "../io/report_facts.ts";
import { basename, join } from "node:path";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { LIBRARY_VERSION } from "../version.ts";
import { PARAMETER_ENV, projectPath, REPORT_FACTS_ENV } from "../notebook/params.ts";
import { ENV } from "../config/env.ts";
import { ensureDenoKernel, findJupyterPython, runCommand } from "./jupyter.ts";
import { type DriverEvent, executeNotebook, formatFailure, type NotebookRun } from "./execute.ts";
import { buildReportHtml, externalResources, notebookTitle, type ReportSection } from "./html.ts";
import { PERF_CSV, readResultTables } from "./results.ts";
import { readLocalizationSection } from "./localization.ts";

/** The notebook parameters as given to the runner; `undefined` leaves the environment (or default) alone. */
export interface ReportParams {
  /** `SSPCAB_CATEGORY`. */
  category?: string;
  /** `SSPCAB_DATA_DIR` (relative to the project root). */
  dataDir?: string;
  /** `SSPCAB_SIZE`. */
  size?: number;
  /** `SSPCAB_STEPS`. */
  steps?: number;
  /** `SSPCAB_BACKEND`. */
  backend?: string;
  /** `SSPCAB_ARCHIVE`. */
  archive?: string;
}

/** Options of {@link runReport}. */
export interface ReportOptions {
  /** Parameters passed to every notebook. */
  params?: ReportParams;
  /** Output folder, relative to the project root (default: `SSPCAB_OUTPUT_DIR`, else `outputs`). */
  outputDir?: string;
  /** Folder of the notebooks, relative to the project root (default `notebooks`). */
  notebooksDir?: string;
  /** Run only notebooks whose file name starts with one of these (e.g. `["01", "02"]`). */
  only?: string[];
  /** Per-cell timeout in seconds (0: none, the default). */
  timeout?: number;
  /** Kernel name (default: each notebook's kernelspec, `deno`). */
  kernel?: string;
  /** Progress lines (default `console.log`). */
  log?: (line: string) => void;
}

/** What {@link runReport} produced. */
export interface ReportResult {
  /** The HTML report. */
  reportPath: string;
  /** The report folder (executed notebooks, report, screenshots). */
  reportDir: string;
  /** One entry per notebook. */
  runs: NotebookRun[];
  /** Total seconds. */
  seconds: number;
}

/** The notebooks the runner executes: `0*.ipynb` in `dir`, sorted by name, optionally filtered by prefix. */
export async function listNotebooks(dir: string, only?: string[]): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /^0.*\.ipynb$/.test(e.name)) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`notebook folder not found: ${dir}`);
    throw err;
  }
  names.sort();
  const chosen = only?.length ? names.filter((n) => only.some((p) => n.startsWith(p))) : names;
  if (!chosen.length) {
    throw new UserError(
      `no notebooks to run in ${dir}${only?.length ? ` matching ${only.join(", ")}` : ""}`,
      `notebooks are named 0*.ipynb; present: ${names.join(", ") || "(none)"}`,
    );
  }
  return chosen.map((n) => join(dir, n));
}

/** The environment for the notebooks: this process's, with the given parameters set as `SSPCAB_*`. */
export function notebookEnv(
  params: ReportParams,
  outputDir: string,
  factsFile: string,
  base: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const env = { ...base };
  const set = (name: string, v: string | number | undefined) => {
    if (v !== undefined && v !== "") env[name] = String(v);
  };
  set(PARAMETER_ENV.category, params.category);
  set(PARAMETER_ENV.dataDir, params.dataDir);
  set(PARAMETER_ENV.size, params.size);
  set(PARAMETER_ENV.steps, params.steps);
  set(PARAMETER_ENV.backend, params.backend);
  set(PARAMETER_ENV.archive, params.archive);
  env[PARAMETER_ENV.outputDir] = outputDir;
  env[REPORT_FACTS_ENV] = factsFile;
  return env;
}

/** A progress printer for one notebook's driver events: a header line, then one line per finished cell. */
export function progressPrinter(name: string, log: (line: string) => void): (event: DriverEvent) => void {
  const firstLines = new Map<number, string>();
  const short = (t: string) => (t.length > 72 ? `${t.slice(0, 71)}…` : t);
  return (event) => {
    if (event.event === "start") log(`▶ ${name}: ${event.code_cells} code cells (kernel ${event.kernel})`);
    else if (event.event === "cell_start") {
      firstLines.set(Number(event.index), String(event.first_line ?? ""));
    } else if (event.event === "cell_done") {
      const i = Number(event.index);
      const mark = event.status === "error" ? "✗" : "✓";
      log(
        `  ${mark} cell ${String(i).padStart(2)} ${Number(event.seconds).toFixed(1).padStart(6)} s  ${
          short(firstLines.get(i) ?? "")
        }`,
      );
    }
  };
}

async function nbclientVersion(python: string): Promise<string> {
  const r = await runCommand(python, [
    "-c",
    "import nbclient, nbconvert; print(nbclient.__version__, nbconvert.__version__)",
  ]);
  const [a, b] = r.stdout.trim().split(/\s+/);
  return r.code === 0 ? `nbclient ${a}, nbconvert ${b}` : "unknown";
}

/** Run the notebooks and write the report (see the module doc). */
export async function runReport(options: ReportOptions = {}): Promise<ReportResult> {
  const log = options.log ?? console.log;
  const t0 = performance.now();
  const startedAt = new Date();
  const params = options.params ?? {};
  const outputDir = options.outputDir || ENV.outputDir.get();
  const notebooks = await listNotebooks(projectPath(options.notebooksDir ?? "notebooks"), options.only);

  const python = await findJupyterPython();
  const kernel = await ensureDenoKernel(python, options.kernel ?? "deno", log);
  if (kernel.installed) log(`installed the Deno kernelspec in ${kernel.resourceDir}`);

  const reportDir = join(projectPath(outputDir), "report");
  await Deno.mkdir(reportDir, { recursive: true });
  const factsFile = reportFactsPath(reportDir);
  await writeReportFacts(factsFile);
  const env = notebookEnv(params, outputDir, factsFile);
  const tmp = await Deno.makeTempDir({ prefix: "sspcab-report-" });
  const runs: NotebookRun[] = [];
  const sections: ReportSection[] = [];
  try {
    for (const nb of notebooks) {
      const name = basename(nb).replace(/\.ipynb$/, "");
      const shown = `notebooks/${basename(nb)}`;
      const executed = join(reportDir, `${name}.ipynb`);
      const run = await executeNotebook({
        python,
        notebook: nb,
        output: executed,
        html: join(tmp, `${name}.html`),
        kernel: options.kernel,
        timeout: options.timeout,
        cwd: projectPath(options.notebooksDir ?? "notebooks"),
        env,
        onEvent: progressPrinter(name, log),
      });
      runs.push(run);
      if (!run.ok) {
        const failure = { ...run.failure!, notebook: shown };
        const tail = run.stderr.trim().split("\n").filter((l) => !/"deno jupyter" is unstable/.test(l)).slice(
          -8,
        );
        throw new UserError(
          formatFailure(failure) +
            (tail.length && failure.kind !== "error"
              ? `\n  kernel/driver stderr:\n    ${tail.join("\n    ")}`
              : ""),
          `the partly executed notebook is ${
            join(outputDir, "report", `${name}.ipynb`)
          }; fix the cell (or its ` +
            `parameters) and run \`deno task report\` again`,
        );
      }
      log(`  done in ${run.seconds.toFixed(1)} s`);
      const source = JSON.parse(await Deno.readTextFile(nb));
      sections.push({
        name,
        title: notebookTitle(source) ?? name,
        html: await Deno.readTextFile(run.htmlPath!),
        codeCells: run.codeCells,
        seconds: run.seconds,
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const facts = await readReportFacts(factsFile);
  const results = await readResultTables(projectPath(outputDir), { shownDir: outputDir });
  const localization = await readLocalizationSection(projectPath(outputDir), { shownDir: outputDir });
  for (const note of localization?.notes ?? []) log(`warning: ${note}`);
  const seconds = (performance.now() - t0) / 1000;
  const shownParams: Record<string, string> = {};
  for (const envName of Object.values(PARAMETER_ENV)) shownParams[envName] = env[envName] ?? "";
  const html = buildReportHtml({
    title: "sspcab-deno — CutPaste (3-way) + SSPCAB on MVTec AD: notebook report",
    startedAt,
    totalSeconds: seconds,
    params: shownParams,
    backend: { requested: env[PARAMETER_ENV.backend] ?? "auto", used: facts.backend as string | undefined },
    facts,
    versions: {
      "sspcab-deno": LIBRARY_VERSION,
      Deno: Deno.version.deno,
      Jupyter: await nbclientVersion(python),
    },
    results,
    localization,
    resultsHint: `no results files under ${outputDir}/ yet (evaluation writes ${outputDir}/${PERF_CSV})`,
    sections,
  });
  const external = externalResources(html);
  if (external.length) {
    log(
      `warning: the report still references ${external.length} outside resource(s): ${
        external.slice(0, 5).join(", ")
      }`,
    );
  }
  const reportPath = join(reportDir, "report.html");
  await writeFileAtomic(reportPath, html);
  log(
    `report: ${join(outputDir, "report", "report.html")} (${(html.length / 1e6).toFixed(1)} MB, ${
      formatSeconds(seconds)
    })`,
  );
  return { reportPath, reportDir, runs, seconds };
}

function formatSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
