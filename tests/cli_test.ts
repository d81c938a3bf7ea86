/**
 * The flag parser (typed from the declaration: values, defaults, choices, the forms it accepts) and the
 * command-line entry points on bad input: a clear one-line `error:` and a non-zero exit, never a stack
 * trace — unknown flag, bad environment variable, missing data folder, category without images, missing or
 * mismatched model file, corrupt image, missing bundle. `export` / `infer --heatmap` / `predict --heatmap`:
 * the stored map and the same printed line — for a patch model (`--map patch`) the bundle's patch model
 * draws infer's map (tfjs, and onnxruntime when installed), equal to predict's within 1e-4 of the map max.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { defineFlags, type ParsedFlags, parseFlags, usage } from "../lib/cli/flags.ts";
import { parseCommand } from "../lib/cli/common.ts";
import { TRAIN_FLAGS, trainConfigFromFlags } from "../lib/cli/train.ts";
import { pipelineFlags, pipelineOptionsFromFlags } from "../lib/cli/pipeline_flags.ts";
import { UserError } from "../lib/util/errors.ts";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { createProjectionNet } from "../lib/model/projection_net.ts";
import { saveStateDict } from "../lib/model/state_dict.ts";
import { modelConfigFor, TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { fittedModelPath, saveFittedModel } from "../lib/eval/fitted_model.ts";
import { fitGaussianDensity } from "../lib/eval/density.ts";
import { embedImages } from "../lib/eval/embed.ts";
import { loadRgb } from "../lib/data/images.ts";
import { patchModelOnDisk } from "./helpers/patch_model.ts";
import { loadOnnxRuntime } from "../lib/export/onnx_engine.ts";

const root = join(import.meta.dirname!, "..");

async function cli(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(root, "lib", "cli", script), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", SSPCAB_BACKEND: "cpu", ...env },
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

/** Compile-time equality of two types: `true` only when each is assignable to the other. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

const SPEC = defineFlags({
  data_dir: { type: "string", default: "data/mvtec", help: "data folder" },
  epochs: { type: "number", default: 500, help: "training steps" },
  save_plots: { type: "boolean", default: false, help: "write plots" },
  optim: { type: "string", default: "sgd", choices: ["sgd", "adam"], help: "optimiser" },
  variant: { type: "string", choices: ["3way", "scar"], help: "variant" },
  model_path: { type: "string", aliases: ["model"], help: "model file" },
  seed: { type: "number", help: "seed" },
  resume: { type: "boolean", help: "resume" },
});

Deno.test("flags: value types are inferred from the declaration (defaults, undefined, choices)", () => {
  const f = parseFlags([], SPEC, "t", "");
  const exact: Equals<
    typeof f,
    {
      data_dir: string;
      epochs: number;
      save_plots: boolean;
      optim: "sgd" | "adam";
      variant: "3way" | "scar" | undefined;
      model_path: string | undefined;
      seed: number | undefined;
      resume: boolean | undefined;
    } & { help: boolean; _: string[] }
  > = true;
  assert(exact);
  // The same inference from an `as const` declaration.
  const plain = { n: { type: "number", default: 1, help: "" }, s: { type: "string", help: "" } } as const;
  const g = parseFlags([], plain, "t", "");
  const exactPlain: Equals<typeof g, { n: number; s: string | undefined } & { help: boolean; _: string[] }> =
    true;
  assert(exactPlain);
  // Defaults fill in, flags without one stay undefined.
  assertEquals(f, {
    data_dir: "data/mvtec",
    epochs: 500,
    save_plots: false,
    optim: "sgd",
    help: false,
    _: [],
  });
  assertEquals(g, { n: 1, help: false, _: [] });
  // A choice default outside its choices, or an unknown type, does not compile.
  // @ts-expect-error "rmsprop" is not one of the choices
  defineFlags({ optim: { type: "string", default: "rmsprop", choices: ["sgd", "adam"], help: "" } });
  // @ts-expect-error no such flag type
  defineFlags({ n: { type: "integer", help: "" } });
  // @ts-expect-error a number default on a string flag
  defineFlags({ s: { type: "string", default: 3, help: "" } });
});

Deno.test("flags: snake_case, kebab-case, =value, aliases, booleans, positionals, last one wins", () => {
  const f = parseFlags(
    [
      "--data-dir",
      "x",
      "pos1",
      "--epochs=8",
      "--save-plots",
      "--optim",
      "adam",
      "--model",
      "m.safetensors",
      "--resume",
      "false",
      "--seed",
      "-3",
      "--variant=scar",
      "pos2",
      "--epochs",
      "1e2",
    ],
    SPEC,
    "t",
    "",
  );
  assertEquals(f, {
    data_dir: "x",
    epochs: 100,
    save_plots: true,
    optim: "adam",
    variant: "scar",
    model_path: "m.safetensors",
    seed: -3,
    resume: false,
    help: false,
    _: ["pos1", "pos2"],
  });
  assertEquals(parseFlags(["--no-save_plots"], SPEC, "t", "").save_plots, false);
  assertEquals(parseFlags(["--no-save-plots"], SPEC, "t", "").save_plots, false);
  assertEquals(parseFlags(["--save_plots=0"], SPEC, "t", "").save_plots, false);
  assertEquals(parseFlags(["--save_plots=TRUE"], SPEC, "t", "").save_plots, true);
  assertEquals(parseFlags(["--help"], SPEC, "t", "").help, true);
  assertEquals(parseFlags(["-h"], SPEC, "t", "").help, true);
});

Deno.test("flags: unknown, malformed or out-of-choice flags are a UserError with the usage text", () => {
  const bad: [string[], string][] = [
    [["--optim", "rmsprop"], 'must be one of sgd, adam, got "rmsprop"'],
    [["--variant=union"], "must be one of 3way, scar"],
    [["--epochs"], "--epochs needs a value"],
    [["--epochs", "many"], '--epochs takes a number, got "many"'],
    [["--epochs="], "--epochs takes a number"],
    [["--save_plots=maybe"], "--save_plots takes true or false"],
    [["--no-save_plots=1"], "takes no value"],
    [["--no-epochs"], "unknown flag --no_epochs"],
    [["--nope"], "unknown flag --nope"],
  ];
  for (const [args, message] of bad) {
    const err = assertThrows(() => parseFlags(args, SPEC, "t", "what t does"), UserError, message);
    assertStringIncludes(err.message, "usage: deno task t [flags]\nwhat t does");
  }
  assertThrows(() => parseFlags([], { help: { type: "boolean", help: "" } }, "t", ""), Error, "reserved");
});

Deno.test("flags: usage lists names, aliases, value kinds, choices and defaults", () => {
  const text = usage("t", "what t does", SPEC);
  assertStringIncludes(text, "usage: deno task t [flags]\nwhat t does\n\nflags:\n");
  assertStringIncludes(text, "--data_dir VALUE");
  assertStringIncludes(text, "(default: data/mvtec)");
  assertStringIncludes(text, "--epochs N");
  assertStringIncludes(text, "--optim sgd|adam");
  assertStringIncludes(text, "--model_path, --model VALUE");
  assert(/--save_plots\s+write plots \(default: false\)/.test(text), text);
  assertStringIncludes(text, "--help");
});

Deno.test("flags: a function default is evaluated only when the flag is not given", () => {
  const UNDECLARED = "SSPCAB_UNDECLARED_" + "VARIABLE";
  let calls = 0;
  const spec = defineFlags({
    backend: {
      type: "string",
      choices: ["auto", "cpu"],
      default: () => {
        calls++;
        return "auto" as const;
      },
      help: "",
    },
    broken: {
      type: "string",
      default: (): string => {
        throw new UserError(`invalid ${UNDECLARED}`);
      },
      help: "a default that cannot be computed",
    },
  });
  const f = parseFlags(["--backend", "cpu", "--broken", "x"], spec, "t", "");
  assertEquals([f.backend, f.broken, calls], ["cpu", "x", 0]);
  assertEquals(parseFlags(["--broken", "x"], spec, "t", "").backend, "auto");
  assertEquals(calls, 1);
  assertThrows(() => parseFlags([], spec, "t", ""), UserError, UNDECLARED);
  // The usage text leaves out a default it cannot compute instead of failing.
  assert(!usage("t", "", spec).includes("(default: undefined"));
  assertStringIncludes(usage("t", "", spec), "a default that cannot be computed\n");
});

Deno.test("flags: --backend defaults to SSPCAB_BACKEND, which is checked only when the flag is not given", () => {
  const before = Deno.env.get("SSPCAB_BACKEND");
  try {
    Deno.env.set("SSPCAB_BACKEND", "WASM");
    assertEquals(parseCommand("train", "", TRAIN_FLAGS, [])?.backend, "wasm");
    Deno.env.set("SSPCAB_BACKEND", "bogus");
    assertThrows(
      () => parseCommand("train", "", TRAIN_FLAGS, []),
      UserError,
      'invalid SSPCAB_BACKEND="bogus"',
    );
    assertEquals(parseCommand("train", "", TRAIN_FLAGS, ["--backend", "cpu"])?.backend, "cpu");
    Deno.env.delete("SSPCAB_BACKEND");
    assertEquals(parseCommand("train", "", TRAIN_FLAGS, [])?.backend, "auto");
  } finally {
    if (before === undefined) Deno.env.delete("SSPCAB_BACKEND");
    else Deno.env.set("SSPCAB_BACKEND", before);
  }
});

Deno.test("train: flags become the training configuration; counts must be positive integers", () => {
  const flags = parseCommand("train", "", TRAIN_FLAGS, [
    "--data_dir",
    "d",
    "--epochs",
    "7",
    "--test-epochs",
    "2.7",
    "--optim",
    "adam",
    "--schedule",
    "constant",
    "--variant",
    "scar",
    "--no-pretrained",
    "--no_sspcab",
    "--backend",
    "cpu",
  ])!;
  const exact: Equals<typeof flags.optim, "sgd" | "adam"> = true;
  assert(exact);
  const config = trainConfigFromFlags(flags, "bottle");
  assertEquals(
    [config.category, config.dataDir, config.epochs, config.testEpochs, config.optim, config.schedule],
    ["bottle", "d", 7, 2, "adam", "constant"],
  );
  assertEquals([config.variant, config.pretrained, config.sspcab, config.backend], [
    "scar",
    null,
    false,
    "cpu",
  ]);
  assertEquals(config.batchSize, 96, "the reference's default");
  const withWeights = trainConfigFromFlags(
    parseCommand("train", "", TRAIN_FLAGS, ["--pretrained", "w.st"])!,
    "c",
  );
  assertEquals(withWeights.pretrained, "w.st");
  for (const args of [["--epochs", "0"], ["--batch_size", "1.5"], ["--size", "-1"]]) {
    assertThrows(
      () => trainConfigFromFlags(parseCommand("train", "", TRAIN_FLAGS, args)!, "c"),
      UserError,
      "must be a positive integer",
    );
  }
});

Deno.test("pipeline/tipc: flags with per-command defaults and backend choices become pipeline options", () => {
  const tipc = pipelineFlags({
    outputDir: "outputs/tipc",
    epochs: 3,
    testEpochs: 3,
    batchSize: 2,
    size: 64,
    backend: "wasm",
    backendChoices: ["wasm", "cpu"] as const,
  });
  const flags: ParsedFlags<typeof tipc> = parseFlags(
    ["--type", "bottle", "--pretrained", "w"],
    tipc,
    "tipc",
    "",
  );
  const exact: Equals<typeof flags.backend, "wasm" | "cpu"> = true;
  assert(exact);
  const options = pipelineOptionsFromFlags(flags, false);
  assertEquals(
    [options.category, options.outputDir, options.epochs, options.batchSize, options.size, options.backend],
    ["bottle", "outputs/tipc", 3, 2, 64, "wasm"],
  );
  assertEquals(options.trainFlags, ["--pretrained", "w", "--freeze_resnet", "0"]);
  assertEquals(pipelineOptionsFromFlags(parseFlags([], tipc, "tipc", ""), true).trainFlags, [
    "--no-pretrained",
  ]);
  assertThrows(
    () => parseFlags(["--backend", "webgpu"], tipc, "tipc", ""),
    UserError,
    "must be one of wasm, cpu",
  );
});

Deno.test("train: unknown flag prints usage, not a stack trace", async () => {
  const r = await cli("train.ts", ["--bogus_flag", "1"]);
  assertCleanError(r, "unknown flag --bogus_flag", "usage: deno task train");
});

Deno.test("train: a flag needing a number rejects text", async () => {
  const r = await cli("train.ts", ["--epochs", "many"]);
  assertCleanError(r, "--epochs takes a number");
});

Deno.test("eval: a bad SSPCAB_BACKEND is a clean error naming the variable", async () => {
  const r = await cli("eval.ts", ["--type", "bottle"], { SSPCAB_BACKEND: "quantum" });
  assertCleanError(r, 'invalid SSPCAB_BACKEND="quantum"', "auto, tensorflow, webgpu, wasm, cpu");
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
      assertStringIncludes(r.stdout, "--localization, --localize none|sspcab|gradcam|patch|all");
    });
    await t.step("eval with an unknown --localization method lists the choices", async () => {
      const r = await cli("eval.ts", ["--type", "synthetic_texture", "--localize", "heatmap"]);
      assertCleanError(r, "heatmap", "sspcab|gradcam|patch|all");
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

Deno.test({
  name:
    "export/infer/predict --heatmap: the stored map, the same printed line; a patch record without its patch model and --map misuse are clean errors",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_cli_heatmap_" });
    try {
      await initBackend("cpu");
      const size = 64;
      const category = "synthetic_texture";
      await generateSyntheticDataset(join(dir, "data"), {
        categories: [category],
        size,
        trainCount: 1,
        testGoodCount: 1,
        testBadCount: 1,
      });
      const modelDir = join(dir, "models");
      const config = { ...TRAIN_DEFAULTS, category, size, headLayer: 2 };
      const net = createProjectionNet(modelConfigFor(config), 4);
      await saveStateDict(net.specs, net.params, join(modelDir, `model-${category}.safetensors`), {
        config: JSON.stringify(config),
        step: "1",
      });
      const testDir = join(dir, "data", category, "test");
      const files = [...Deno.readDirSync(testDir)].flatMap((d) =>
        [...Deno.readDirSync(join(testDir, d.name))].map((e) => join(testDir, d.name, e.name))
      ).sort();
      const imgDir = join(testDir, "good");
      const images = await embedImages(
        net,
        await Promise.all(
          [...Deno.readDirSync(imgDir)].map((e) => loadRgb(join(imgDir, e.name), size)),
        ),
      );
      // A density of two embeddings (Ledoit–Wolf keeps it invertible); the map's threshold is arbitrary but fixed.
      const rows = [
        Array.from(images.data.subarray(0, 512)),
        Array.from(images.data.subarray(0, 512), (v) => v * 1.1),
      ];
      net.params.forEach((v) => v.dispose());
      await saveFittedModel(fittedModelPath(modelDir, category), {
        category,
        imageSize: size,
        density: fitGaussianDensity(rows, { l2Normalize: true }),
        threshold: 1,
        auroc: 0.5,
        maps: [{
          method: "sspcab",
          options: { sigma: 0, layer: "layer3" },
          pixelThreshold: 1e-9,
          pixelAuroc: 0.5,
          auPro: 0.3,
        }],
      });
      const bundle = join(dir, "bundle");
      const exported = await cli("export.ts", [
        "--data_type",
        category,
        "--model_dir",
        modelDir,
        "--save_inference_dir",
        bundle,
      ]);
      assertEquals(exported.code, 0, exported.stderr);
      assertStringIncludes(exported.stdout, "anomaly map sspcab (pixel threshold 0.000000)");
      const predicted = await cli("predict.ts", [
        "--data_type",
        category,
        "--model_dir",
        modelDir,
        "--heatmap",
        join(dir, "p"),
        ...files,
      ]);
      assertEquals(predicted.code, 0, predicted.stderr);
      const inferred = await cli("infer.ts", ["--model_dir", bundle, "--heatmap", join(dir, "i"), ...files]);
      assertEquals(inferred.code, 0, inferred.stderr);
      const verdicts = (s: string) => s.split("\n").filter((l) => l.startsWith("image_name:"));
      const [p, i] = [verdicts(predicted.stdout), verdicts(inferred.stdout)];
      assertEquals(p.length, files.length);
      assertEquals(i.length, files.length, inferred.stdout);
      for (const [k, line] of p.entries()) {
        // Every pixel's error is above 1e-9: the defect area is 100% in both; the maxima agree to 1e-4.
        assert(line.endsWith(", defect area 100.00%"), line);
        assert(i[k].endsWith(", defect area 100.00%"), i[k]);
        const max = (l: string) => Number(/map max ([0-9.]+)/.exec(l)![1]);
        assert(Math.abs(max(line) - max(i[k])) <= 1e-4 * max(line), `${line}\n${i[k]}`);
      }
      assertStringIncludes(inferred.stdout, `heatmap: ${join(dir, "i")}`);

      const metaPath = join(bundle, "metadata.json");
      const meta = JSON.parse(await Deno.readTextFile(metaPath));
      await Deno.writeTextFile(
        metaPath,
        JSON.stringify({ ...meta, anomalyMap: { method: "patch", options: {}, pixelThreshold: 1 } }),
      );
      const patch = await cli("infer.ts", [
        "--model_dir",
        bundle,
        "--img_path",
        imgDir,
        "--heatmap",
        join(dir, "x"),
      ]);
      assertCleanError(patch, "no patch model (patchMap)", "export the bundle again");
      const misuse = await cli("predict.ts", [
        "--data_type",
        category,
        "--model_dir",
        modelDir,
        "--map",
        "gradcam",
      ]);
      assertCleanError(misuse, "--heatmap");
      const patchExport = await cli("export.ts", [
        "--data_type",
        category,
        "--model_dir",
        modelDir,
        "--map",
        "patch",
      ]);
      assertCleanError(patchExport, "no patch map", "deno task eval --localization patch");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "export --map patch → infer --heatmap: the patch model's map and line equal predict --heatmap --map patch's",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await initBackend("cpu");
    // A model trained with --patch_size 40 (SSPCAB), whose eval stored an sspcab map first and the patch map.
    const m = await patchModelOnDisk({ seed: 51, sspcab: true, patchSize: 40, defaultMap: "sspcab" });
    try {
      const bundle = join(m.dir, "bundle");
      const ort = await loadOnnxRuntime().then(() => true, () => false);
      const exported = await cli("export.ts", [
        "--data_type",
        m.category,
        "--model_dir",
        m.modelDir,
        "--save_inference_dir",
        bundle,
        "--map",
        "patch",
        "--format",
        "all",
      ]);
      assertEquals(exported.code, 0, exported.stderr);
      assertStringIncludes(
        exported.stdout,
        `anomaly map patch (pixel threshold ${m.patchMap.pixelThreshold.toFixed(6)})`,
      );
      assertStringIncludes(exported.stdout, "patch model: 40x40 patches, stride 8, sigma 10");
      for (const f of ["patch_model.json", "patch_model.weights.bin", "patch_model.onnx"]) {
        assertStringIncludes(exported.stdout, join(bundle, f));
      }
      const predicted = await cli("predict.ts", [
        "--data_type",
        m.category,
        "--model_dir",
        m.modelDir,
        "--heatmap",
        join(m.dir, "p"),
        "--map",
        "patch",
        ...m.paths,
      ]);
      assertEquals(predicted.code, 0, predicted.stderr);
      const lines = (s: string) => s.split("\n").filter((l) => l.startsWith("image_name:"));
      const parse = (l: string) => {
        const r =
          /^(.+), score is ([0-9.]+), (threshold is [0-9.]+), map max ([0-9.]+), (defect area [0-9.]+%)$/
            .exec(l);
        assert(r, `unexpected line: ${l}`);
        return { head: `${r[1]} ${r[3]} ${r[5]}`, score: Number(r[2]), max: Number(r[4]) };
      };
      const want = lines(predicted.stdout).map(parse);
      assertEquals(want.length, m.paths.length, predicted.stdout);
      // predict's map maxima are the library's patch maps'.
      want.forEach((w, i) => {
        const max = Math.max(...m.reference[i]);
        assert(Math.abs(w.max - max) <= 1e-6 + 1e-6 * max, `predict ${i}: ${w.max} vs ${max}`);
      });
      assert(
        want.some((w) => !w.head.endsWith("defect area 0.00%") && !w.head.endsWith("defect area 100.00%")),
        "a mask that is neither empty nor full",
      );
      for (const engine of ["tfjs", "onnxruntime"]) {
        await t.step({
          name: `infer --engine ${engine}`,
          ignore: engine === "onnxruntime" && !ort,
          fn: async () => {
            const heat = join(m.dir, `i_${engine}`);
            const inferred = await cli("infer.ts", [
              "--model_dir",
              bundle,
              "--engine",
              engine,
              "--heatmap",
              heat,
              ...m.paths,
            ]);
            assertEquals(inferred.code, 0, inferred.stderr);
            const got = lines(inferred.stdout).map(parse);
            assertEquals(got.length, want.length, inferred.stdout);
            got.forEach((g, i) => {
              // Same path, verdict, threshold and defect area; map max and score within 1e-4 relative.
              assertEquals(g.head, want[i].head);
              assert(
                Math.abs(g.max - want[i].max) <= 1e-4 * want[i].max,
                `${engine} ${i}: ${g.max} vs ${want[i].max}`,
              );
              assert(Math.abs(g.score - want[i].score) <= 1e-4 * want[i].score, `${engine} ${i}: score`);
            });
            assertStringIncludes(inferred.stdout, `heatmap: ${heat}`);
            for (let i = 0; i < m.paths.length; i++) {
              assert((await Deno.stat(join(heat, `query_${i}.heatmap.png`))).isFile);
            }
          },
        });
      }
    } finally {
      await Deno.remove(m.dir, { recursive: true });
    }
  },
});
