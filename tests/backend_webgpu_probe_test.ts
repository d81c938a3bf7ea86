/**
 * The quiet WebGPU probe (`lib/backend/webgpu_probe.ts`): without `XDG_RUNTIME_DIR` the process gets a
 * private (0700) absolute folder for it, an existing value is left alone, and — in child processes started
 * without the variable — probing for an adapter prints nothing about it on stderr, where a bare
 * `requestAdapter` does on machines whose Vulkan/wayland stack complains (the control run shows whether this
 * one does).
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "./assert.ts";
import { quietGpuProbe } from "../lib/backend/webgpu_probe.ts";

/** A stand-in for `Deno.env` over a plain record. */
function fakeEnv(vars: Record<string, string>) {
  return {
    get: (name: string) => vars[name],
    set: (name: string, value: string) => void (vars[name] = value),
  };
}

Deno.test("webgpu probe: an unset or relative XDG_RUNTIME_DIR becomes a private absolute folder", () => {
  const starts: Record<string, string>[] = [{}, { XDG_RUNTIME_DIR: "" }, { XDG_RUNTIME_DIR: "relative/dir" }];
  for (const initial of starts) {
    const vars: Record<string, string> = { ...initial };
    const dir = quietGpuProbe(fakeEnv(vars));
    assert(dir, "a folder was made");
    assertEquals(vars.XDG_RUNTIME_DIR, dir);
    assert(dir.startsWith("/"), dir);
    const info = Deno.statSync(dir);
    assert(info.isDirectory);
    if (Deno.build.os !== "windows") assertEquals(info.mode! & 0o777, 0o700);
  }
});

Deno.test("webgpu probe: an XDG_RUNTIME_DIR that is set is left alone", () => {
  const vars = { XDG_RUNTIME_DIR: "/run/user/1000" };
  assertEquals(quietGpuProbe(fakeEnv(vars)), null);
  assertEquals(vars.XDG_RUNTIME_DIR, "/run/user/1000");
});

async function probeStderr(code: string): Promise<string> {
  const config = new URL("../deno.json", import.meta.url);
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", config.pathname, code],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, `child failed:\n${stderr}`);
  return stderr;
}

Deno.test("webgpu probe: probing without XDG_RUNTIME_DIR prints nothing about it", async () => {
  const probe = new URL("../lib/backend/webgpu_probe.ts", import.meta.url);
  const quiet = await probeStderr(
    `const { requestGpuAdapter } = await import("${probe.href}"); await requestGpuAdapter(); ` +
      `await requestGpuAdapter();`,
  );
  assertEquals(quiet.split("\n").filter((l) => l.includes("XDG_RUNTIME_DIR")), [], quiet);
  // The control: the bare call. Where it complains, the quiet probe above is what silenced it.
  const bare = await probeStderr(`await navigator.gpu?.requestAdapter().catch(() => null);`);
  if (bare.includes("XDG_RUNTIME_DIR")) assertNotEquals(quiet, bare);
});
