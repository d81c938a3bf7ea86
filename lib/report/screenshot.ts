/**
 * Open the HTML report in headless Chromium and check that it renders: no console errors, no failed loads,
 * every `<img>` decoded (`naturalWidth > 0`), inline SVG figures present and laid out — and keep one
 * screenshot per report section (the title page and each notebook). Talks the Chrome DevTools protocol over
 * `--remote-debugging-port` with Deno's own WebSocket; no npm package needed, only a Chromium binary
 * (Debian: `apt-get install -y chromium`).
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UserError } from "../util/errors.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { whichOnPath } from "./jupyter.ts";
import { ENV } from "../config/env.ts";

/** Chromium's flags for a quiet, sandbox-free, offline-friendly headless run (user data dir added per run). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  "--mute-audio",
];

/** Find Chromium: `SSPCAB_CHROMIUM`, else `chromium`, `chromium-browser`, `google-chrome(-stable)` on PATH. */
export async function findChromium(): Promise<string> {
  const fromEnv = ENV.chromium.get();
  if (fromEnv) return fromEnv;
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    const p = await whichOnPath(name);
    if (p) return p;
  }
  throw new UserError(
    "no Chromium found to check the report",
    "install it (Debian: `apt-get install -y chromium`) or set SSPCAB_CHROMIUM to its path",
  );
}

/** One image of the page and whether it decoded. */
export interface ImageCheck {
  /** Start of the `src` (data URLs shortened). */
  src: string;
  /** Decoded width (0 when the image failed). */
  naturalWidth: number;
  /** Report section it is in. */
  section: string;
}

/** One report section: its id, how many images and SVGs it holds, and its screenshot. */
export interface SectionCheck {
  /** Section element id (`report-title`, `nb-01_data_extraction`, …). */
  id: string;
  /** `<img>` elements. */
  images: number;
  /** Inline `<svg>` figures with a non-empty layout box and something drawn in them. */
  svgs: number;
  /** Inline `<svg>` elements that are empty or not laid out (e.g. stripped by an HTML sanitiser). */
  emptySvgs: number;
  /** Height in CSS px. */
  height: number;
  /** The screenshot file (PNG). */
  screenshot: string;
}

/** What {@link checkReport} found. */
export interface ReportCheck {
  /** Console errors, uncaught exceptions and failed loads. */
  errors: string[];
  /** Every `<img>` of the page. */
  images: ImageCheck[];
  /** Per section. */
  sections: SectionCheck[];
  /** Human-readable problems (empty when the report is fine). */
  problems: string[];
}

/** Options of {@link checkReport}. */
export interface CheckOptions {
  /** Folder for the screenshots (default: the report's folder). */
  outDir?: string;
  /** Viewport width in CSS px (default 1280). */
  width?: number;
  /** Screenshots of taller sections are cut at this height (default 12000 px). */
  maxHeight?: number;
  /** Screenshot file name prefix (default `screenshot_`). */
  prefix?: string;
  /** Chromium binary (default {@link findChromium}). */
  chromium?: string;
  /** Give up after this many seconds (default 120). */
  timeoutSeconds?: number;
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

interface Cdp {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  on(method: string, fn: (params: Record<string, unknown>) => void): void;
  close(): void;
}

async function connect(url: string): Promise<Cdp> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) =>
      reject(new Error(`cannot connect to Chromium's DevTools at ${url}: ${(e as ErrorEvent).message ?? e}`));
  });
  let next = 1;
  const pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  const listeners = new Map<string, ((p: Record<string, unknown>) => void)[]>();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(String(ev.data)) as CdpMessage;
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else if (msg.method) {
      for (const fn of listeners.get(msg.method) ?? []) fn(msg.params ?? {});
    }
  };
  ws.onclose = () => {
    for (const p of pending.values()) p.reject(new Error("Chromium closed the DevTools connection"));
    pending.clear();
  };
  return {
    send(method, params = {}) {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    on(method, fn) {
      listeners.set(method, [...(listeners.get(method) ?? []), fn]);
    },
    close() {
      ws.close();
    },
  };
}

