/**
 * `deno task weights` — download ImageNet ResNet18 weights into `data/weights/` (checksum and shapes checked),
 * or, offline, say where to put the file.
 * @module
 */
import { defineFlags, parseFlags, usage } from "./flags.ts";
import { runCli } from "../util/errors.ts";
import { defaultPretrainedPath, downloadPretrained, PRETRAINED_SOURCE } from "../model/pretrained.ts";

const SUMMARY = `Download ImageNet ResNet18 weights (${PRETRAINED_SOURCE.repo}) for --pretrained.`;
const FLAGS = defineFlags({
  dest: { type: "string", default: defaultPretrainedPath(), help: "where to save the safetensors file" },
  force: { type: "boolean", default: false, help: "download again even if a valid file is present" },
});

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseFlags(Deno.args, FLAGS, "weights", SUMMARY);
    if (flags.help) return console.log(usage("weights", SUMMARY, FLAGS));
    const result = await downloadPretrained(flags.dest, { force: flags.force });
    console.log(
      `${
        result.downloaded ? "downloaded" : "already present and valid"
      }: ${result.path} (sha256 ${result.sha256})`,
    );
  });
}
