/**
 * A small exported bundle for the app tests: the pipeline (synthetic data, 3 training steps, side 48, wasm
 * backend, no pretrained weights) writes it into a temporary folder, once per test process. Side 48 is below
 * the synthetic images' 64 px, so the page's resize is exercised on every image.
 * @module
 */
import { join } from "node:path";
import { runPipeline } from "../../lib/pipeline/run_pipeline.ts";
import { exportBundle } from "../../lib/export/bundle.ts";
import { runPaths } from "../../lib/train/config.ts";
import { initBackend } from "../../lib/backend/mod.ts";

/** Where the test bundle and its data are. */
export interface AppTestBundle {
  /** Temporary root (remove it when done). */
  root: string;
  /** The bundle folder. */
  bundleDir: string;
  /** Its model name (folder name). */
  name: string;
  /** Test images: the two samples and a few synthetic good and defective ones. */
  images: string[];
  /** The trained models' folder (for further exports). */
  modelDir: string;
}

let cached: Promise<AppTestBundle> | undefined;

/** Train, evaluate and export a tiny bundle (once per process). */
export function appTestBundle(): Promise<AppTestBundle> {
  cached ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "sspcab_app_" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* already gone */ }
    });
    const result = await runPipeline({
      outputDir: root,
      category: "synthetic_object",
      epochs: 3,
      testEpochs: 3,
      batchSize: 2,
      size: 48,
      backend: "wasm",
      trainFlags: ["--no-pretrained"],
      report: () => {},
    });
    const test = join(result.dataDir, "synthetic_object", "test");
    const images = ["../shared/data/samples/good.png", "../shared/data/samples/bad.png"];
    for (const sub of ["good", "scratch"]) {
      const names = [...Deno.readDirSync(join(test, sub))].map((e) => e.name).filter((n) =>
        n.endsWith(".png")
      );
      images.push(...names.sort().slice(0, 2).map((n) => join(test, sub, n)));
    }
    return { root, bundleDir: result.bundleDir, name: "synthetic_object", images, modelDir: result.modelDir };
  })();
  return cached;
}

let cachedAll: Promise<string> | undefined;

/**
 * The same trained model exported again with `format: "all"` (model.json and model.onnx), in this process on
 * the wasm backend; its folder.
 */
export function appTestBundleAll(): Promise<string> {
  cachedAll ??= (async () => {
    const fixture = await appTestBundle();
    const category = fixture.name;
    const outDir = join(fixture.root, "inference_all", category);
    const modelPath = runPaths({ category, modelDir: fixture.modelDir, logDir: "" }).best;
    await initBackend("wasm"); // the export builds the network in this process
    await exportBundle({ modelPath, category, outDir, format: "all" });
    return outDir;
  })();
  return cachedAll;
}
