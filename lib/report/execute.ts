/**
 * Execute one notebook headlessly with Jupyter's nbclient (through {@link DRIVER_PY}), following its progress
 * cell by cell, and describe a failure by notebook and cell (index and first line of source).
 * @module
 */
import { DRIVER_PY } from "./driver.ts";

/** A failed cell. */
export interface CellFailure {
  /** The notebook (as given to {@link executeNotebook}). */
  notebook: string;
  /** Index of the failing cell among all cells (0-based; null when the kernel failed before any cell). */
  index: number | null;
  /** Position among the code cells (1-based), when known. */
  codeCell?: number;
  /** First non-empty line of the cell's source. */
  firstLine: string;
  /** `error`: the cell raised; `timeout`: it ran past the limit; `kernel`: the kernel died or did not start. */
  kind: "error" | "timeout" | "kernel";
  /** Error name (e.g. `TypeError`). */
  ename: string;
  /** Error message. */
  evalue: string;
  /** Traceback lines (ANSI colours removed). */
  traceback: string[];
}

/** Time taken by one code cell. */
export interface CellTime {
  /** Cell index (0-based, among all cells). */
  index: number;
  /** First line of its source. */
  firstLine: string;
  /** Seconds. */
  seconds: number;
}

/** The outcome of {@link executeNotebook}. */
export interface NotebookRun {
  /** The notebook executed. */
  notebook: string;
  /** Where the executed (or partly executed) notebook was written. */
  executedPath: string;
  /** Where its HTML was written (successful runs with `html` set). */
  htmlPath?: string;
  /** Wall time in seconds. */
  seconds: number;
  /** Number of cells and of code cells. */
  cells: number;
  /** Number of code cells. */
  codeCells: number;
  /** Per code cell timings. */
  cellTimes: CellTime[];
  /** Whether every cell ran without error. */
  ok: boolean;
  /** The failure, when not ok. */
  failure?: CellFailure;
  /** What the driver and kernel wrote on stderr (shown on failure). */
  stderr: string;
}

/** A progress event of the driver (see `driver.ts`). */
export interface DriverEvent {
  /** Event type: `start`, `cell_start`, `cell_done`, `error`, `html`, `done`, `fatal`. */
  event: string;
  /** Other fields of the event. */
  [key: string]: unknown;
}

