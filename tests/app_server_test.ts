/**
 * The inspection app's server, in-process on an ephemeral loopback port: every endpoint, every error status,
 * multipart with several images, concurrent requests, no tensor leak, and scores equal to
 * `lib/export/infer.ts`'s for the same files.
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./assert.ts";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/mod.ts";
import { inferImages, inferMaps, loadBundle } from "../lib/export/infer.ts";
import { type AppServer, startAppServer } from "../lib/app/server.ts";
import { buildPageAssets } from "../lib/app/assets.ts";
import { appTestBundle, appTestBundleAll } from "./helpers/app_bundle.ts";
import { loadOnnxRuntime } from "../lib/export/onnx_engine.ts";
import { writeMapBundle } from "./helpers/app_map_bundle.ts";
import { loadRgb } from "../lib/data/images.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

// The onnxruntime engine is an optional package: its checks are skipped, with the reason, when it is absent.
const ortMissing = await loadOnnxRuntime().then(() => "", (e: Error) => e.message.split("\n")[0]);
if (ortMissing) console.log(`onnxruntime engine checks skipped: ${ortMissing}`);

async function post(
  server: AppServer,
  query: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}api/predict${query}`, { method: "POST", body, headers });
  const text = await res.text();
  assertEquals(res.headers.get("content-type"), "application/json", text);
  return { status: res.status, json: JSON.parse(text) };
}

function assertCleanError(r: { status: number; json: Record<string, unknown> }, status: number): void {
  assertEquals(r.status, status, JSON.stringify(r.json));
  assertEquals(r.json.status, status);
  assert(typeof r.json.error === "string" && r.json.error.length > 0);
  assert(!/\n\s+at /.test(r.json.error as string), "no stack trace in the error");
}

function multipart(files: { name: string; bytes: Uint8Array<ArrayBuffer>; type?: string }[]): FormData {
  const form = new FormData();
  for (const f of files) form.append("image", new File([f.bytes], f.name, { type: f.type ?? "image/png" }));
  return form;
}

/** Assert that `url` is a greyscale PNG data URL of `map` (`size × size`) scaled by its maximum to 0..255. */
async function assertPngMap(url: unknown, map: Float32Array, size: number): Promise<void> {
  assert(typeof url === "string" && url.startsWith("data:image/png;base64,"), String(url).slice(0, 40));
  const png = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (ch) => ch.charCodeAt(0));
  const { data, info } = await sharp(png).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
  assertEquals([info.width, info.height, info.channels], [size, size, 1]);
  const max = Math.max(...map);
  assert(max > 0, "the map is not all zero");
  for (let p = 0; p < size * size; p++) {
    assert(Math.abs(data[p] - Math.round((map[p] / max) * 255)) <= 1, `map pixel ${p}: ${data[p]}`);
  }
}

