/**
 * `deno task fixtures [projection_net] [density] [localization]`: rerun the Python scripts that make the
 * committed reference data (all three by default), then format their JSON the way `deno fmt` wants it.
 *
 * The interpreter is `SSPCAB_PYTHON` when set; otherwise the first of `python3` on PATH and the Debian
 * system interpreter that imports torch, sklearn and scipy.
 * @module
 */
import { join } from "node:path";
import { runCli, UserError } from "../../lib/util/errors.ts";

const HERE = import.meta.dirname!;
const SCRIPTS: Record<string, string> = {
  projection_net: "make_projection_net.py",
  density: "make_density.py",
  localization: "make_localization.py",
};
const MODULES = "import torch, sklearn, scipy, numpy";

async function imports(python: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(python, { args: ["-c", MODULES], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function findPython(): Promise<string> {
  const fromEnv = Deno.env.get("SSPCAB_PYTHON");
  if (fromEnv) {
    if (await imports(fromEnv)) return fromEnv;
    throw new UserError(
      `SSPCAB_PYTHON=${fromEnv} cannot run \`${MODULES}\``,
      "point SSPCAB_PYTHON at an interpreter with PyTorch, scikit-learn and SciPy",
    );
  }
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    if (await imports(candidate)) return candidate;
  }
  throw new UserError(
    `no Python interpreter found that can run \`${MODULES}\``,
    "install PyTorch, scikit-learn and SciPy (on Debian: apt install python3-torch python3-sklearn " +
      "python3-scipy) or set SSPCAB_PYTHON to an interpreter that has them",
  );
}

async function run(cmd: string, args: string[]): Promise<void> {
  const status = await new Deno.Command(cmd, { args, cwd: HERE, stdout: "inherit", stderr: "inherit" })
    .spawn().status;
  if (!status.success) throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${status.code}`);
}

await runCli(async () => {
  const names = Deno.args.length ? Deno.args : Object.keys(SCRIPTS);
  const unknown = names.filter((n) => !(n in SCRIPTS));
  if (unknown.length) {
    throw new UserError(
      `unknown reference set ${unknown.join(", ")}`,
      `choose from ${Object.keys(SCRIPTS).join(", ")} (or none for all)`,
    );
  }
  const python = await findPython();
  for (const name of names) await run(python, ["-B", join(HERE, SCRIPTS[name])]);
  await run(Deno.execPath(), ["fmt", "--quiet", HERE]);
});
