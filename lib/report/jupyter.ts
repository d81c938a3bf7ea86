/**
 * Jupyter's tooling as the report runner uses it: find a Python interpreter that has nbclient and nbconvert,
 * and make sure the Deno kernelspec is installed (`deno jupyter --install`). Nothing here is needed by the
 * library itself; only `deno task report` uses it.
 * @module
 */
import { isAbsolute, join } from "node:path";
import { UserError } from "../util/errors.ts";
import { ENV } from "../config/env.ts";

/** The Debian/Ubuntu packages the report runner needs (Jupyter's own tooling, no notebook server). */
export const JUPYTER_APT_PACKAGES: readonly string[] = [
  "python3-nbclient",
  "python3-nbconvert",
  "jupyter-client",
  "jupyter-core",
];

/** What to run to install them. */
export const JUPYTER_INSTALL_HINT =
  `install Jupyter's tooling: \`apt-get install -y --no-install-recommends ${
    JUPYTER_APT_PACKAGES.join(" ")
  }\` (Debian/Ubuntu), or \`pip install nbclient nbconvert\`; set SSPCAB_PYTHON to the Python that has them`;

/** Result of {@link runCommand}. */
export interface CommandResult {
  /** Exit code (127 when the program was not found). */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/** Run a program to completion, capturing its output; a missing program gives code 127 instead of throwing. */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<CommandResult> {
  try {
    const child = new Deno.Command(cmd, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (options.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(options.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { code: 127, stdout: "", stderr: `${cmd}: not found` };
    throw err;
  }
}

/** The first executable named `name` on `PATH` (or null). */
export async function whichOnPath(name: string, path = Deno.env.get("PATH") ?? ""): Promise<string | null> {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      const st = await Deno.stat(candidate);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}

/**
 * The interpreter named by a script's `#!` line: `#!/usr/bin/python3` → `/usr/bin/python3`,
 * `#!/usr/bin/env python3` → `python3`; null when there is none.
 */
export function shebangInterpreter(firstLine: string): string | null {
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(firstLine);
  if (!m) return null;
  if (m[1].endsWith("/env") && m[2]) return m[2];
  return m[1];
}

/**
 * A Python interpreter that can import nbclient, nbconvert and nbformat: `SSPCAB_PYTHON` when set, else
 * the interpreter of the `jupyter` command on PATH, else `python3`. Throws a {@link UserError} with the
 * install line when none can.
 */
export async function findJupyterPython(): Promise<string> {
  const candidates: string[] = [];
  const fromEnv = ENV.python.get();
  if (fromEnv) candidates.push(fromEnv);
  const jupyter = await whichOnPath("jupyter");
  if (jupyter) {
    try {
      const head = (await Deno.readTextFile(jupyter)).slice(0, 200).split("\n")[0];
      const interp = shebangInterpreter(head);
      if (interp) candidates.push(interp);
    } catch {
      // a binary launcher: ignore
    }
  }
  candidates.push("python3");
  const tried: string[] = [];
  for (const py of [...new Set(candidates)]) {
    const r = await runCommand(py, [
      "-c",
      "import nbclient, nbconvert, nbformat; print(nbclient.__version__)",
    ]);
    if (r.code === 0) return py;
    tried.push(`${py} (${r.code === 127 ? "not found" : "no nbclient/nbconvert"})`);
  }
  throw new UserError(
    `no Python with Jupyter's nbclient and nbconvert found (tried ${tried.join(", ")})`,
    JUPYTER_INSTALL_HINT,
  );
}

/** One installed kernelspec, as `jupyter kernelspec list --json` reports it. */
export interface KernelSpecInfo {
  /** Folder of the kernelspec. */
  resource_dir: string;
  /** The `kernel.json` content. */
  spec: { argv: string[]; display_name: string; language?: string };
}

/** The installed kernelspecs by name (jupyter_client's `KernelSpecManager`, as `jupyter kernelspec list`). */
export async function listKernelSpecs(python: string): Promise<Record<string, KernelSpecInfo>> {
  const r = await runCommand(python, [
    "-c",
    "import json; from jupyter_client.kernelspec import KernelSpecManager; " +
    "print(json.dumps(KernelSpecManager().get_all_specs()))",
  ]);
  if (r.code !== 0) {
    throw new UserError(
      `cannot list Jupyter kernelspecs with ${python}: ${r.stderr.trim()}`,
      JUPYTER_INSTALL_HINT,
    );
  }
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
}

async function executableExists(cmd: string): Promise<boolean> {
  if (!isAbsolute(cmd)) return (await whichOnPath(cmd)) !== null;
  try {
    return (await Deno.stat(cmd)).isFile;
  } catch {
    return false;
  }
}

/** What {@link ensureDenoKernel} found or did. */
export interface KernelStatus {
  /** Kernel name. */
  name: string;
  /** True when this call installed (or repaired) the kernelspec. */
  installed: boolean;
  /** Folder of the kernelspec. */
  resourceDir: string;
}

/**
 * Make sure the Deno kernelspec `name` is installed and points at an existing `deno`; otherwise run
 * `deno jupyter --install` (with `--force` to repair a stale one) using this process's `deno`.
 */
export async function ensureDenoKernel(
  python: string,
  name = "deno",
  log: (line: string) => void = console.log,
): Promise<KernelStatus> {
  const specs = await listKernelSpecs(python);
  const found = specs[name];
  if (found && found.spec.argv?.length && (await executableExists(found.spec.argv[0]))) {
    return { name, installed: false, resourceDir: found.resource_dir };
  }
  log(
    found
      ? `kernelspec "${name}" points at a missing deno; reinstalling`
      : `installing the Deno kernelspec "${name}"`,
  );
  const args = ["jupyter", "--install", "--name", name, ...(found ? ["--force"] : [])];
  const r = await runCommand(Deno.execPath(), args);
  if (r.code !== 0) {
    throw new UserError(
      `\`deno ${args.join(" ")}\` failed: ${(r.stderr || r.stdout).trim()}`,
      "install it by hand with `deno jupyter --install` and check `jupyter kernelspec list`",
    );
  }
  const again = (await listKernelSpecs(python))[name];
  if (!again) {
    throw new UserError(
      `the Deno kernelspec "${name}" was installed but Jupyter does not list it`,
      "check `jupyter kernelspec list` and JUPYTER_PATH / JUPYTER_DATA_DIR",
    );
  }
  return { name, installed: true, resourceDir: again.resource_dir };
}