Deno.test({
  name: "app server: endpoints, multipart, error statuses, scores equal infer, no tensor leak",
  ...opts,
  fn: async (t) => {
    const fixture = await appTestBundle();
    await initBackend("wasm");
    const assets = await buildPageAssets();
    const limits = { maxBytes: 3_000_000, maxPixels: 1_000_000, maxImages: 5, batchSize: 4 };
    const server = await startAppServer({ modelDir: fixture.bundleDir, port: 0, limits, assets });
    const reference = await loadBundle(fixture.bundleDir);
    try {
      const expected = await inferImages(reference, fixture.images);
      const scoreOf = new Map(expected.map((p) => [p.path, p.score]));
      const threshold = expected[0].threshold;

      await t.step("binds to loopback by default; /healthz", async () => {
        assert(server.url.startsWith("http://127.0.0.1:"), server.url);
        const res = await fetch(`${server.url}healthz`);
        assertEquals(res.status, 200);
        assertEquals(await res.json(), { status: "ok", models: 1 });
      });

      await t.step("GET /api/models: category, image size, threshold, training summary", async () => {
        const body = await (await fetch(`${server.url}api/models`)).json();
        assertEquals(body.models.length, 1);
        const m = body.models[0];
        assertEquals(m.name, fixture.name);
        assertEquals(m.category, "synthetic_object");
        assertEquals(m.image_size, 48);
        assertEquals(m.threshold, threshold);
        assertEquals(m.training.step, 3);
        assertEquals(m.training.config.size, 48);
        // The exported model has SSPCAB, so its bundle carries SSPCAB's reconstruction-error map.
        assertEquals(m.has_anomaly_map, true);
        assert(m.outputs.includes("anomaly_map"), String(m.outputs));
        assert(m.files.includes("model.json") && m.files.includes("density.json"));
      });

      await t.step("raw-body predictions equal infer's scores", async () => {
        for (const path of fixture.images) {
          const r = await post(
            server,
            `?model=${fixture.name}&name=${encodeURIComponent(path)}`,
            await Deno.readFile(path),
          );
          assertEquals(r.status, 200, JSON.stringify(r.json));
          const want = scoreOf.get(path)!;
          assertEquals(r.json.image, path);
          assertEquals(r.json.model, fixture.name);
          assertAlmostEquals(r.json.pred_score as number, want, 1e-6 * Math.abs(want));
          assertEquals(r.json.threshold, threshold);
          assertEquals(r.json.pred_label, want >= threshold ? 1 : 0);
          assertEquals(r.json.verdict, want >= threshold ? "anomalous" : "normal");
          assert(typeof r.json.timing_ms === "number" && r.json.timing_ms > 0);
          // The map is the exported graph's anomaly_map (the tfjs engine's inferMaps), scaled to 0..255.
          const [map] = await inferMaps(reference, [await loadRgb(path, 48)]);
          await assertPngMap(r.json.anomaly_map_png, map, 48);
        }
      });

      await t.step("one model: ?model may be left out", async () => {
        const r = await post(server, "", await Deno.readFile(fixture.images[0]));
        assertEquals(r.status, 200);
        assertEquals(r.json.image, "image");
      });

      await t.step(
        "multipart with several images (more than a batch) → one result each, in order",
        async () => {
          const files = await Promise.all(
            fixture.images.slice(0, 5).map(async (p, i) => ({
              name: `img${i}.png`,
              bytes: await Deno.readFile(p),
            })),
          );
          const r = await post(server, `?model=${fixture.name}`, multipart(files));
          assertEquals(r.status, 200, JSON.stringify(r.json));
          const results = r.json.results as Record<string, unknown>[];
          assertEquals(results.map((x) => x.image), files.map((f) => f.name));
          results.forEach((x, i) => {
            const want = scoreOf.get(fixture.images[i])!;
            assertAlmostEquals(x.pred_score as number, want, 1e-6 * Math.abs(want));
          });
        },
      );

      await t.step("a JPEG upload scores as infer scores the same JPEG file", async () => {
        const jpegPath = join(fixture.root, "sample.jpg");
        await sharp(await Deno.readFile(fixture.images[1])).jpeg({ quality: 90 }).toFile(jpegPath);
        const [want] = await inferImages(reference, [jpegPath]);
        const r = await post(server, `?model=${fixture.name}`, await Deno.readFile(jpegPath));
        assertEquals(r.status, 200);
        assertAlmostEquals(r.json.pred_score as number, want.score, 1e-6 * Math.abs(want.score));
      });

      await t.step("8 concurrent requests: all correct", async () => {
        const bodies = await Promise.all(fixture.images.map((p) => Deno.readFile(p)));
        const rs = await Promise.all(
          Array.from(
            { length: 16 },
            (_, i) => post(server, `?model=${fixture.name}`, bodies[i % bodies.length]),
          ),
        );
        rs.forEach((r, i) => {
          assertEquals(r.status, 200);
          const want = scoreOf.get(fixture.images[i % bodies.length])!;
          assertAlmostEquals(r.json.pred_score as number, want, 1e-6 * Math.abs(want));
        });
      });

      await t.step("not an image → 415; corrupt or truncated → 422", async () => {
        assertCleanError(await post(server, "", new TextEncoder().encode("hello, not an image")), 415);
        assertCleanError(await post(server, "", await Deno.readFile("deno.json")), 415);
        const png = await Deno.readFile(fixture.images[0]);
        assertCleanError(await post(server, "", png.slice(0, Math.floor(png.length / 2))), 422);
        assertCleanError(await post(server, "", png.slice(0, 20)), 422);
        const garbage = png.slice();
        garbage.fill(7, 40);
        assertCleanError(await post(server, "", garbage), 422);
        const jpeg = await sharp(png).jpeg().toBuffer();
        assertCleanError(await post(server, "", new Uint8Array(jpeg).slice(0, 200)), 422);
        const files = [{ name: "ok.png", bytes: png }, {
          name: "notes.txt",
          bytes: new TextEncoder().encode("x"),
        }];
        const r = await post(server, "", multipart(files));
        assertCleanError(r, 415);
        assertStringIncludes(r.json.error as string, "notes.txt");
      });

      await t.step("over the byte, pixel or image-count limit → 413", async () => {
        assertCleanError(await post(server, "", new Uint8Array(limits.maxBytes + 1)), 413);
        const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: "#808080" } })
          .png().toBuffer();
        assertCleanError(await post(server, "", new Uint8Array(big)), 413);
        const png = await Deno.readFile(fixture.images[2]);
        const many = Array.from(
          { length: limits.maxImages + 1 },
          (_, i) => ({ name: `${i}.png`, bytes: png }),
        );
        assertCleanError(await post(server, "", multipart(many)), 413);
        // A streamed body without Content-Length is cut off at the limit too.
        const stream = new ReadableStream({
          start(c) {
            for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(1_000_000));
            c.close();
          },
        });
        assertCleanError(await post(server, "", stream), 413);
      });

      await t.step("unknown model → 404; a name with / or .. → 400; other bad requests", async () => {
        const png = await Deno.readFile(fixture.images[0]);
        assertCleanError(await post(server, "?model=nope", png), 404);
        assertCleanError(await post(server, "?model=..%2Fetc", png), 400);
        assertCleanError(await post(server, "?model=a/b", png), 400);
        assertCleanError(await post(server, "?model=..", png), 400);
        assertCleanError(await post(server, "", new Uint8Array(0)), 400);
        assertCleanError(await post(server, "", new FormData()), 400);
        const get = await fetch(`${server.url}api/predict`);
        assertEquals(get.status, 405);
        await get.body?.cancel();
        const missing = await fetch(`${server.url}api/nothing`);
        assertEquals(missing.status, 404);
        assertEquals((await missing.json()).status, 404);
      });

      await t.step("the page, its script, the wasm binaries and the bundle files are served", async () => {
        const html = await (await fetch(server.url)).text();
        for (const h of ['<th data-key="image">image', "verdict", "score", "threshold", "app.js"]) {
          assertStringIncludes(html, h);
        }
        assert(!/https?:\/\//.test(html), "no external URL in the page");
        const js = await fetch(`${server.url}app.js`);
        assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
        assert((await js.text()).length > 100_000);
        const wasm = await fetch(`${server.url}wasm/tfjs-backend-wasm-simd.wasm`);
        assertEquals(wasm.headers.get("content-type"), "application/wasm");
        assertEquals(
          new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4),
          new Uint8Array([0, 0x61, 0x73, 0x6d]),
        );
        const index = await (await fetch(`${server.url}models/index.json`)).json();
        assertEquals(index.models[0].name, fixture.name);
        const modelJson = await (await fetch(`${server.url}models/${fixture.name}/model.json`)).json();
        assertEquals(modelJson.format, "graph-model");
        const malformed = await fetch(`${server.url}models/%E0%A4%A/model.json`);
        assertEquals(malformed.status, 400);
        await malformed.body?.cancel();
        for (
          const bad of [`models/${fixture.name}/..%2F..%2Fdeno.json`, `models/${fixture.name}/secret.txt`]
        ) {
          const r = await fetch(`${server.url}${bad}`);
          assert(r.status === 404 || r.status === 400, `${bad}: ${r.status}`);
          await r.body?.cancel();
        }
      });

      await t.step("tensors: none leak over many predictions", async () => {
        const png = await Deno.readFile(fixture.images[3]);
        await post(server, "", png);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 10; i++) await post(server, "", png);
        await post(server, "", png.slice(0, 100));
        await post(server, "", multipart([{ name: "a.png", bytes: png }, { name: "b.png", bytes: png }]));
        assertEquals(tf.memory().numTensors, before);
      });
    } finally {
      reference.model.dispose();
      await server.close();
    }
  },
});

