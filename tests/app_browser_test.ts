/**
 * The inspection page in headless Chromium (playwright-core, the system `chromium`): export a bundle from a
 * short run, start the server, open the page, upload the two sample images and synthetic ones through the
 * file input, wait for the table and compare the in-browser scores with `lib/export/infer.ts` (1e-3
 * relative) — on wasm, and on WebGL when this Chromium starts it; switch to the API path and compare again;
 * move the threshold slider and check the verdicts follow; sort; download the CSV; fail on any console error;
 * keep screenshots under `outputs/app_screenshots/`. The same for the static build served by a plain file server.
 *
 * Skipped when no Chromium is found (`SSPCAB_CHROMIUM` or `chromium` on PATH).
 */
import { extname, join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./assert.ts";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { initBackend } from "../lib/backend/mod.ts";
import { inferImages, loadBundle } from "../lib/export/infer.ts";
import { startAppServer } from "../lib/app/server.ts";
import { buildPageAssets, mediaType } from "../lib/app/assets.ts";
import { buildStaticApp } from "../lib/app/static_build.ts";
import { appTestBundle } from "./helpers/app_bundle.ts";
import { writeMapBundle } from "./helpers/app_map_bundle.ts";

// The page callbacks below run in the browser. These declarations only give them types here: the DOM lib
// itself would leak into every file that `deno check` type-checks together with this one.
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;
declare const DataTransfer: Dom;
declare const DragEvent: Dom;

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // A synthetic camera (a test pattern) and no permission prompt, for the webcam step.
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];

async function findChromium(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("SSPCAB_CHROMIUM");
  if (fromEnv) return fromEnv;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser"]) {
      const p = join(dir, name);
      if ((await Deno.stat(p).catch(() => null))?.isFile) return p;
    }
  }
  return undefined;
}

const chromiumPath = await findChromium();
const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !chromiumPath };
const SHOTS = join("outputs", "app_screenshots");

/** Call one of the page's test hooks (`window.inspection`). */
async function hook(page: Page, name: "backend" | "idle" | "tensors"): Promise<unknown> {
  return await page.evaluate(
    (n) => (globalThis as unknown as { inspection: Record<string, () => unknown> }).inspection[n](),
    name,
  );
}

interface TableRow {
  index: number;
  image: string;
  score: number;
  verdict: string;
}

async function tableRows(page: Page): Promise<TableRow[]> {
  return await page.$$eval("#results tbody tr", (trs) =>
    trs.map((tr) => {
      const d = (tr as Dom).dataset;
      return { index: Number(d.index), image: d.image!, score: Number(d.score), verdict: d.verdict! };
    }));
}

/** Upload files and wait until the table has `total` rows and the queue is idle. */
async function upload(page: Page, files: string[], total: number): Promise<TableRow[]> {
  await page.setInputFiles("#files", files);
  await page.waitForFunction((n) => document.querySelectorAll("#results tbody tr").length === n, total, {
    timeout: 120_000,
  });
  await hook(page, "idle");
  return (await tableRows(page)).sort((a, b) => a.index - b.index);
}

function assertScores(rows: TableRow[], expected: number[], what: string): void {
  assertEquals(rows.length, expected.length, what);
  if (Deno.env.get("APP_DEBUG")) console.log(what, rows.map((r) => r.score), expected);
  rows.forEach((r, i) => {
    assertAlmostEquals(r.score, expected[i], 1e-3 * Math.abs(expected[i]), `${what}: ${r.image}`);
  });
}

async function openPage(ctx: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, undefined, { timeout: 60_000 });
  assertEquals(await page.evaluate(() => document.body.dataset.ready), "true", errors.join("\n"));
  return page;
}

async function setThreshold(page: Page, value: number): Promise<void> {
  await page.evaluate((v) => {
    const el = document.getElementById("threshold") as Dom;
    el.value = String(v);
    el.dispatchEvent(new Event("input"));
  }, value);
}