/** Options of {@link executeNotebook}. */
export interface ExecuteOptions {
  /** Python with nbclient/nbconvert (see `findJupyterPython`). */
  python: string;
  /** Notebook to run. */
  notebook: string;
  /** Where to write the executed notebook. */
  output: string;
  /** Where to write its HTML (nbconvert `lab` template, images embedded); omit for none. */
  html?: string;
  /** Kernel name (default: the notebook's kernelspec). */
  kernel?: string;
  /** Per-cell timeout in seconds (0 or undefined: none). */
  timeout?: number;
  /** Working directory of the kernel (default: the notebook's folder, as Jupyter does). */
  cwd: string;
  /** Seconds to keep collecting a cell's outputs after the kernel reported idle (default 0.25; see driver.ts). */
  lateOutputGrace?: number;
  /** Environment of the driver and the kernel. */
  env?: Record<string, string>;
  /** Called for each driver event (progress display). */
  onEvent?: (event: DriverEvent) => void;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Remove ANSI colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

/** The 1-based position of cell `index` among the code cells of a notebook's `cells` (or undefined). */
export function codeCellNumber(cells: { cell_type: string }[], index: number): number | undefined {
  if (index < 0 || index >= cells.length || cells[index].cell_type !== "code") return undefined;
  return cells.slice(0, index + 1).filter((c) => c.cell_type === "code").length;
}

/**
 * The message for a failed notebook: which notebook, which cell (index, code-cell number and first line),
 * what was raised, and the start of the traceback.
 */
export function formatFailure(failure: CellFailure, maxTraceback = 15): string {
  const where = failure.index === null
    ? "before its first cell ran"
    : `at cell ${failure.index}${failure.codeCell ? ` (code cell ${failure.codeCell})` : ""}: ${
      failure.firstLine ? `\`${failure.firstLine}\`` : "(empty)"
    }`;
  const what = failure.kind === "timeout"
    ? "the cell ran past the timeout"
    : failure.kind === "kernel"
    ? `the kernel failed (${failure.ename}: ${failure.evalue})`
    : `${failure.ename}${failure.evalue ? `: ${failure.evalue}` : ""}`;
  const lines = [`notebook ${failure.notebook} failed ${where}`, `  ${what}`];
  // The traceback usually starts with "ename: evalue" (possibly several lines); show only what follows.
  let tb = failure.traceback.map(stripAnsi).join("\n");
  const head = `${failure.ename}: ${failure.evalue}`;
  if (failure.ename && tb.startsWith(head)) tb = tb.slice(head.length);
  else if (failure.evalue && tb.includes(failure.evalue)) {
    tb = tb.slice(tb.indexOf(failure.evalue) + failure.evalue.length);
  }
  const rest = tb.split("\n").filter((l) => l.trim());
  for (const l of rest.slice(0, maxTraceback)) lines.push(`    ${l}`);
  if (rest.length > maxTraceback) lines.push(`    … (${rest.length - maxTraceback} more lines)`);
  return lines.join("\n");
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}

/**
 * Execute a notebook with nbclient (stopping at the first failing cell), write the executed notebook to
 * `output` (also when a cell failed) and, on success, its HTML to `html`.
 */
export async function executeNotebook(options: ExecuteOptions): Promise<NotebookRun> {
  const t0 = performance.now();
  const cellsJson = JSON.parse(await Deno.readTextFile(options.notebook)).cells as {
    cell_type: string;
    source: string | string[];
  }[];
  const child = new Deno.Command(options.python, {
    args: ["-c", DRIVER_PY],
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify({
    notebook: options.notebook,
    output: options.output,
    html: options.html ?? null,
    kernel: options.kernel ?? null,
    timeout: options.timeout ?? 0,
    late_output_grace: options.lateOutputGrace ?? 0.25,
    cwd: options.cwd,
  })));
  await w.close();
  const stderrText = new Response(child.stderr).text();

  const run: NotebookRun = {
    notebook: options.notebook,
    executedPath: options.output,
    seconds: 0,
    cells: cellsJson.length,
    codeCells: cellsJson.filter((c) => c.cell_type === "code").length,
    cellTimes: [],
    ok: false,
    stderr: "",
  };
  const firstLines = new Map<number, string>();
  let fatal: DriverEvent | undefined;
  let done = false;
  for await (const line of readLines(child.stdout)) {
    let event: DriverEvent;
    try {
      event = JSON.parse(line);
    } catch {
      continue; // not ours (a library printing to stdout)
    }
    options.onEvent?.(event);
    switch (event.event) {
      case "cell_start":
        firstLines.set(Number(event.index), String(event.first_line ?? ""));
        break;
      case "cell_done":
        run.cellTimes.push({
          index: Number(event.index),
          firstLine: firstLines.get(Number(event.index)) ?? "",
          seconds: Number(event.seconds),
        });
        break;
      case "error": {
        const index = event.index === null || event.index === undefined ? null : Number(event.index);
        run.failure = {
          notebook: options.notebook,
          index,
          codeCell: index === null ? undefined : codeCellNumber(cellsJson, index),
          firstLine: String(event.first_line ?? ""),
          kind: (event.kind as CellFailure["kind"]) ?? "error",
          ename: String(event.ename ?? ""),
          evalue: stripAnsi(String(event.evalue ?? "")),
          traceback: (event.traceback as string[] | undefined ?? []).map(stripAnsi),
        };
        break;
      }
      case "html":
        run.htmlPath = String(event.path);
        break;
      case "done":
        done = true;
        break;
      case "fatal":
        fatal = event;
        break;
    }
  }
  const status = await child.status;
  run.stderr = stripAnsi(await stderrText);
  run.seconds = (performance.now() - t0) / 1000;
  if (!run.failure && (!done || status.code !== 0)) {
    run.failure = {
      notebook: options.notebook,
      index: null,
      firstLine: "",
      kind: "kernel",
      ename: String(fatal?.ename ?? "DriverError"),
      evalue: String(fatal?.evalue ?? `the nbclient driver exited with code ${status.code}`),
      traceback: (fatal?.traceback as string[] | undefined) ?? run.stderr.split("\n").slice(-20),
    };
  }
  run.ok = !run.failure;
  return run;
}