Deno.test({
  name: "app server: a folder of bundles lists them all; ?model is then required",
  ...opts,
  fn: async () => {
    const fixture = await appTestBundle();
    await initBackend("wasm");
    const multi = join(fixture.root, "bundles");
    for (const name of ["alpha", "beta"]) {
      await Deno.mkdir(join(multi, name), { recursive: true });
      for (const e of Deno.readDirSync(fixture.bundleDir)) {
        await Deno.copyFile(join(fixture.bundleDir, e.name), join(multi, name, e.name));
      }
    }
    const server = await startAppServer({ modelDir: multi, port: 0, assets: new Map() });
    try {
      const body = await (await fetch(`${server.url}api/models`)).json();
      assertEquals(body.models.map((m: { name: string }) => m.name), ["alpha", "beta"]);
      const png = await Deno.readFile(fixture.images[0]);
      assertCleanError(await post(server, "", png), 400);
      const a = await post(server, "?model=alpha", png);
      const b = await post(server, "?model=beta", png);
      assertEquals(a.status, 200);
      assertEquals(a.json.model, "alpha");
      assertEquals(b.json.pred_score, a.json.pred_score);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "app server: --model_dir that is not a bundle is a clear UserError",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      let message = "";
      await startAppServer({ modelDir: dir, port: 0, assets: new Map() }).catch((e) => (message = e.message));
      assertStringIncludes(message, "holds no inference bundle");
      await startAppServer({ modelDir: join(dir, "missing"), port: 0, assets: new Map() })
        .catch((e) => (message = e.message));
      assertStringIncludes(message, "is not a folder");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "app server: a bundle with an anomaly map answers anomaly_map_png (closed-form graph)",
  ...opts,
  fn: async () => {
    await initBackend("wasm");
    const dir = await Deno.makeTempDir({ prefix: "sspcab_app_map_" });
    const size = 16;
    const { density } = await writeMapBundle(dir, size);
    const server = await startAppServer({ modelDir: dir, port: 0, assets: new Map() });
    try {
      const models = (await (await fetch(`${server.url}api/models`)).json()).models;
      assertEquals(models[0].has_anomaly_map, true);
      const path = "../shared/data/samples/bad.png";
      const r = await post(server, "?name=bad.png", await Deno.readFile(path));
      assertEquals(r.status, 200, JSON.stringify(r.json));
      // Independent truth: the graph is channel means; score = sqrt(dᵀ P d) by hand.
      const rgb = await loadRgb(path, size);
      const mean = [0, 0, 0];
      const map = new Float64Array(size * size);
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < 3; c++) {
          mean[c] += rgb.data[p * 3 + c] / (size * size);
          map[p] += rgb.data[p * 3 + c] / 3;
        }
      }
      const d = mean.map((m, i) => m - density.location[i]);
      let q = 0;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) q += d[i] * density.precision.data[i * 3 + j] * d[j];
      }
      assertAlmostEquals(r.json.pred_score as number, Math.sqrt(q), 1e-4 * Math.sqrt(q));
      const url = r.json.anomaly_map_png as string;
      assert(url.startsWith("data:image/png;base64,"), url.slice(0, 40));
      const png = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (ch) => ch.charCodeAt(0));
      assertEquals(png[25], 0, "a greyscale PNG");
      const { data, info } = await sharp(png).toColourspace("b-w").raw().toBuffer({
        resolveWithObject: true,
      });
      assertEquals([info.width, info.height, info.channels], [size, size, 1]);
      const max = Math.max(...map);
      for (let p = 0; p < size * size; p++) {
        assert(Math.abs(data[p] - Math.round((map[p] / max) * 255)) <= 1, `map pixel ${p}`);
      }
      const multi = await post(
        server,
        "",
        multipart([{ name: "a.png", bytes: await Deno.readFile(path) }, {
          name: "b.png",
          bytes: await Deno.readFile("../shared/data/samples/good.png"),
        }]),
      );
      const results = multi.json.results as Record<string, unknown>[];
      assertEquals(results[0].anomaly_map_png, url);
      assert(typeof results[1].anomaly_map_png === "string" && results[1].anomaly_map_png !== url);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "app server, onnxruntime engine: a bundle exported with format all answers as the tfjs engine does",
  ...opts,
  ignore: ortMissing !== "",
  fn: async () => {
    const fixture = await appTestBundle();
    const dir = await appTestBundleAll();
    await initBackend("wasm");
    const tfjs = await startAppServer({ modelDir: dir, port: 0, assets: new Map() });
    const ort = await startAppServer({ modelDir: dir, port: 0, assets: new Map(), engine: "onnxruntime" });
    try {
      const [a, b] = await Promise.all(
        [tfjs, ort].map(async (s) => await (await fetch(`${s.url}api/models`)).json()),
      );
      assertEquals([a.engine, b.engine], ["tfjs", "onnxruntime"]);
      assertEquals(b.models, a.models);
      assertEquals(b.models[0].has_anomaly_map, true);
      const files = fixture.images.map((p, i) => ({ name: `img${i}.png`, bytes: Deno.readFileSync(p) }));
      const [rt, ro] = [await post(tfjs, "", multipart(files)), await post(ort, "", multipart(files))];
      assertEquals([rt.status, ro.status], [200, 200], JSON.stringify(ro.json));
      const [resT, resO] = [rt.json.results, ro.json.results] as Record<string, unknown>[][];
      assertEquals(resO.length, files.length);
      let worstMap = 0;
      let worstScore = 0;
      for (let i = 0; i < files.length; i++) {
        const [t, o] = [resT[i], resO[i]];
        const st = t.pred_score as number;
        assertAlmostEquals(o.pred_score as number, st, 1e-4 * Math.abs(st), `${files[i].name}`);
        worstScore = Math.max(worstScore, Math.abs((o.pred_score as number) - st) / Math.abs(st));
        for (const k of ["image", "model", "threshold", "pred_label", "verdict"]) assertEquals(o[k], t[k], k);
        // Same map: the PNGs decode to the same greyscale pixels up to one level of rounding.
        const decode = async (url: unknown) => {
          assert(
            typeof url === "string" && url.startsWith("data:image/png;base64,"),
            String(url).slice(0, 40),
          );
          const png = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (ch) => ch.charCodeAt(0));
          return (await sharp(png).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true }));
        };
        const [mt, mo] = [await decode(t.anomaly_map_png), await decode(o.anomaly_map_png)];
        assertEquals([mo.info.width, mo.info.height], [mt.info.width, mt.info.height]);
        for (let p = 0; p < mt.data.length; p++) {
          worstMap = Math.max(worstMap, Math.abs(mt.data[p] - mo.data[p]));
        }
      }
      assert(worstMap <= 1, `anomaly map PNGs differ by ${worstMap} levels`);
      console.log(
        `onnxruntime vs tfjs: scores max rel Δ ${worstScore.toExponential(2)}, map ≤ ${worstMap} levels`,
      );
      const raw = await post(ort, "?name=one.png", files[0].bytes);
      assertEquals(raw.json.pred_score, resO[0].pred_score);
      assertCleanError(await post(ort, "", files[0].bytes.slice(0, 100)), 422);
    } finally {
      await tfjs.close();
      await ort.close();
    }
  },
});

Deno.test({
  name: "app server, onnxruntime engine: a tfjs-only bundle is a clear error naming model.onnx",
  ...opts,
  fn: async () => {
    const fixture = await appTestBundle();
    let message = "";
    await startAppServer({ modelDir: fixture.bundleDir, port: 0, assets: new Map(), engine: "onnxruntime" })
      .then((s) => s.close(), (e) => (message = e.message));
    assertStringIncludes(message, join(fixture.bundleDir, "model.onnx"));
    assertStringIncludes(message, "--format onnx");
    assertStringIncludes(message, "all");
    assert(!message.includes("onnxruntime-node"), "the bundle is checked before the optional package");
  },
});

Deno.test({
  name: "app server, onnxruntime engine: without onnxruntime-node, the engine's own error says how to add it",
  ...opts,
  ignore: ortMissing === "",
  fn: async () => {
    const dir = await appTestBundleAll();
    let message = "";
    await startAppServer({ modelDir: dir, port: 0, assets: new Map(), engine: "onnxruntime" })
      .then((s) => s.close(), (e) => (message = e.message));
    assertStringIncludes(message, "deno add npm:onnxruntime-node@1.31.1");
  },
});
