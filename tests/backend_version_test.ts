/**
 * The tfjs version check in front of our wasm patches (`lib/backend/tfjs_version.ts`): 4.22.x passes, any
 * other major.minor is refused with one notice line; and — in a child process, since the wasm runtime starts
 * once per process — a start with an injected foreign version runs the stock kernels (no
 * `Conv2DBackpropFilter`, no lean backward pass, one thread), prints the notice exactly once over two starts,
 * and says so in the description, while inference on it still works.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  isPatchedTfjs,
  loadedTfjsVersions,
  PATCHED_TFJS,
  tfjsMismatchNotice,
} from "../lib/backend/tfjs_version.ts";

Deno.test("tfjs version: 4.22.x matches, other major.minor releases do not", () => {
  for (const v of ["4.22.0", "4.22.1", "4.22.10-rc.0", " 4.22.0 "]) assert(isPatchedTfjs(v), v);
  for (const v of ["4.23.0", "4.2.2", "5.22.0", "3.22.0", "4.220.0", "", "4"]) assert(!isPatchedTfjs(v), v);
  assertEquals(PATCHED_TFJS, "4.22");
});

Deno.test("tfjs version: the notice names the package and version found, and only on a mismatch", () => {
  assertEquals(tfjsMismatchNotice({ core: "4.22.0", wasm: "4.22.0" }), null);
  assertEquals(
    tfjsMismatchNotice({ core: "4.23.1", wasm: "4.22.0" }),
    "note: tfjs 4.23.1 is not the 4.22 our wasm kernels were written for; using the stock kernels " +
      "(wasm cannot train then)",
  );
  assertStringIncludes(tfjsMismatchNotice({ core: "4.22.0", wasm: "5.0.0" })!, "tfjs-backend-wasm 5.0.0");
  // The project pins 4.22.0 (deno.json): the loaded packages pass.
  assertEquals(tfjsMismatchNotice(loadedTfjsVersions()), null);
});

Deno.test("tfjs version: with another version injected the stock wasm kernels run, after one notice", async () => {
  const config = new URL("../deno.json", import.meta.url);
  const wasm = new URL("../lib/backend/wasm.ts", import.meta.url);
  const lean = new URL("../lib/backend/lean_backprop.ts", import.meta.url);
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { startWasmBackend } from "${wasm.href}";
import { leanBackpropInstalled } from "${lean.href}";
const stockInput = tf.getKernel(tf.Conv2DBackpropInput, "wasm");
const first = await startWasmBackend({ threads: 2 }, { versions: { core: "4.23.0" } });
await tf.setBackend("cpu");
const second = await startWasmBackend({ threads: 2 }, { versions: { core: "4.23.0" } });
const y = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 2, 1]), 1, "same").dataSync());
console.log(JSON.stringify({
  first, second, backend: tf.getBackend(),
  filterGrad: tf.getKernel(tf.Conv2DBackpropFilter, "wasm") != null,
  stockInput: tf.getKernel(tf.Conv2DBackpropInput, "wasm") === stockInput,
  lean: leanBackpropInstalled(),
  centre: y[5],
}));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config.pathname, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, `child failed:\n${stdout}\n${stderr}`);
    const line = stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
    assert(line, `no result from the child:\n${stdout}`);
    const r = JSON.parse(line);
    const notices = stderr.split("\n").filter((l) => l.startsWith("note: tfjs 4.23.0 is not the 4.22"));
    assertEquals(notices.length, 1, `one notice line over two starts:\n${stderr}`);
    assertEquals(r.backend, "wasm");
    assertEquals(r.first.canTrain, false);
    assertEquals(r.second.canTrain, false);
    assertStringIncludes(r.first.device, "stock kernels");
    assertStringIncludes(r.first.device, "1 thread");
    assert(!r.first.device.includes("FMA") && !r.first.device.includes("GEMM"), r.first.device);
    assertEquals(r.filterGrad, false, "stock wasm has no Conv2DBackpropFilter: ours was not registered");
    assertEquals(r.stockInput, true, "the stock Conv2DBackpropInput is still in place");
    assertEquals(r.lean, false, "the engine's backward pass was not patched");
    assertEquals(r.centre, 18, "a 3×3 all-ones conv over 2 channels of ones sums 18 inside the image");
  } finally {
    await Deno.remove(script);
  }
});
