/**
 * `deno task data` — get data in the MVTec AD layout: extract the official archive
 * (`mvtec_anomaly_detection.tar.xz`, streamed, verified, idempotent) into `data/mvtec`, or generate the
 * embedded synthetic MVTec-like set; then print the per-category counts.
 * @module
 */
import { parseCommand } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { extractMvtec } from "../data/extract.ts";
import { ensureSyntheticDataset, syntheticOptions } from "../pipeline/ensure_dataset.ts";
import { categoryCounts, listCategory, resolveCategories } from "../data/mvtec.ts";

const SUMMARY = "Extract MVTec AD (or generate the synthetic set) and list per-category image counts.";

const FLAGS = defineFlags({
  archive: { type: "string", default: "data/mvtec_anomaly_detection.tar.xz", help: "the official archive" },
  data_dir: { type: "string", default: "data/mvtec", help: "destination folder" },
  synthetic: { type: "boolean", default: false, help: "generate the synthetic MVTec-like set instead" },
  size: { type: "number", default: 128, help: "synthetic image size" },
  force: { type: "boolean", default: false, help: "extract again even when complete" },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("data", SUMMARY, FLAGS);
    if (!flags) return;
    const dest = flags.data_dir;
    if (flags.synthetic) {
      // The same generator options (side clamp, seed) as the pipeline and the notebooks, reused when current.
      const side = syntheticOptions(flags.size).size;
      const generated = await ensureSyntheticDataset(dest, flags.size);
      console.log(
        generated
          ? `generated the synthetic set at ${side}×${side} px in ${dest}`
          : `${dest} already holds the synthetic set at ${side}×${side} px; nothing to do`,
      );
    } else {
      const result = await extractMvtec(flags.archive, dest, { force: flags.force });
      console.log(
        result.skipped
          ? `${dest} is already complete; nothing to do`
          : `extracted ${result.files} files into ${dest}`,
      );
    }
    console.log("category          train  test good  test defective (by type)");
    for (const category of await resolveCategories("all", dest)) {
      const c = categoryCounts(await listCategory(dest, category));
      const types = Object.entries(c.byDefectType).map(([k, v]) => `${k} ${v}`).join(", ");
      console.log(
        `${category.padEnd(17)} ${String(c.train).padStart(5)}  ${
          String(c.testGood).padStart(9)
        }  ${c.testDefective} (${types})`,
      );
    }
  });
}
