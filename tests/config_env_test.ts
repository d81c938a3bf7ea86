/**
 * `lib/config/env.ts`: the one declaration of the `SSPCAB_*` environment variables — typed getters (unset,
 * set, invalid → a UserError naming the variable), safety without `--allow-env`, the wasm backend options,
 * and completeness (every variable the project mentions is declared; nothing outside the module reads one).
 */
import { join, relative } from "node:path";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import {
  backendOptionsFromEnv,
  ENV,
  ENV_BACKEND_CHOICES,
  ENV_VARS,
  envTable,
  readEnvRaw,
} from "../lib/config/env.ts";
import { BACKEND_CHOICES } from "../lib/backend/mod.ts";
import { UserError } from "../lib/util/errors.ts";

const root = join(import.meta.dirname!, "..");

/** Run `fn` with the given variables set (undefined: unset), restoring the previous values afterwards. */
function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  };
  try {
    apply(vars);
    fn();
  } finally {
    apply(before);
  }
}

Deno.test("env: strings and paths are trimmed; empty or unset falls back to the default", () => {
  withEnv({ SSPCAB_DATA_DIR: undefined, SSPCAB_OUTPUT_DIR: undefined }, () => {
    assertEquals(ENV.dataDir.get(), undefined);
    assertEquals(ENV.outputDir.get(), "outputs");
  });
  withEnv({ SSPCAB_DATA_DIR: "  data/x ", SSPCAB_OUTPUT_DIR: "   " }, () => {
    assertEquals(ENV.dataDir.get(), "data/x");
    assertEquals(ENV.dataDir.raw(), "data/x");
    assertEquals(ENV.outputDir.get(), "outputs", "whitespace only counts as unset");
  });
});

Deno.test("env: integers are checked against their minimum, naming the variable", () => {
  withEnv({ SSPCAB_SIZE: "128", SSPCAB_STEPS: "1", SSPCAB_WASM_THREADS: undefined }, () => {
    assertEquals([ENV.size.get(), ENV.steps.get(), ENV.wasmThreads.get()], [128, 1, undefined]);
  });
  for (
    const [value, fragment] of [["16", ">= 32"], ["12.5", "an integer"], ["big", 'invalid SSPCAB_SIZE="big"']]
  ) {
    withEnv({ SSPCAB_SIZE: value }, () => {
      const err = assertThrows(() => ENV.size.get(), UserError, fragment);
      assertStringIncludes(err.message, "SSPCAB_SIZE");
      assertStringIncludes(err.message, "unset it for the default (256 in the notebooks)");
    });
  }
  withEnv({ SSPCAB_STEPS: "0" }, () => assertThrows(() => ENV.steps.get(), UserError, "SSPCAB_STEPS"));
});

Deno.test("env: SSPCAB_BACKEND takes a backend name in any case; anything else is a UserError listing them", () => {
  assertEquals([...ENV_BACKEND_CHOICES], [...BACKEND_CHOICES], "the same list as lib/backend/mod.ts");
  withEnv({ SSPCAB_BACKEND: undefined }, () => assertEquals(ENV.backend.get(), "auto"));
  withEnv({ SSPCAB_BACKEND: " WebGPU " }, () => assertEquals(ENV.backend.get(), "webgpu"));
  withEnv({ SSPCAB_BACKEND: "gpu" }, () => {
    assertThrows(() => ENV.backend.get(), UserError, 'invalid SSPCAB_BACKEND="gpu"');
    assertThrows(() => ENV.backend.get(), UserError, "one of auto, tensorflow, webgpu, wasm, cpu");
  });
});

Deno.test("env: switches — 0/false/off turn off, 1/true/on turn on, other values are rejected", () => {
  for (
    const [value, expected] of [["0", false], ["false", false], ["OFF", false], ["1", true], ["on", true]]
  ) {
    withEnv(
      { SSPCAB_WASM_GEMM: value as string },
      () => assertEquals(ENV.wasmGemm.get(), expected, `${value}`),
    );
  }
  withEnv({ SSPCAB_WASM_GEMM: undefined, SSPCAB_REPORT_TEST: undefined }, () => {
    assertEquals(ENV.wasmGemm.get(), true, "on by default");
    assertEquals(ENV.reportTest.get(), false, "off by default");
  });
  withEnv({ SSPCAB_WASM_GEMM: "maybe" }, () => {
    assertThrows(() => ENV.wasmGemm.get(), UserError, 'invalid SSPCAB_WASM_GEMM="maybe"');
  });
});

Deno.test("env: lists split on commas and drop empty entries", () => {
  withEnv(
    { SSPCAB_TEST_BACKENDS: " cpu, ,wasm " },
    () => assertEquals(ENV.testBackends.get(), ["cpu", "wasm"]),
  );
  withEnv({ SSPCAB_TEST_BACKENDS: undefined }, () => assertEquals(ENV.testBackends.get(), undefined));
});

