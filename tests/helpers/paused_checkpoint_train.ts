/**
 * Test helper (run as a child process by tests/reliability_test.ts): trains a small synthetic category like
 * `deno task train`, through a file system writer that, on the N-th checkpoint write, writes half of the
 * temp file, creates a marker file and then stalls — so the test can kill -9 the process in the middle of the
 * checkpoint write itself.
 *
 * Usage: `deno run -A paused_checkpoint_train.ts <config.json> <pause at checkpoint write N> <marker path>`
 * @module
 */
import { denoFsWriter, type FsWriter, setFsWriter } from "../../lib/io/atomic_write.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { trainCategory } from "../../lib/train/trainer.ts";
import type { TrainConfig } from "../../lib/train/config.ts";

const [configPath, pauseAt, marker] = Deno.args;
const config = JSON.parse(await Deno.readTextFile(configPath)) as TrainConfig;
let checkpointWrites = 0;
const paused: FsWriter = {
  ...denoFsWriter,
  async writeNew(path, bytes, sync) {
    if (
      !/\.checkpoint\.safetensors\.\d+\.[a-z0-9]+\.tmp$/.test(path) || ++checkpointWrites < Number(pauseAt)
    ) {
      return await denoFsWriter.writeNew(path, bytes, sync);
    }
    const file = await Deno.open(path, { write: true, createNew: true });
    await file.write(bytes.subarray(0, bytes.length >> 1));
    await file.sync();
    await Deno.writeTextFile(marker, path);
    await new Promise(() => setInterval(() => {}, 1000)); // stall until killed
  },
};
setFsWriter(paused);
await initBackend("wasm");
await trainCategory(config, { releaseOnSignal: true });
console.log("finished without pausing");
