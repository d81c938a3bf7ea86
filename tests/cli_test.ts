/**
 * The command-line entry points on bad input: a clear one-line `error:` and a non-zero exit, never a stack
 * trace — unknown flag, missing data folder, category without images, missing or mismatched model file,
 * corrupt image, missing bundle.
 */
import { join } from "@std/path";
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { createProjectionNet } from "../lib/model/projection_net.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { modelConfigFor, TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { fittedModelPath, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { fitGaussianDensity } from "../lib/eval/density.ts";

const root = join(import.meta.dirname!, "..");

async function cli(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(root, "lib", "cli", script), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", SSPCAB_BACKEND: "cpu" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertCleanError(r: { code: number; stderr: string }, ...fragments: string[]) {
  assert(r.code !== 0, "expected a non-zero exit code");
  assertStringIncludes(r.stderr, "error: ");
  assert(!/\n\s+at .*\.(ts|js):\d+/.test(r.stderr), `stack trace printed:\n${r.stderr}`);
  for (const f of fragments) assertStringIncludes(r.stderr, f);
}

Deno.test("train: unknown flag prints usage, not a stack trace", async () => {
  const r = await cli("train.ts", ["--bogus_flag", "1"]);
  assertCleanError(r, "unknown flag --bogus_flag", "usage: deno task train");
});

Deno.test("train: a flag needing a number rejects text", async () => {
  const r = await cli("train.ts", ["--epochs", "many"]);
  assertCleanError(r, "--epochs takes a number");
});

Deno.test("train: missing data folder names it", async () => {
  const r = await cli("train.ts", ["--data_dir", "/nonexistent/mvtec", "--type", "bottle"]);
  assertCleanError(r, "/nonexistent/mvtec");
});

Deno.test("train/eval/predict/export/infer on bad inputs", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_cli_" });
  try {
    await generateSyntheticDataset(join(dir, "data"), {
      categories: ["synthetic_texture"],
      size: 32,
      trainCount: 2,
      testGoodCount: 1,
      testBadCount: 1,
    });
    const emptyCat = join(dir, "data", "empty_cat", "train", "good");
    await Deno.mkdir(emptyCat, { recursive: true });

    await t.step("category with no images", async () => {
      const r = await cli("train.ts", ["--data_dir", join(dir, "data"), "--type", "empty_cat"]);
      assertCleanError(r, "empty_cat");
    });
    await t.step("missing pretrained weights say how to get them", async () => {
      const r = await cli("train.ts", [
        "--data_dir",
        join(dir, "data"),
        "--type",
        "synthetic_texture",
        "--pretrained",
        join(dir, "none.safetensors"),
        "--epochs",
        "1",
        "--batch_size",
        "1",
        "--size",
        "32",
        "--model_dir",
        join(dir, "models"),
        "--log_dir",
        join(dir, "logs"),
      ]);
      assertCleanError(r, "none.safetensors", "deno task weights", "--no-pretrained");
    });
    await t.step("eval without a trained model", async () => {
      const r = await cli("eval.ts", [
        "--data_dir",
        join(dir, "data"),
        "--type",
        "synthetic_texture",
        "--model_dir",
        join(dir, "nomodels"),
      ]);
      assertCleanError(r, "model file not found", "model-synthetic_texture.safetensors");
    });
    await t.step("eval with a mismatched model file lists the tensors", async () => {
      await initBackend("cpu");
      const modelDir = join(dir, "mismatch");
      const net = createProjectionNet(modelConfigFor({ ...TRAIN_DEFAULTS, headLayer: 2 }), 0);
      await saveStateDict(net.specs, net.params, join(modelDir, "model-synthetic_texture.safetensors"));
      const r = await cli("eval.ts", [
        "--data_dir",
        join(dir, "data"),
        "--type",
        "synthetic_texture",
        "--model_dir",
        modelDir,
        "--head_layer",
        "1",
      ]);
      // The file records no config, so --head_layer 1 is used and the extra head tensors are reported by name.
      assertCleanError(r, "does not fit this model", "unexpected", "head.");
    });
    await t.step("predict with a corrupt image names the file", async () => {
      const bad = join(dir, "corrupt.png");
      await Deno.writeFile(bad, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
      const modelDir = join(dir, "fitted");
      await saveFittedModel(fittedModelPath(modelDir, "synthetic_texture"), {
        category: "synthetic_texture",
        imageSize: 32,
        density: fitGaussianDensity([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], { l2Normalize: true }),
        threshold: 1,
        auroc: 0.5,
      });
      const r = await cli("predict.ts", [
        "--data_type",
        "synthetic_texture",
        "--img_file",
        bad,
        "--model_dir",
        modelDir,
      ]);
      assertCleanError(r, "corrupt.png");
    });
    await t.step("infer with a missing bundle", async () => {
      const r = await cli("infer.ts", [
        "--model_dir",
        join(dir, "nobundle"),
        "--img_path",
        join(dir, "corrupt.png"),
      ]);
      assertCleanError(r, "metadata.json");
    });
    await t.step("help exits 0", async () => {
      const r = await cli("eval.ts", ["--help"]);
      assertEquals(r.code, 0);
      assertStringIncludes(r.stdout, "--save_plots");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "train: killed with SIGKILL mid-run, --resume finishes from the last checkpoint",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_kill_" });
    try {
      await generateSyntheticDataset(join(dir, "data"), {
        categories: ["synthetic_object"],
        size: 32,
        trainCount: 3,
        testGoodCount: 1,
        testBadCount: 1,
      });
      const args = [
        "run",
        "-A",
        join(root, "lib", "cli", "train.ts"),
        "--data_dir",
        join(dir, "data"),
        "--type",
        "synthetic_object",
        "--model_dir",
        join(dir, "models"),
        "--log_dir",
        join(dir, "logs"),
        "--epochs",
        "12",
        "--test_epochs",
        "2",
        "--batch_size",
        "1",
        "--size",
        "32",
        "--no-pretrained",
        "--backend",
        "wasm",
      ];
      const checkpoint = join(dir, "models", "model-synthetic_object.checkpoint.safetensors");
      const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "null" }).spawn();
      const deadline = Date.now() + 120_000;
      while (!(await Deno.stat(checkpoint).then(() => true, () => false)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGKILL");
      const status = await child.status;
      assert(!status.success, "the run was killed before finishing");
      const resumed = await new Deno.Command(Deno.execPath(), {
        args: [...args, "--resume"],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const out = new TextDecoder().decode(resumed.stdout);
      assertEquals(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
      assertStringIncludes(out, "resumed from");
      assertStringIncludes(out, "synthetic_object: 12 steps");
      const leftovers = [...Deno.readDirSync(join(dir, "models"))].filter((e) => e.name.endsWith(".tmp"));
      assertEquals(leftovers.length, 0, "a resumed run removes temp files of a write that was killed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
