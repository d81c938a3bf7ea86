/**
 * A small terminal progress bar for long work (extraction, training, embedding). It writes to a
 * {@link ProgressSink}: one redrawn line when the sink is interactive (a terminal), otherwise a plain line
 * every few percent (logs, CI, notebooks).
 *
 * The sink is an argument: {@link createProgress} takes `sink`; work that creates its bars deep inside (the
 * trainer, the extractor) picks up the sink of the enclosing {@link withProgressSink} call, scoped to that
 * asynchronous call (nothing global is patched, and concurrent work can use different sinks). Without
 * either, bars go to stderr ({@link stderrSink}) — the command-line default.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Where progress text goes. */
export interface ProgressSink {
  /** Write a piece of text (may contain `\r` and ANSI line clears when interactive). */
  write(text: string): void;
  /** Whether the sink is a terminal, where the bar is redrawn in place. */
  readonly interactive: boolean;
}

const encoder = new TextEncoder();

/** The process's stderr, interactive when it is a terminal. */
export function stderrSink(): ProgressSink {
  let interactive = false;
  try {
    interactive = Deno.stderr.isTerminal();
  } catch {
    interactive = false;
  }
  return { write: (t) => void Deno.stderr.writeSync(encoder.encode(t)), interactive };
}

/** A sink calling `write` with each piece of text (not interactive unless told). */
export function textSink(write: (text: string) => void, interactive = false): ProgressSink {
  return { write, interactive };
}

const scoped = new AsyncLocalStorage<ProgressSink>();

/**
 * Run `fn` with `sink` as the default sink of every progress bar it creates (also in awaited callees);
 * outside `fn` the previous default applies again.
 */
export function withProgressSink<T>(sink: ProgressSink, fn: () => Promise<T>): Promise<T> {
  return scoped.run(sink, fn);
}

/** The sink a new progress bar uses by default: the enclosing {@link withProgressSink}'s, else stderr. */
export function currentProgressSink(): ProgressSink {
  return scoped.getStore() ?? stderrSink();
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Text shown before the bar. */
  label: string;
  /** Total number of units (0 or undefined: unknown, shows a counter). */
  total?: number;
  /** Unit name shown after the counts (e.g. "MB", "img"). */
  unit?: string;
  /** Where to write; defaults to {@link currentProgressSink} (stderr unless {@link withProgressSink} set one). */
  sink?: ProgressSink;
}

/** A live progress indicator. */
export interface Progress {
  /** Advance by `n` units (default 1), optionally replacing the trailing note. */
  tick(n?: number, note?: string): void;
  /** Set the absolute position. */
  update(done: number, note?: string): void;
  /** Print a line above the bar (the bar is redrawn below it on a terminal). */
  log(line: string): void;
  /** Finish the bar (prints the final state and a newline). */
  done(note?: string): void;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** Create a progress bar; see {@link ProgressOptions}. */
export function createProgress(options: ProgressOptions): Progress {
  const total = options.total ?? 0;
  const unit = options.unit ? ` ${options.unit}` : "";
  const sink = options.sink ?? currentProgressSink();
  const write = (t: string) => sink.write(t);
  const interactive = sink.interactive;
  const start = performance.now();
  let done = 0;
  let note = "";
  let lastPlainPct = -1;
  let lastDraw = -Infinity; // the first update always draws (performance.now() starts near 0 in a new process)

  const line = (): string => {
    const elapsed = (performance.now() - start) / 1000;
    const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
    if (total > 0) {
      const frac = Math.min(1, done / total);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = done > 0 ? (elapsed * (total - done)) / done : Infinity;
      return `${options.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${
        (frac * 100).toFixed(0).padStart(3)
      }% ${fmt(done)}/${fmt(total)}${unit} ${formatSeconds(elapsed)}<${formatSeconds(eta)}${
        note ? ` ${note}` : ""
      }`;
    }
    return `${options.label} ${fmt(done)}${unit} ${formatSeconds(elapsed)}${note ? ` ${note}` : ""}`;
  };

  const draw = (final = false) => {
    if (interactive) {
      const now = performance.now();
      if (!final && now - lastDraw < 100) return;
      lastDraw = now;
      write(`\r\x1b[2K${line()}${final ? "\n" : ""}`);
      return;
    }
    const pct = total > 0 ? Math.floor((done / total) * 10) * 10 : -1;
    if (final || (total > 0 && pct !== lastPlainPct)) {
      lastPlainPct = pct;
      write(`${line()}\n`);
    }
  };

  return {
    tick(n = 1, newNote) {
      done += n;
      if (newNote !== undefined) note = newNote;
      draw();
    },
    update(value, newNote) {
      done = value;
      if (newNote !== undefined) note = newNote;
      draw();
    },
    log(text) {
      if (interactive) {
        write(`\r\x1b[2K${text}\n`);
        lastDraw = 0;
        draw();
      } else {
        write(`${text}\n`);
      }
    },
    done(newNote) {
      if (newNote !== undefined) note = newNote;
      draw(true);
    },
  };
}
