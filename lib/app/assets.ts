/**
 * The page's static files: `index.html`, `style.css`, `app.js` (the page script bundled with esbuild from our
 * own npm dependencies — TensorFlow.js with its WebGPU, wasm and WebGL backends — no CDN) and the tfjs wasm
 * binaries under `wasm/`. Both the server and the static build use these.
 * @module
 */
import * as esbuild from "esbuild";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../util/errors.ts";

/** One static file. */
export interface StaticAsset {
  /** Its bytes. */
  body: Uint8Array<ArrayBuffer>;
  /** Its media type. */
  type: string;
}

const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WASM_DIR = join(REPO_ROOT, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
];

/** Media types of the files we serve. */
export const MEDIA_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
  bin: "application/octet-stream",
  png: "image/png",
};

/** The media type of a file name by its extension. */
export function mediaType(name: string): string {
  return MEDIA_TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream";
}

/** Bundle the page script (`page/main.ts` and what it imports) into one minified browser ES module. */
export async function bundlePageScript(): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const result = await esbuild.build({
      entryPoints: [join(PAGE_DIR, "main.ts")],
      absWorkingDir: REPO_ROOT,
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      logLevel: "silent",
      // tfjs-core probes for Node's modules behind guards that never run in a browser.
      external: ["worker_threads", "perf_hooks", "os", "fs", "path", "crypto"],
      define: { "process.env.NODE_ENV": '"production"' },
    });
    return new Uint8Array(result.outputFiles[0].contents);
  } catch (err) {
    throw new UserError(
      `cannot bundle the page script: ${(err as Error).message}`,
      "run `deno install` so that node_modules holds the npm dependencies",
    );
  } finally {
    await esbuild.stop();
  }
}

/** Every static file of the page, by its URL path relative to the page (`index.html`, `wasm/…`). */
export async function buildPageAssets(): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const name of ["index.html", "style.css"]) {
    assets.set(name, { body: await Deno.readFile(join(PAGE_DIR, name)), type: mediaType(name) });
  }
  assets.set("app.js", { body: await bundlePageScript(), type: mediaType("app.js") });
  for (const name of WASM_FILES) {
    const path = join(WASM_DIR, name);
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(path);
    } catch {
      throw new UserError(`${path} not found`, "run `deno install` to install the tfjs wasm backend");
    }
    assets.set(`wasm/${name}`, { body, type: mediaType(name) });
  }
  return assets;
}
