/**
 * `deno task app:build` — write the inspection page and the bundles as a static folder that any static file
 * server can serve (no API behind it; the model runs in the browser).
 * @module
 */
import { parseCommand } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";
import { buildStaticApp } from "../app/static_build.ts";

const SUMMARY = "Build the inspection app as a static folder (page + bundles, no server needed).";

const FLAGS = defineFlags({
  model_dir: { type: "string", help: "bundle folder (outputs/inference/<category>) or a folder of them" },
  out: { type: "string", default: "outputs/app", help: "output folder" },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("app:build", SUMMARY, FLAGS);
    if (!flags) return;
    if (!flags.model_dir) {
      throw new UserError("--model_dir is required", "e.g. --model_dir outputs/inference/bottle");
    }
    const built = await buildStaticApp({ modelDir: flags.model_dir, outDir: flags.out });
    console.log(
      `wrote ${built.files.length} files for ${
        built.models.map((m) => m.name).join(", ")
      } to ${built.outDir}`,
    );
    console.log(`serve that folder with any static file server (e.g. \`python3 -m http.server\` inside it)`);
  });
}