Deno.test("env: backendOptionsFromEnv reads the SSPCAB_WASM_* variables into the wasm options", () => {
  withEnv({
    SSPCAB_WASM_FMA: undefined,
    SSPCAB_WASM_GEMM: undefined,
    SSPCAB_WASM_WINOGRAD: undefined,
    SSPCAB_WASM_IM2COL: undefined,
    SSPCAB_WASM_THREADS: undefined,
  }, () => {
    assertEquals(backendOptionsFromEnv(), {
      wasm: { fma: true, gemm: true, winograd: true, im2col: true, threads: undefined },
    });
  });
  withEnv({
    SSPCAB_WASM_FMA: "0",
    SSPCAB_WASM_GEMM: "1",
    SSPCAB_WASM_WINOGRAD: "0",
    SSPCAB_WASM_IM2COL: "0",
    SSPCAB_WASM_THREADS: "3",
  }, () => {
    assertEquals(backendOptionsFromEnv(), {
      wasm: { fma: false, gemm: true, winograd: false, im2col: false, threads: 3 },
    });
  });
  withEnv({ SSPCAB_WASM_THREADS: "0" }, () => {
    assertThrows(() => backendOptionsFromEnv(), UserError, "SSPCAB_WASM_THREADS");
  });
});

Deno.test("env: without --allow-env every getter gives its default, without a prompt or an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_env_" });
  try {
    const script = join(dir, "probe.ts");
    const module = new URL("../lib/config/env.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { backendOptionsFromEnv, ENV, readEnvRaw } from ${JSON.stringify(module)};\n` +
        `console.log(JSON.stringify([ENV.backend.get(), ENV.outputDir.get(), ENV.size.get(), ` +
        `readEnvRaw("SSPCAB_BACKEND") ?? null, backendOptionsFromEnv()]));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", "--no-lock", `--allow-read=${dir}`, script],
      env: { SSPCAB_BACKEND: "bogus", SSPCAB_SIZE: "nope", SSPCAB_WASM_FMA: "0", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), [
      "auto",
      "outputs",
      null,
      null,
      { wasm: { fma: true, gemm: true, winograd: true, im2col: true } },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function* projectFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      if (!["node_modules", "outputs", "data", ".git"].includes(e.name)) yield* projectFiles(path);
    } else if (/\.(ts|ipynb|json|py)$/.test(e.name) || e.name === "run") yield path;
  }
}

/**
 * Every `SSPCAB_*` name mentioned in lib, tests, notebooks, deno.json and .ci, with the files mentioning it. A
 * mention ending in `_` is a prefix (`SSPCAB_WASM_*`, or a test's throw-away names built from one), not a
 * variable.
 */
async function mentionedVariables(): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  const files: string[] = [join(root, "deno.json")];
  for (const d of ["lib", "tests", "notebooks", ".ci"]) {
    const path = join(root, d);
    if (await Deno.stat(path).then(() => true, () => false)) {
      for await (const f of projectFiles(path)) files.push(f);
    }
  }
  for (const f of files) {
    const text = await Deno.readTextFile(f);
    for (const m of text.matchAll(/SSPCAB_[A-Z0-9_]+/g)) {
      if (m[0].endsWith("_")) continue;
      if (!found.has(m[0])) found.set(m[0], new Set());
      found.get(m[0])!.add(relative(root, f).replaceAll("\\", "/"));
    }
  }
  return found;
}

Deno.test("env: every SSPCAB_* variable the project mentions is declared, and every declared one is used", async () => {
  const declared = new Set(ENV_VARS.map((v) => v.name));
  const mentioned = await mentionedVariables();
  const undeclared = [...mentioned].filter(([name]) => !declared.has(name)).map((
    [n, files],
  ) => [n, [...files]]);
  assertEquals(undeclared, [], "declare these in lib/config/env.ts");
  const unused = [...declared].filter((name) =>
    ![...(mentioned.get(name) ?? [])].some((file) => file !== "lib/config/env.ts")
  );
  assertEquals(unused, [], "declared in lib/config/env.ts but read nowhere");
  for (const v of ENV_VARS) {
    assert(v.doc.length > 10 && v.defaultText.length > 0, `${v.name} has a doc and a default`);
    assertStringIncludes(envTable(), `| \`${v.name}\` | ${v.kind} |`);
  }
});

/**
 * Files that still read `SSPCAB_*` variables with `Deno.env.get` themselves: the backend, which is being
 * moved to options from {@link backendOptionsFromEnv}. Remove an entry once its file reads through env.ts.
 */
const NOT_YET_THROUGH_ENV_TS: string[] = [];

Deno.test("env: lib reads SSPCAB_* variables only through lib/config/env.ts", async () => {
  const direct: string[] = [];
  for await (const f of projectFiles(join(root, "lib"))) {
    const rel = relative(root, f).replaceAll("\\", "/");
    if (rel.startsWith("lib/config/")) continue;
    if (/Deno\.env\.get\(\s*["'`]SSPCAB_/.test(await Deno.readTextFile(f))) direct.push(rel);
  }
  direct.sort();
  const stale = NOT_YET_THROUGH_ENV_TS.filter((f) => !direct.includes(f));
  assertEquals(stale, [], "these now read through env.ts: remove them from NOT_YET_THROUGH_ENV_TS");
  assertEquals(direct.filter((f) => !NOT_YET_THROUGH_ENV_TS.includes(f)), [], "read these through ENV");
  assertEquals(readEnvRaw("SSPCAB_UNDECLARED_" + crypto.randomUUID().slice(0, 8).toUpperCase()), undefined);
});
