/**
 * Whether a process (by pid) is still running, used to tell a live run's lock or temp file from one a killed
 * run left behind. On Linux the process start time from `/proc/<pid>/stat` is compared too, so a pid reused
 * by an unrelated process does not count as the original owner.
 * @module
 */
import process from "node:process";

/** The start time of `pid` in clock ticks since boot (Linux `/proc/<pid>/stat`), or null where unknown. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 2 (the command) is in parentheses and may hold spaces; field 22 (starttime) is the 20th after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function hasProcFs(): boolean {
  try {
    return Deno.statSync("/proc/self/stat").isFile;
  } catch {
    return false;
  }
}

/**
 * True when process `pid` is running. When `startTicks` (from {@link processStartTicks} at the time the pid
 * was recorded) is given and the system has `/proc`, the running process must also have started then.
 */
export function processAlive(pid: number, startTicks?: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (hasProcFs()) {
    const now = processStartTicks(pid);
    if (now === null) return false;
    return !startTicks || now === startTicks;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as { code?: string }).code === "EPERM";
  }
}
