/**
 * `deno task gpu-kit` — build the air-gapped GPU kit: one bundled JavaScript file of the GPU benchmark (no
 * `node_modules`), the Deno binary (from the npm package `@deno/linux-x64-glibc`, same version as the running
 * Deno), the Vulkan loader (Debian's `libvulkan1`) and a `run.sh`; packed as `outputs/gpu-kit.tar.xz`. On the
 * GPU machine: `tar xf gpu-kit.tar.xz && ./gpu-kit/run.sh --backend webgpu`. The machine needs its GPU
 * driver's Vulkan ICD (NVIDIA's driver ships one); nothing else.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommand } from "./common.ts";
import { defineFlags } from "./flags.ts";
import { runCli, UserError } from "../util/errors.ts";

const SUMMARY = "Build the air-gapped GPU benchmark kit (bundle + Deno binary + Vulkan loader, < 60 MB).";
const FLAGS = defineFlags({
  out: { type: "string", default: "outputs/gpu-kit.tar.xz", help: "kit archive to write" },
  max_mb: { type: "number", default: 60, help: "fail when the kit is larger" },
});
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    throw new UserError(`cannot run ${cmd}: ${(err as Error).message}`, `install ${cmd} and retry`);
  }
  if (!out.success) {
    throw new UserError(
      `${cmd} ${args.join(" ")} failed:\n${
        new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n")
      }`,
    );
  }
}

const RUN_SH = `#!/bin/sh
# Run the sspcab GPU benchmark with the kit's own Deno and Vulkan loader. Flags: --backend webgpu|cpu,
# --size 256, --batch_size 96 (3x images per training step), --steps 10.
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DENO_NO_UPDATE_CHECK=1 DENO_DIR="$here/.deno"
exec "$here/deno" run -A "$here/sspcab-gpu-bench.js" "$@"
`;

if (import.meta.main) {
  await runCli(async () => {
    const flags = parseCommand("gpu-kit", SUMMARY, FLAGS);
    if (!flags) return;
    const work = await Deno.makeTempDir({ prefix: "sspcab_gpukit_" });
    try {
      const kit = join(work, "gpu-kit");
      await Deno.mkdir(join(kit, "lib"), { recursive: true });
      console.log("bundling the benchmark …");
      await run(Deno.execPath(), [
        "bundle",
        "--platform",
        "deno",
        "-o",
        join(kit, "sspcab-gpu-bench.js"),
        join(ROOT, "lib/cli/gpu_bench.ts"),
      ], ROOT);
      const version = Deno.version.deno;
      console.log(`fetching the Deno ${version} binary (npm @deno/linux-x64-glibc) …`);
      await run("npm", ["pack", "--silent", `@deno/linux-x64-glibc@${version}`], work);
      await run("tar", ["xzf", `deno-linux-x64-glibc-${version}.tgz`, "package/deno"], work);
      await Deno.rename(join(work, "package", "deno"), join(kit, "deno"));
      await Deno.chmod(join(kit, "deno"), 0o755);
      console.log("fetching the Vulkan loader (Debian libvulkan1) …");
      await run("apt-get", ["download", "libvulkan1"], work);
      const deb = [...Deno.readDirSync(work)].find((e) =>
        e.name.startsWith("libvulkan1_") && e.name.endsWith(".deb")
      );
      if (!deb) {
        throw new UserError("apt-get download libvulkan1 produced no .deb", "run `apt-get update` first");
      }
      await run("dpkg-deb", ["-x", deb.name, "vulkan"], work);
      await run("sh", ["-c", `cp -P vulkan/usr/lib/*/libvulkan.so.1* "${join(kit, "lib")}/"`], work);
      await Deno.writeTextFile(join(kit, "run.sh"), RUN_SH, { mode: 0o755 });
      const out = join(ROOT, flags.out);
      await Deno.mkdir(join(out, ".."), { recursive: true });
      console.log("packing …");
      await run("tar", ["-cJf", out, "-C", work, "gpu-kit"]);
      const mb = (await Deno.stat(out)).size / 2 ** 20;
      console.log(`kit: ${flags.out} (${mb.toFixed(1)} MiB)`);
      if (mb > flags.max_mb) {
        throw new UserError(`the kit is ${mb.toFixed(1)} MiB, over ${flags.max_mb} MiB`);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
}
