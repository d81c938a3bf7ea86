/**
 * `app:build`: write the page and the bundles as a static folder — `index.html`, `app.js`, `style.css`,
 * `wasm/*.wasm`, `models/index.json` and `models/<name>/…` — that works from any static file server with no
 * API behind it (the page then runs in-browser only; its API switch is disabled).
 * @module
 */
import { basename, dirname, join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic_write.ts";
import { buildPageAssets, type StaticAsset } from "./assets.ts";
import { findBundleDirs, isValidModelName, type ModelSummary, summarizeBundle } from "./models.ts";
import { readBundleMetadata } from "../export/bundle_metadata.ts";
import { readGraphModelJson } from "../export/bundle_io.ts";
import { UserError } from "../util/errors.ts";

/** What {@link buildStaticApp} wrote. */
export interface StaticBuild {
  /** The output folder. */
  outDir: string;
  /** The bundles it holds. */
  models: ModelSummary[];
  /** Every file written, relative to `outDir`. */
  files: string[];
}

/** Write the static app for the bundles under `modelDir` into `outDir` (created when missing). */
export async function buildStaticApp(
  options: { modelDir: string; outDir: string; assets?: Map<string, StaticAsset> },
): Promise<StaticBuild> {
  const assets = options.assets ?? await buildPageAssets();
  const files: string[] = [];
  const write = async (rel: string, body: Uint8Array) => {
    const path = join(options.outDir, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, body);
    files.push(rel);
  };
  for (const [rel, asset] of assets) await write(rel, asset.body);
  const models: ModelSummary[] = [];
  for (const dir of await findBundleDirs(options.modelDir)) {
    const name = basename(dir);
    if (!isValidModelName(name)) {
      throw new UserError(`bundle folder ${dir}: "${name}" is not a usable model name`, "rename the folder");
    }
    const metadata = await readBundleMetadata(dir);
    const shards = (await readGraphModelJson(dir)).weightsManifest.flatMap((g) => g.paths);
    const summary = summarizeBundle(name, metadata, shards);
    for (const f of summary.files) await write(join("models", name, f), await Deno.readFile(join(dir, f)));
    models.push(summary);
  }
  await writeJsonAtomic(join(options.outDir, "models", "index.json"), { models, api: false });
  files.push(join("models", "index.json"));
  return { outDir: options.outDir, models, files };
}
