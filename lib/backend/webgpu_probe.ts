/**
 * Asking Deno's `navigator.gpu` for an adapter without the noise of a machine that has no desktop session.
 *
 * Where `XDG_RUNTIME_DIR` is unset (root in a container, CI), every `requestAdapter` makes the Vulkan/wayland
 * stack print `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` twice on stderr — before
 * the output of whatever command merely probed for a GPU. The check only wants an absolute path (the
 * wayland socket under it is then simply not found), so {@link quietGpuProbe} points `XDG_RUNTIME_DIR` at a
 * private (0700) temporary folder of this process, removed when the process ends. A value that is already
 * set is left alone.
 * @module
 */

// deno-lint-ignore no-explicit-any
type GpuAdapter = any;

/** The folder {@link quietGpuProbe} made (null before; one per process). */
let privateRuntimeDir: string | null = null;

/**
 * Give the process a private `XDG_RUNTIME_DIR` when it has none (see the module doc); returns the folder it
 * made, or null when the variable was already set (or the folder could not be made).
 */
export function quietGpuProbe(env: Pick<typeof Deno.env, "get" | "set"> = Deno.env): string | null {
  const current = env.get("XDG_RUNTIME_DIR");
  if (current && current.startsWith("/")) return null;
  if (privateRuntimeDir) {
    env.set("XDG_RUNTIME_DIR", privateRuntimeDir);
    return privateRuntimeDir;
  }
  try {
    const dir = Deno.makeTempDirSync({ prefix: "sspcab-xdg-" });
    Deno.chmodSync(dir, 0o700);
    env.set("XDG_RUNTIME_DIR", dir);
    privateRuntimeDir = dir;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    });
    return dir;
  } catch {
    return null;
  }
}

/** A WebGPU adapter (high-performance preferred), or undefined where Deno offers none. */
export async function requestGpuAdapter(): Promise<GpuAdapter | undefined> {
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu;
  if (!gpu) return undefined;
  quietGpuProbe();
  try {
    return (await gpu.requestAdapter({ powerPreference: "high-performance" })) ?? undefined;
  } catch {
    return undefined;
  }
}
