/**
 * One training run per category and model folder: a run holds `<modelDir>/model-<category>.lock`, created
 * exclusively (a hard link of a complete temp file, which fails when the lock exists — `O_EXCL` semantics;
 * `createNew` where links are not supported), holding the owner's pid, its start time and its command. A second
 * run on the same category and folder is refused with a message naming the first. The lock is released when
 * the run ends (also on an error, and — when asked — on SIGINT/SIGTERM); a lock whose owner is gone (a killed
 * run) is taken over with a notice.
 *
 * Taking over a stale lock is serialised by a short-lived guard file (`….lock.takeover`), so two runs that
 * find the same stale lock cannot both win: only the guard holder may remove a lock, and only if it still is
 * the stale one it inspected; the lock itself is then created exclusively again, which one run wins.
 * @module
 */
import { join } from "node:path";
import { createFileExclusive, getFsWriter } from "./atomic_write.ts";
import { processAlive, processStartTicks } from "./process.ts";
import { UserError } from "../util/errors.ts";

/** Identifies our lock files. */
export const RUN_LOCK_FORMAT = "sspcab-run-lock";

/** What a lock file records about its owner. */
export interface RunLockOwner {
  /** Always {@link RUN_LOCK_FORMAT}. */
  format: typeof RUN_LOCK_FORMAT;
  /** Process id of the owner. */
  pid: number;
  /** When the run started (ISO time, UTC). */
  startedAt: string;
  /** The owner's command line. */
  command: string;
  /** The owner's process start time (`/proc`, clock ticks since boot), to tell a reused pid; null elsewhere. */
  processStart: string | null;
  /** Random id of this lock, so a run only ever removes its own lock. */
  token: string;
}

/** A held lock. */
export interface RunLock {
  /** The lock file. */
  path: string;
  /** What it records. */
  owner: RunLockOwner;
  /** Set when a stale lock was taken over: the notice that was given. */
  tookOver?: string;
  /** Remove the lock (only if it is still ours); idempotent. */
  release(): Promise<void>;
  /** Synchronous {@link release}, for exit and signal handlers. */
  releaseSync(): void;
}

/** Options of {@link acquireRunLock}. */
export interface RunLockOptions {
  /** Recorded as the owner's command (default: this process's script and arguments). */
  command?: string;
  /** On SIGINT/SIGTERM: release the lock, then exit with 130/143 (for CLIs; notebooks leave it off). */
  releaseOnSignal?: boolean;
  /** How the notice about a taken-over stale lock is shown (default `console.warn`). */
  notice?: (line: string) => void;
  /** How long to wait for a lock file that is being written (default 2000 ms). */
  settleMs?: number;
}

/** Path of the lock of a category's files in `modelDir`. */
export function runLockPath(modelDir: string, category: string): string {
  return join(modelDir, `model-${category}.lock`);
}

function defaultCommand(): string {
  const script = Deno.mainModule.startsWith("file://")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : Deno.mainModule;
  return ["deno", script, ...Deno.args].join(" ");
}

/** Read a lock file: its owner, `null` when it holds no valid record (yet), `undefined` when it is gone. */
async function readOwner(path: string): Promise<{ owner: RunLockOwner | null; text: string } | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const o = JSON.parse(text) as RunLockOwner;
    if (o.format === RUN_LOCK_FORMAT && Number.isInteger(o.pid)) return { owner: o, text };
  } catch {
    // being written, or damaged
  }
  return { owner: null, text };
}