/** A plain static file server over `dir` (no API), like any web server an intranet would use. */
function serveStatic(dir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const rel = path === "/" ? "index.html" : path.slice(1);
    if (rel.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(join(dir, rel));
      return new Response(body, { headers: { "content-type": mediaType(extname(rel)) } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test({
  name: "app page: in-browser scores equal infer's (wasm, webgl), API path, slider, sort, CSV, static build",
  ...opts,
  fn: async (t) => {
    const fixture = await appTestBundle();
    await initBackend("wasm");
    const reference = await loadBundle(fixture.bundleDir);
    const expected = (await inferImages(reference, fixture.images)).map((p) => p.score);
    const threshold = reference.metadata.threshold;
    reference.model.dispose();
    const assets = await buildPageAssets();
    const server = await startAppServer({ modelDir: fixture.bundleDir, port: 0, assets });
    const userDir = await Deno.makeTempDir({ prefix: "sspcab_chromium_" });
    const ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      acceptDownloads: true,
    });
    await Deno.mkdir(SHOTS, { recursive: true });
    const errors: string[] = [];
    try {
      const page = await openPage(ctx, server.url, errors);
      const n = fixture.images.length;

      await t.step("in the browser (auto backend → wasm here): scores equal infer's", async () => {
        const backend = await hook(page, "backend");
        assert(["webgpu", "wasm", "webgl"].includes(String(backend)), String(backend));
        assertStringIncludes(await page.textContent("#backend-status") ?? "", String(backend));
        const rows = await upload(page, fixture.images, n);
        assertScores(rows, expected, `browser ${backend}`);
        rows.forEach((r, i) => {
          assertEquals(r.verdict, r.score >= threshold ? "anomalous" : "normal");
          // Away from the threshold (farther than the score tolerance), the verdict is the server's too.
          if (Math.abs(expected[i] - threshold) > 1e-3 * threshold) {
            assertEquals(r.verdict, expected[i] >= threshold ? "anomalous" : "normal", r.image);
          }
        });
        const header = await page.$$eval("#results thead th", (ths) => ths.map((th) => th.textContent));
        for (const h of ["image", "verdict", "score", "threshold"]) assert(header.includes(h), h);
        await page.screenshot({ path: join(SHOTS, "app_page.png"), fullPage: true });
      });

      await t.step("the threshold slider re-classifies without re-running", async () => {
        const rows = await tableRows(page);
        const sorted = rows.map((r) => r.score).sort((a, b) => a - b);
        const t1 = (sorted[1] + sorted[2]) / 2;
        await setThreshold(page, t1);
        const after = await tableRows(page);
        assertEquals(after.length, rows.length, "no new rows: the model did not run again");
        for (const r of after) assertEquals(r.verdict, r.score >= t1 ? "anomalous" : "normal", r.image);
        const t2 = (sorted[sorted.length - 2] + sorted[sorted.length - 1]) / 2;
        await setThreshold(page, t2);
        const high = await tableRows(page);
        assertEquals(high.filter((r) => r.verdict === "anomalous").length, 1);
        assert(
          high.filter((r) => r.verdict === "anomalous").length <
            after.filter((r) => r.verdict === "anomalous").length,
          "moving the slider up changes verdicts",
        );
        const shown = Number(await page.$eval("#threshold-value", (o) => (o as Dom).value));
        assertAlmostEquals(shown, t2, 1e-4 * Math.max(1, t2));
        await page.screenshot({ path: join(SHOTS, "app_page_slider.png"), fullPage: true });
        await page.click("#threshold-reset");
      });

      await t.step("sorting by score and the CSV download", async () => {
        await page.click('#results th[data-key="score"]');
        const asc = (await tableRows(page)).map((r) => r.score);
        assertEquals(asc, [...asc].sort((a, b) => a - b));
        await page.click('#results th[data-key="score"]');
        const desc = (await tableRows(page)).map((r) => r.score);
        assertEquals(desc, [...asc].reverse());
        const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
        const csvPath = join(SHOTS, "results.csv");
        await download.saveAs(csvPath);
        const lines = (await Deno.readTextFile(csvPath)).trimEnd().split("\n");
        assertEquals(lines[0], "image,verdict,score,threshold,model,run,time_ms");
        assertEquals(lines.length, n + 1);
        const csvScores = lines.slice(1).map((l) => Number(l.split(",")[2]));
        assertEquals(csvScores, desc);
        for (const l of lines.slice(1)) {
          const [, verdict, score, thr] = l.split(",");
          assertEquals(Number(thr), threshold);
          assertEquals(verdict, Number(score) >= threshold ? "anomalous" : "normal");
        }
        await page.click('#results th[data-key="index"]');
      });

      await t.step("WebGL backend (when this Chromium starts it): scores equal infer's", async () => {
        await page.click("#clear");
        await page.selectOption("#backend", "webgl");
        await hook(page, "idle");
        const backend = await hook(page, "backend");
        if (backend !== "webgl") {
          console.log(`  (WebGL did not start in this Chromium: ${await page.textContent("#error")})`);
          errors.length = 0;
          await page.evaluate(() => (document.getElementById("error")!.hidden = true));
        } else {
          assertScores(await upload(page, fixture.images, n), expected, "browser webgl");
        }
        await page.selectOption("#backend", "wasm");
        await hook(page, "idle");
      });

      await t.step(
        "a folder through the folder picker: every image, named by its relative path",
        async () => {
          await page.click("#clear");
          const folder = join(fixture.root, "folder_upload");
          await Deno.mkdir(join(folder, "sub"), { recursive: true });
          await Deno.copyFile(fixture.images[2], join(folder, "a.png"));
          await Deno.copyFile(fixture.images[4], join(folder, "sub", "b.png"));
          await Deno.writeTextFile(join(folder, "notes.txt"), "not an image");
          const tensorsBefore = await hook(page, "tensors");
          await page.setInputFiles("#folder", folder);
          await page.waitForFunction(() => document.querySelectorAll("#results tbody tr").length === 2);
          await hook(page, "idle");
          const rows = (await tableRows(page)).sort((a, b) => a.image.localeCompare(b.image));
          assertEquals(rows.map((r) => r.image), ["folder_upload/a.png", "folder_upload/sub/b.png"]);
          assertScores(rows, [expected[2], expected[4]], "folder");
          assertStringIncludes(await page.textContent("#error") ?? "", "1 file(s) skipped");
          assertStringIncludes(await page.textContent("#progress-text") ?? "", "2 / 2 images");
          assertEquals(await hook(page, "tensors"), tensorsBefore, "no tensor leaks in the page");
        },
      );

      await t.step("images dropped on the drop zone are scored", async () => {
        await page.click("#clear");
        const files = [
          { name: "dropped.png", bytes: Array.from(await Deno.readFile(fixture.images[3])) },
          { name: "dropped.txt", bytes: Array.from(new TextEncoder().encode("not an image")) },
        ];
        await page.evaluate((fs) => {
          const dt = new DataTransfer();
          for (const f of fs) {
            const type = f.name.endsWith(".png") ? "image/png" : "text/plain";
            dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type }));
          }
          const zone = document.getElementById("drop")!;
          zone.dispatchEvent(
            new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }),
          );
          zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }, files);
        await page.waitForFunction(() => document.querySelectorAll("#results tbody tr").length === 1);
        await hook(page, "idle");
        const [row] = await tableRows(page);
        assertEquals(row.image, "dropped.png");
        assertScores([row], [expected[3]], "dropped");
      });

      await t.step("webcam capture (a synthetic camera) is scored like any image", async () => {
        await page.click("#clear");
        await page.click("#webcam-open");
        await page.waitForFunction(() => (document.getElementById("video") as Dom).videoWidth > 0);
        await page.click("#capture");
        await page.waitForFunction(() => document.querySelectorAll("#results tbody tr").length === 1);
        await hook(page, "idle");
        const [row] = await tableRows(page);
        assert(/^webcam-.*\.png$/.test(row.image), row.image);
        assert(Number.isFinite(row.score) && row.score > 0, String(row.score));
        await page.click("#webcam-close");
        assert(await page.$eval("#webcam", (el) => (el as Dom).hidden));
      });

      await t.step("the API switch sends the images to /api/predict: same scores", async () => {
        await page.click("#clear");
        await page.click("#mode-api");
        const rows = await upload(page, fixture.images, n);
        assertScores(rows, expected, "api");
        const runs = await page.$$eval(
          "#results tbody tr td:nth-child(6)",
          (tds) => tds.map((td) => td.textContent),
        );
        assert(runs.every((r) => r === "api"), runs.join(","));
        await page.click("#mode-browser");
      });
      assertEquals(errors, [], "no console errors");
      await page.close();

      await t.step("the static build from a plain file server: in-browser scores equal infer's", async () => {
        const out = join(fixture.root, "static");
        await buildStaticApp({ modelDir: fixture.bundleDir, outDir: out, assets });
        const files = new Server(serveStatic(out));
        try {
          const staticPage = await openPage(ctx, files.url, errors);
          assert(await staticPage.$eval("#mode-api", (b) => (b as Dom).disabled), "no API");
          assertScores(await upload(staticPage, fixture.images, n), expected, "static build");
          await staticPage.screenshot({ path: join(SHOTS, "app_static.png"), fullPage: true });
          await staticPage.close();
        } finally {
          await files.close();
        }
        assertEquals(errors, [], "no console errors");
      });

      await t.step(
        "a bundle with an anomaly map: the heatmap toggle overlays it (browser and API)",
        async () => {
          const dir = join(fixture.root, "map_bundle");
          await Deno.mkdir(dir, { recursive: true });
          await writeMapBundle(dir, 16);
          const mapServer = await startAppServer({ modelDir: dir, port: 0, assets });
          try {
            const sample = fixture.images[1];
            const res = await fetch(`${mapServer.url}api/predict`, {
              method: "POST",
              body: await Deno.readFile(sample),
            });
            const want = (await res.json()).pred_score as number;
            const mapPage = await openPage(ctx, mapServer.url, errors);
            assert(
              await mapPage.$eval("#heatmap-label", (el) => !(el as Dom).hidden),
              "toggle shown",
            );
            for (const mode of ["browser", "api"]) {
              await mapPage.click("#clear");
              await mapPage.click(mode === "api" ? "#mode-api" : "#mode-browser");
              assertScores(await upload(mapPage, [sample], 1), [want], `map bundle, ${mode}`);
              assertEquals(
                await mapPage.$$eval(".thumb img.map", (els) => els.length),
                0,
                "overlay off by default",
              );
              await mapPage.check("#heatmap-toggle");
              const src = await mapPage.$eval(".thumb img.map", (el) => (el as Dom).src);
              assert(src.startsWith("data:image/png"), src.slice(0, 30));
              await mapPage.waitForFunction(() => (document.querySelector(".thumb img.map") as Dom).complete);
              assert(
                await mapPage.$eval(".thumb img.map", (el) => (el as Dom).naturalWidth === 16),
              );
              await mapPage.uncheck("#heatmap-toggle");
            }
            await mapPage.check("#heatmap-toggle");
            await mapPage.screenshot({ path: join(SHOTS, "app_heatmap.png"), fullPage: true });
            await mapPage.close();
          } finally {
            await mapServer.close();
          }
          assertEquals(errors, [], "no console errors");
        },
      );
    } finally {
      await ctx.close();
      await server.close();
      await Deno.remove(userDir, { recursive: true }).catch(() => {});
    }
  },
});

class Server {
  constructor(readonly http: Deno.HttpServer<Deno.NetAddr>) {}
  get url(): string {
    return `http://127.0.0.1:${this.http.addr.port}/`;
  }
  async close(): Promise<void> {
    await this.http.shutdown();
  }
}
