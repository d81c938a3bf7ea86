/**
 * Interactive display of a {@link Figure}: the same plotly-style spec handed unchanged to
 * [nodeplotlib](https://www.npmjs.com/package/nodeplotlib), which serves a page on localhost and opens the
 * system browser (`xdg-open` / `open` / `start`). nodeplotlib is imported only inside {@link showFigure},
 * never at module load, so headless runs and tests never pull it in.
 *
 * Caveats of nodeplotlib 1.1.2 (the latest release): its page loads plotly.js from `cdn.plot.ly`, so the
 * browser needs internet access; its local server keeps the process alive until the browser tab is closed;
 * and its dependencies (NestJS, socket.io, about 100 npm packages) are installed from npm on first use.
 * For files, reports and notebooks use `savePng` / `renderSvg` instead.
 * @module
 */
import type { Figure } from "./figure.ts";
import { renderSvg } from "./svg.ts";

/** The npm specifier {@link showFigure} imports (nodeplotlib's latest release; there is no 1.1.3). */
export const NODEPLOTLIB_SPECIFIER = "npm:nodeplotlib@1.1.2";

/** Options of {@link showFigure}. They apply to the first call only: nodeplotlib reads them once. */
export interface ShowOptions {
  /** Serve on this port (default: a free one). */
  port?: number;
  /** Open the system browser (default true); false only prints the URL (nodeplotlib logs it). */
  openBrowser?: boolean;
}

/** The part of nodeplotlib's API we use: `plot(data, layout?, config?)`. */
interface NodePlotLib {
  plot: (data: unknown[], layout?: unknown, config?: unknown) => void;
}

const PNG_HINT = 'save it as a PNG instead, e.g. `await savePng(figure, "outputs/plots/figure.png")` ' +
  "(from lib/plot/mod.ts), or render it with `renderSvg(figure)`";

let rejectionGuard = false;

/** Turn nodeplotlib's asynchronous start-up failures (e.g. a busy port) into one clear message. */
function guardStartup(): void {
  if (rejectionGuard) return;
  rejectionGuard = true;
  globalThis.addEventListener("unhandledrejection", (event: PromiseRejectionEvent) => {
    const reason = event.reason;
    const text = reason instanceof Error ? `${reason.message}\n${reason.stack ?? ""}` : String(reason);
    if (!/nodeplotlib|@nestjs|EADDRINUSE/i.test(text)) return;
    event.preventDefault();
    console.error(
      `showFigure: nodeplotlib's server failed to start (${
        reason instanceof Error ? reason.message : String(reason)
      }); ${PNG_HINT}.`,
    );
  });
}

/** A JSON copy of the figure: typed arrays become plain arrays, NaN becomes null (a gap for plotly). */
function plainCopy<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v)),
  );
}

/**
 * Open a figure in the browser with nodeplotlib (`plot(figure.data, figure.layout)`). Needs network
 * permission (a local server), environment access and, on first use, the npm registry. Rejects with a
 * message that suggests the PNG route when nodeplotlib cannot be loaded or refuses the figure.
 */
export async function showFigure(figure: Figure, options: ShowOptions = {}): Promise<void> {
  if (!figure || !Array.isArray(figure.data)) {
    throw new TypeError("showFigure: expected a figure `{ data: Trace[], layout }`");
  }
  let mod: NodePlotLib;
  try {
    if (options.port !== undefined || options.openBrowser === false) {
      // nodeplotlib reads NODEPLOTLIB_PORT when loaded; when it is set it does not open a browser.
      Deno.env.set("NODEPLOTLIB_PORT", String(options.port ?? 0));
    }
    // A non-literal specifier keeps nodeplotlib out of the module graph of `deno check` / `deno test`.
    const specifier: string = NODEPLOTLIB_SPECIFIER;
    const loaded = await import(specifier);
    mod = (typeof loaded.plot === "function" ? loaded : loaded.default) as NodePlotLib;
    if (typeof mod?.plot !== "function") throw new Error("the module has no plot() function");
  } catch (err) {
    throw new Error(
      `showFigure: could not load ${NODEPLOTLIB_SPECIFIER} (${err instanceof Error ? err.message : err}). ` +
        `It needs the npm registry on first use and --allow-net/--allow-env/--allow-read/--allow-run; ` +
        `${PNG_HINT}.`,
      { cause: err },
    );
  }
  guardStartup();
  try {
    mod.plot(plainCopy(figure.data), plainCopy(figure.layout ?? {}));
  } catch (err) {
    throw new Error(
      `showFigure: nodeplotlib failed to plot the figure (${
        err instanceof Error ? err.message : err
      }); ${PNG_HINT}.`,
      { cause: err },
    );
  }
}

/**
 * Wrap a figure so that Deno's Jupyter kernel displays it inline as SVG when it is the value of a cell
 * (or is passed to `Deno.jupyter.display`). No browser, server or network needed.
 */
export function displayable(figure: Figure): { [key: symbol]: () => Record<string, string> } {
  return { [Symbol.for("Jupyter.display")]: () => ({ "image/svg+xml": renderSvg(figure) }) };
}