function describe(o: RunLockOwner): string {
  return `pid ${o.pid}, started ${o.startedAt}, command: ${o.command}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ageMs(path: string): Promise<number> {
  const s = await Deno.stat(path).catch(() => null);
  return s?.mtime ? Date.now() - s.mtime.getTime() : 0;
}

/** Remove the lock at `path` if it still holds `text`, under the takeover guard; true when the caller may retry. */
async function removeStale(path: string, text: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    await createFileExclusive(guard, String(Deno.pid));
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    // Another run is taking over right now; a guard older than 30 s belongs to a run that died doing so.
    if ((await ageMs(guard)) > 30_000) await Deno.remove(guard).catch(() => {});
    await sleep(100);
    return true;
  }
  try {
    const now = await readOwner(path);
    if (now && now.text === text) await getFsWriter().remove(path).catch(() => {});
  } finally {
    await Deno.remove(guard).catch(() => {});
  }
  return true;
}

/**
 * Take the lock of `category` in `modelDir`. Throws a {@link UserError} naming the other run (pid, start
 * time, command) when a live run holds it; takes over, with a notice, a lock whose owner is gone.
 */
export async function acquireRunLock(
  modelDir: string,
  category: string,
  options: RunLockOptions = {},
): Promise<RunLock> {
  const path = runLockPath(modelDir, category);
  const owner: RunLockOwner = {
    format: RUN_LOCK_FORMAT,
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    command: options.command ?? defaultCommand(),
    processStart: processStartTicks(Deno.pid),
    token: crypto.randomUUID(),
  };
  const text = JSON.stringify(owner, null, 2) + "\n";
  const settleMs = options.settleMs ?? 2000;

  let released = false;
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = new Map<Deno.Signal, () => void>();
  const stillOurs = (current: string | null) => {
    if (current === null) return false;
    try {
      return (JSON.parse(current) as RunLockOwner).token === owner.token;
    } catch {
      return false;
    }
  };
  const detach = () => {
    released = true;
    globalThis.removeEventListener("unload", onUnload);
    for (const [sig, h] of handlers) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch { /* already gone */ }
    }
    handlers.clear();
  };
  const releaseSync = () => {
    if (released) return;
    detach();
    let current: string | null = null;
    try {
      current = Deno.readTextFileSync(path);
    } catch { /* gone */ }
    if (stillOurs(current)) {
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
    }
  };
  const onUnload = () => releaseSync();
  // Listeners first: a signal while the lock is being created still removes it (once it holds our record).
  globalThis.addEventListener("unload", onUnload);
  if (options.releaseOnSignal) {
    for (const sig of signals) {
      const h = () => {
        releaseSync();
        Deno.exit(sig === "SIGINT" ? 130 : 143);
      };
      handlers.set(sig, h);
      Deno.addSignalListener(sig, h);
    }
  }
  let tookOver: string | undefined;
  try {
    const deadline = Date.now() + 10_000 + settleMs;
    while (true) {
      try {
        await createFileExclusive(path, text);
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `could not take the lock ${path}: it keeps changing hands`,
          "another run of this category is starting; wait for it, or use another --model_dir",
        );
      }
      const found = await readOwner(path);
      if (found === undefined) continue; // released meanwhile
      const other = found.owner;
      if (other && other.pid === Deno.pid && other.processStart === owner.processStart) {
        throw new UserError(
          `${category} in ${modelDir} is being trained by another call in this process (${describe(other)})`,
          `wait for it to finish, or train into another model folder; if it was interrupted (e.g. a ` +
            `notebook cell), delete ${path}`,
        );
      }
      if (other && processAlive(other.pid, other.processStart)) {
        throw new UserError(
          `${category} in ${modelDir} is being trained by another run (${describe(other)})`,
          `wait for it to finish, stop it (\`kill ${other.pid}\`), or train into another --model_dir; ` +
            `if that run is gone, delete ${path}`,
        );
      }
      if (!other && (await ageMs(path)) < settleMs) {
        await sleep(50); // the owner is still writing its record
        continue;
      }
      await removeStale(path, found.text);
      tookOver = other
        ? `taking over the lock ${path} of a run that is no longer running (${describe(other)})`
        : `taking over the lock ${path}, which holds no valid record`;
    }
  } catch (err) {
    detach();
    throw err;
  }
  if (tookOver) (options.notice ?? console.warn)(tookOver);
  return {
    path,
    owner,
    tookOver,
    async release() {
      if (released) return;
      detach();
      const current = await Deno.readTextFile(path).catch(() => null);
      if (stillOurs(current)) await getFsWriter().remove(path).catch(() => {});
    },
    releaseSync,
  };
}