/** Read Chromium's stderr until it prints its DevTools URL; returns the port. */
async function devtoolsPort(stderr: ReadableStream<Uint8Array>, log: string[]): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Chromium exited before opening DevTools:\n${log.join("").slice(-2000)}`);
    buf += value;
    log.push(value);
    const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(buf);
    if (m) {
      // Keep draining stderr so Chromium never blocks on a full pipe.
      (async () => {
        try {
          while (!(await reader.read()).done) { /* drain */ }
        } catch { /* closed */ }
      })();
      return Number(m[1]);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The script evaluated in the page: waits for images, then describes images, sections and SVGs. */
const INSPECT = `(async () => {
  await Promise.all([...document.images].map((img) => img.decode().catch(() => {})));
  const topSvgs = (root) => [...root.querySelectorAll('svg')].filter((g) => !g.parentElement.closest('svg'));
  const drawn = (g) => { const b = g.getBoundingClientRect();
    return b.width > 0 && b.height > 0 && g.querySelector('path, rect, line, circle, ellipse, polygon, polyline, image') !== null; };
  const sectionOf = (el) => (el.closest('section[id], header[id]') || {}).id || '';
  const images = [...document.images].map((img) => ({
    src: img.src.startsWith('data:') ? img.src.slice(0, 30) + '…' : img.src,
    naturalWidth: img.naturalWidth, section: sectionOf(img) }));
  const sections = [...document.querySelectorAll('body > header[id], body > section[id]')].map((s) => {
    const r = s.getBoundingClientRect();
    return { id: s.id, x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height,
      images: s.querySelectorAll('img').length,
      svgs: topSvgs(s).filter(drawn).length, emptySvgs: topSvgs(s).filter((g) => !drawn(g)).length };
  });
  return JSON.stringify({ images, sections, width: document.documentElement.scrollWidth });
})()`;

/**
 * Open `htmlPath` in headless Chromium, collect console errors and failed loads, check every image decoded
 * and that SVG figures are laid out, and write one screenshot per section (`<prefix><section id>.png`).
 */
export async function checkReport(htmlPath: string, options: CheckOptions = {}): Promise<ReportCheck> {
  const chromium = options.chromium ?? await findChromium();
  const width = options.width ?? 1280;
  const maxHeight = options.maxHeight ?? 12000;
  const outDir = options.outDir ?? join(htmlPath, "..");
  const prefix = options.prefix ?? "screenshot_";
  const userDir = await Deno.makeTempDir({ prefix: "sspcab-chromium-" });
  const child = new Deno.Command(chromium, {
    args: [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${userDir}`,
      "--remote-debugging-port=0",
      `--window-size=${width},900`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderrLog: string[] = [];
  let cdp: Cdp | undefined;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, (options.timeoutSeconds ?? 120) * 1000);
  try {
    const port = await devtoolsPort(child.stderr, stderrLog);
    let target: { webSocketDebuggerUrl: string } | undefined;
    for (let i = 0; i < 50 && !target; i++) {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
        type: string;
        webSocketDebuggerUrl: string;
      }[];
      target = list.find((t) => t.type === "page");
      if (!target) await sleep(100);
    }
    if (!target) throw new Error("Chromium opened no page");
    cdp = await connect(target.webSocketDebuggerUrl);
    const errors: string[] = [];
    cdp.on("Runtime.consoleAPICalled", (p) => {
      if (p.type === "error" || p.type === "assert") {
        const args = (p.args as { value?: unknown; description?: string }[] | undefined) ?? [];
        errors.push(`console.${p.type}: ${args.map((a) => a.value ?? a.description ?? "").join(" ")}`);
      }
    });
    cdp.on("Runtime.exceptionThrown", (p) => {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
      errors.push(`uncaught: ${d?.exception?.description ?? d?.text ?? "exception"}`);
    });
    cdp.on("Log.entryAdded", (p) => {
      const e = p.entry as { level?: string; text?: string; url?: string } | undefined;
      if (e?.level === "error") errors.push(`${e.text ?? "error"}${e.url ? ` (${e.url})` : ""}`);
    });
    let loaded: () => void = () => {};
    const loadedP = new Promise<void>((r) => (loaded = r));
    cdp.on("Page.loadEventFired", () => loaded());
    await cdp.send("Page.enable");
    await cdp.send("Runtime.enable");
    await cdp.send("Log.enable");
    await cdp.send("Emulation.setDeviceMetricsOverride", {
      width,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    await cdp.send("Page.navigate", { url: pathToFileURL(await Deno.realPath(htmlPath)).href });
    await loadedP;
    await sleep(300);
    const evaluated = await cdp.send("Runtime.evaluate", {
      expression: INSPECT,
      awaitPromise: true,
      returnByValue: true,
    });
    const info = JSON.parse(String((evaluated.result as { value: string }).value)) as {
      images: ImageCheck[];
      sections: {
        id: string;
        x: number;
        y: number;
        width: number;
        height: number;
        images: number;
        svgs: number;
        emptySvgs: number;
      }[];
    };
    await Deno.mkdir(outDir, { recursive: true });
    const sections: SectionCheck[] = [];
    for (const s of info.sections) {
      const shot = await cdp.send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: {
          x: 0,
          y: Math.max(0, s.y),
          width,
          height: Math.max(1, Math.min(s.height, maxHeight)),
          scale: 1,
        },
      });
      const file = join(outDir, `${prefix}${s.id}.png`);
      await writeFileAtomic(file, Uint8Array.from(atob(String(shot.data)), (c) => c.charCodeAt(0)));
      sections.push({
        id: s.id,
        images: s.images,
        svgs: s.svgs,
        emptySvgs: s.emptySvgs,
        height: s.height,
        screenshot: file,
      });
    }
    const problems: string[] = [];
    for (const e of errors) problems.push(`browser error: ${e}`);
    for (const img of info.images) {
      if (!(img.naturalWidth > 0)) {
        problems.push(`image did not render in ${img.section || "page"}: ${img.src}`);
      }
    }
    for (const s of sections) {
      if (s.emptySvgs > 0) problems.push(`${s.emptySvgs} SVG figure(s) in ${s.id} are empty (nothing drawn)`);
    }
    if (!sections.some((s) => s.id.startsWith("nb-"))) problems.push("the report has no notebook sections");
    return { errors, images: info.images, sections, problems };
  } finally {
    clearTimeout(timer);
    cdp?.close();
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status.catch(() => {});
    await Deno.remove(userDir, { recursive: true }).catch(() => {});
  }
}
