/**
 * Reliability: a full disk (an injected writer failing with ENOSPC, and a real 2 MB tmpfs when running as
 * root) gives one clear error naming the file, leaves no temp file and keeps the previous file; training
 * stops cleanly on it with the last good checkpoint kept; the run lock refuses a second training run of the
 * same category and folder and takes over a stale one; a damaged newest checkpoint makes `--resume` fall
 * back to the previous one; a kill -9 in the middle of a checkpoint write is survived by `--resume`.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  appendTextFile,
  denoFsWriter,
  type FsWriter,
  setFsWriter,
  WriteFailure,
  writeFileAtomic,
} from "../lib/io/atomic_write.ts";
import { acquireRunLock, runLockPath } from "../lib/io/run_lock.ts";
import { processStartTicks } from "../lib/io/process.ts";
import { readSafetensors, writeSafetensors } from "../lib/io/safetensors.ts";
import { DamagedFileError, UserError } from "../lib/util/errors.ts";
import { generateSyntheticDataset } from "../lib/data/synthetic.ts";
import { loadCategoryImages } from "../lib/data/category_images.ts";
import { loadRgb } from "../lib/data/images.ts";
import { initBackend } from "../lib/backend/mod.ts";
import { runPaths, TRAIN_DEFAULTS, type TrainConfig } from "../lib/train/config.ts";
import { trainCategory } from "../lib/train/trainer.ts";
import { previousCheckpointPath } from "../lib/train/checkpoint.ts";
import { checkDensityMatchesModel, loadTrainedModel } from "../lib/train/model_file.ts";

const root = join(import.meta.dirname!, "..");
const CATEGORY = "synthetic_object";
const opts = { sanitizeResources: false, sanitizeOps: false };

/** An error as Deno raises it for a failed system call. */
function osError(code: string, errno: number): Error {
  return Object.assign(new Error(`os error ${errno} (os error ${errno})`), { code });
}

/** A writer whose temp-file writes for paths matching `match` write half the bytes, then fail with `code`. */
function failingWriter(match: RegExp, code = "ENOSPC", errno = 28, after = 0): FsWriter {
  let seen = 0;
  return {
    ...denoFsWriter,
    async writeNew(path, bytes, sync) {
      if (!match.test(path) || seen++ < after) return await denoFsWriter.writeNew(path, bytes, sync);
      await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1), { createNew: true });
      throw osError(code, errno);
    },
  };
}

const tmpFiles = (dir: string) => [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp"));

Deno.test("atomic write: ENOSPC → one WriteFailure naming the file and sizes, no temp file, old file kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_" });
  try {
    const target = join(dir, "scores.json");
    await writeFileAtomic(target, "old\n");
    const err = await assertRejects(
      () => writeFileAtomic(target, new Uint8Array(1_500_000), { writer: failingWriter(/scores/) }),
      WriteFailure,
    );
    assert(err instanceof UserError);
    assertStringIncludes(err.message, `cannot write ${target}: no space left on the device (ENOSPC`);
    assertStringIncludes(err.message, "it needs 1.5 MB");
    assert(/\d+(\.\d)? [kMG]?B free in /.test(err.message), err.message);
    assertStringIncludes(err.message, "free disk space there");
    assertEquals(err.message.split("\n").length, 2, "one error line and one hint line");
    assertEquals(tmpFiles(dir), []);
    assertEquals(await Deno.readTextFile(target), "old\n");

    // The other failures of the environment, each with its own words and advice.
    const cases: [string, number, string, string][] = [
      ["EACCES", 13, "permission denied", "make the folder writable"],
      ["EROFS", 30, "read-only", "writable folder"],
      ["EMFILE", 24, "too many open files", "ulimit -n"],
      ["EDQUOT", 122, "quota", "it needs"],
      ["EIO", 5, "input/output error", "check the disk"],
    ];
    for (const [code, errno, what, hint] of cases) {
      const e = await assertRejects(
        () => writeFileAtomic(target, "new", { writer: failingWriter(/scores/, code, errno) }),
        WriteFailure,
      );
      assertStringIncludes(e.message, target);
      assertStringIncludes(e.message, what);
      assertStringIncludes(e.message, hint);
      assertEquals((e as WriteFailure).problem.code, code);
    }
    assertEquals(tmpFiles(dir), []);
    assertEquals(await Deno.readTextFile(target), "old\n");

    // A failing rename (the last step) also cleans up; a bug-type error is passed on unchanged.
    const renameFails: FsWriter = {
      ...denoFsWriter,
      rename: () => Promise.reject(osError("EACCES", 13)),
    };
    await assertRejects(() => writeFileAtomic(target, "new", { writer: renameFails }), WriteFailure);
    assertEquals(tmpFiles(dir), []);
    const bug: FsWriter = { ...denoFsWriter, writeNew: () => Promise.reject(new TypeError("a bug")) };
    await assertRejects(() => writeFileAtomic(target, "new", { writer: bug }), TypeError, "a bug");
    assertEquals(await Deno.readTextFile(target), "old\n");

    // Log appends go through the same place.
    const appendFails: FsWriter = { ...denoFsWriter, append: () => Promise.reject(osError("ENOSPC", 28)) };
    const a = await assertRejects(
      () => appendTextFile(join(dir, "train.log"), "line\n", { writer: appendFails }),
      WriteFailure,
    );
    assertStringIncludes(a.message, join(dir, "train.log"));

    // The default writer can be replaced for everything (what the trainer and the CLIs use).
    const previous = setFsWriter(failingWriter(/scores/));
    try {
      await assertRejects(() => writeFileAtomic(target, "x"), WriteFailure);
    } finally {
      setFsWriter(previous);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic write: keepPrevious keeps the replaced file (hard link, or a rename without links)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_" });
  try {
    const target = join(dir, "c.safetensors");
    const prev = join(dir, "c.prev.safetensors");
    await writeFileAtomic(target, "v1", { keepPrevious: prev });
    assertEquals(await Deno.stat(prev).catch(() => null), null, "nothing to keep on the first write");
    await writeFileAtomic(target, "v2", { keepPrevious: prev });
    assertEquals([await Deno.readTextFile(target), await Deno.readTextFile(prev)], ["v2", "v1"]);
    await writeFileAtomic(target, "v3", { keepPrevious: prev });
    assertEquals([await Deno.readTextFile(target), await Deno.readTextFile(prev)], ["v3", "v2"]);
    const noLinks: FsWriter = { ...denoFsWriter, link: () => Promise.reject(osError("EPERM", 1)) };
    await writeFileAtomic(target, "v4", { keepPrevious: prev, writer: noLinks });
    assertEquals([await Deno.readTextFile(target), await Deno.readTextFile(prev)], ["v4", "v3"]);
    // A failed write of a new version leaves both untouched.
    await assertRejects(
      () => writeFileAtomic(target, "v5", { keepPrevious: prev, writer: failingWriter(/c\.safetensors/) }),
      WriteFailure,
    );
    assertEquals([await Deno.readTextFile(target), await Deno.readTextFile(prev)], ["v4", "v3"]);
    assertEquals(tmpFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether this process may mount a tmpfs (root, with `mount` available); the reason when not. */
function tmpfsUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not running as root";
  const dir = Deno.makeTempDirSync({ prefix: "sspcab_tmpfs_probe_" });
  try {
    const m = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir] })
      .outputSync();
    if (!m.success) return `mount failed: ${new TextDecoder().decode(m.stderr).trim()}`;
    new Deno.Command("umount", { args: [dir] }).outputSync();
    return null;
  } catch (err) {
    return `mount not available: ${(err as Error).message}`;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const noTmpfs = tmpfsUnavailable();
if (noTmpfs) console.warn(`reliability_test: the real tmpfs test is skipped (${noTmpfs})`);

Deno.test({
  name: "atomic write on a real 2 MB tmpfs: the disk fills → WriteFailure with free space, old file intact",
  ignore: noTmpfs !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_tmpfs_" });
    const mount = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir] })
      .outputSync();
    assert(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      const target = join(dir, "models", "model-x.safetensors");
      const old = new Uint8Array(1_200_000).map((_, i) => i % 251);
      await writeFileAtomic(target, old);
      const err = await assertRejects(() => writeFileAtomic(target, new Uint8Array(1_500_000)), WriteFailure);
      assertStringIncludes(err.message, `cannot write ${target}: no space left on the device (ENOSPC`);
      assertStringIncludes(err.message, "it needs 1.5 MB");
      const free = (err as WriteFailure).free;
      assert(free !== null && free < 1_000_000 && free > 0, `free ${free}`);
      assertEquals(tmpFiles(join(dir, "models")), []);
      assertEquals(await Deno.readFile(target), old);
      // The space the failed write took was given back: a small file still fits.
      await writeFileAtomic(join(dir, "models", "small.json"), "{}\n");
    } finally {
      new Deno.Command("umount", { args: [dir] }).outputSync();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("run lock: exclusive, names its owner, released, stale and garbage locks taken over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_lock_" });
  try {
    const lock = await acquireRunLock(dir, "bottle", { command: "deno task train --type bottle" });
    const path = runLockPath(dir, "bottle");
    assertEquals(lock.path, path);
    const recorded = JSON.parse(await Deno.readTextFile(path));
    assertEquals([recorded.pid, recorded.command], [Deno.pid, "deno task train --type bottle"]);
    assert(!Number.isNaN(Date.parse(recorded.startedAt)));
    const err = await assertRejects(() => acquireRunLock(dir, "bottle"), UserError);
    assertStringIncludes(err.message, `bottle in ${dir} is being trained by another call in this process`);
    assertStringIncludes(err.message, `pid ${Deno.pid}, started ${recorded.startedAt}`);
    assertStringIncludes(err.message, "command: deno task train --type bottle");
    assertStringIncludes(err.message, `if it was interrupted (e.g. a notebook cell), delete ${path}`);
    // Held by another live process (pid 1 stands in for it): named, with how to stop it.
    const foreign = join(dir, "model-carpet.lock");
    await Deno.writeTextFile(
      foreign,
      JSON.stringify({ ...recorded, pid: 1, processStart: null, token: "t" }),
    );
    const byOther = await assertRejects(() => acquireRunLock(dir, "carpet"), UserError);
    assertStringIncludes(
      byOther.message,
      `carpet in ${dir} is being trained by another run (pid 1, started `,
    );
    assertStringIncludes(byOther.message, "`kill 1`");
    await Deno.remove(foreign);
    // Another category in the same folder is independent.
    const other = await acquireRunLock(dir, "cable");
    await other.release();
    await lock.release();
    assertEquals(await Deno.stat(path).catch(() => null), null);

    // A dead owner: a finished child process's pid.
    const child = new Deno.Command("true").spawn();
    await child.status;
    const stale = { ...recorded, pid: child.pid, token: "stale" };
    await Deno.writeTextFile(path, JSON.stringify(stale));
    const notices: string[] = [];
    const taken = await acquireRunLock(dir, "bottle", { notice: (l) => notices.push(l) });
    assertEquals(notices.length, 1);
    assertStringIncludes(notices[0], `taking over the lock ${path} of a run that is no longer running`);
    assertStringIncludes(notices[0], `pid ${child.pid}`);
    assertEquals(JSON.parse(await Deno.readTextFile(path)).token, taken.owner.token);
    taken.releaseSync();
    assertEquals(await Deno.stat(path).catch(() => null), null);

    // Our own pid, but recorded with another process start time: a reused pid, so stale.
    if (processStartTicks(Deno.pid) !== null) {
      await Deno.writeTextFile(path, JSON.stringify({ ...recorded, processStart: "1", token: "reused" }));
      const again = await acquireRunLock(dir, "bottle", { notice: () => {} });
      assertEquals(again.tookOver !== undefined, true);
      await again.release();
    }
    // A lock file without a valid record (e.g. a crash while creating it) is taken over once it is old.
    await Deno.writeTextFile(path, "");
    const garbage = await acquireRunLock(dir, "bottle", { notice: (l) => notices.push(l), settleMs: 100 });
    assertStringIncludes(notices[1], "holds no valid record");
    // Releasing twice, or after someone removed the file, is harmless; another run's lock is never removed.
    await Deno.writeTextFile(path, JSON.stringify({ ...recorded, token: "someone else" }));
    await garbage.release();
    assertEquals(JSON.parse(await Deno.readTextFile(path)).token, "someone else");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: the recorded checksum catches a corrupt file of the right size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_" });
  try {
    const path = join(dir, "model-x.safetensors");
    await writeSafetensors(path, { w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } }, { step: "3" });
    assertEquals(Array.from((await readSafetensors(path)).tensors.get("w")!.data), [1, 2, 3, 4]);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 2] ^= 0x40;
    await Deno.writeFile(path, bytes);
    const err = await assertRejects(() => readSafetensors(path), DamagedFileError);
    assertStringIncludes(err.message, "does not match the checksum");
    assertStringIncludes(err.message, "deno task train"); // a model file: re-run training
    const weights = join(dir, "resnet18.safetensors");
    await Deno.writeFile(weights, bytes.subarray(0, 40));
    const t = await assertRejects(() => readSafetensors(weights), DamagedFileError);
    assertStringIncludes(t.message, `${weights} is damaged: not a valid safetensors file`);
    assertStringIncludes(t.message, "deno task weights");
    const c = await assertRejects(
      () => readSafetensors(join(dir, "model-x.checkpoint.safetensors")),
      UserError,
      "checkpoint file not found",
    );
    assertStringIncludes(c.message, "without --resume");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function syntheticData(dir: string): Promise<void> {
  await generateSyntheticDataset(join(dir, "data"), {
    categories: [CATEGORY],
    size: 32,
    trainCount: 3,
    testGoodCount: 1,
    testBadCount: 1,
  });
}

function smallConfig(dir: string, epochs: number): TrainConfig {
  return {
    ...TRAIN_DEFAULTS,
    category: CATEGORY,
    dataDir: join(dir, "data"),
    modelDir: join(dir, "models"),
    logDir: join(dir, "logs"),
    epochs,
    testEpochs: 1,
    batchSize: 1,
    size: 32,
    pretrained: null,
  };
}

async function checkpointStep(path: string): Promise<number> {
  return JSON.parse((await readSafetensors(path)).metadata.state).step;
}

Deno.test({
  name: "training: disk full → stops with the last good checkpoint kept; damaged newest → resume falls back",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_train_" });
    try {
      await initBackend("wasm");
      await syntheticData(dir);
      const data = await loadCategoryImages(join(dir, "data"), CATEGORY, 32, { quiet: true });
      const config = smallConfig(dir, 2);
      const paths = runPaths(config);
      const lines: string[] = [];
      const hooks = { quiet: true, log: (l: string) => lines.push(l) };

      // A stale lock of a killed run is taken over, with a notice in the log.
      const dead = new Deno.Command("true").spawn();
      await dead.status;
      await Deno.mkdir(config.modelDir, { recursive: true });
      await Deno.writeTextFile(
        runLockPath(config.modelDir, CATEGORY),
        JSON.stringify({
          format: "sspcab-run-lock",
          pid: dead.pid,
          startedAt: "2026-01-01T00:00:00.000Z",
          command: "deno task train --type synthetic_object",
          processStart: null,
          token: "dead",
        }),
      );
      // The second checkpoint write fails: the disk is full.
      const previous = setFsWriter(failingWriter(/\.checkpoint\.safetensors\.\d+/, "ENOSPC", 28, 1));
      let err: UserError;
      try {
        err = await assertRejects(() => trainCategory(config, { data, hooks }), UserError);
      } finally {
        setFsWriter(previous);
      }
      assertStringIncludes(lines[0], `of a run that is no longer running (pid ${dead.pid}`);
      assertStringIncludes(
        err.message,
        `training of ${CATEGORY} stopped at step 2: cannot write ${paths.checkpoint}`,
      );
      assertStringIncludes(err.message, "no space left on the device");
      assertStringIncludes(err.message, `the last good checkpoint (step 1) is kept at ${paths.checkpoint}`);
      assertStringIncludes(err.message, `or more in ${config.modelDir}`);
      assertStringIncludes(err.message, "then run again with --resume to continue from step 1");
      assertEquals(await checkpointStep(paths.checkpoint), 1);
      assertEquals(tmpFiles(config.modelDir), []);
      assertEquals(
        await Deno.stat(runLockPath(config.modelDir, CATEGORY)).catch(() => null),
        null,
        "lock released",
      );

      // Resume finishes (checkpoint 1 → 2), keeping step 1 as the previous checkpoint.
      const done = await trainCategory(config, { data, hooks, resume: true });
      assertEquals(done.steps, 2);
      assertEquals(await checkpointStep(paths.checkpoint), 2);
      assertEquals(await checkpointStep(previousCheckpointPath(paths.checkpoint)), 1);

      // Truncate the newest: --resume says so and continues from the previous one (step 1).
      const bytes = await Deno.readFile(paths.checkpoint);
      await Deno.writeFile(paths.checkpoint, bytes.subarray(0, bytes.length >> 1));
      lines.length = 0;
      const longer = { ...config, epochs: 3 };
      const resumed = await trainCategory(longer, { data, hooks, resume: true });
      const prev = previousCheckpointPath(paths.checkpoint);
      assertStringIncludes(lines[0], `the newest checkpoint ${paths.checkpoint} is unusable`);
      assertStringIncludes(lines[0], `falling back to the previous checkpoint ${prev} (step 1)`);
      assertStringIncludes(lines[1], `resumed from ${prev} at step 1/3`);
      assertEquals(resumed.steps, 3);
      assertEquals(resumed.history.map((h) => h.step), [1, 2, 3]);
      assertEquals(await checkpointStep(paths.checkpoint), 3);

      // Both damaged: one error naming both files, saying how to start over.
      for (const p of [paths.checkpoint, prev]) await Deno.writeFile(p, new Uint8Array(100));
      const both = await assertRejects(() => trainCategory(longer, { data, hooks, resume: true }), UserError);
      assertStringIncludes(both.message, `no usable checkpoint to resume from: ${paths.checkpoint}`);
      assertStringIncludes(both.message, prev);
      assertStringIncludes(both.message, "train without --resume to start over");

      // A density fitted on another version of the model file is refused by predict/export.
      const model = await loadTrainedModel(paths.best);
      assert(model.fingerprint !== null && /^[0-9a-f]{64}$/.test(model.fingerprint));
      checkDensityMatchesModel("d.json", { fingerprint: model.fingerprint!, step: model.step }, model);
      const stale = assertThrowsUser(() =>
        checkDensityMatchesModel("d.json", { fingerprint: "0".repeat(64), step: 1 }, model)
      );
      assertStringIncludes(stale.message, `d.json was fitted on another version of ${paths.best}`);
      assertStringIncludes(stale.message, "deno task eval");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function assertThrowsUser(fn: () => void): UserError {
  try {
    fn();
  } catch (err) {
    assert(err instanceof UserError, String(err));
    return err;
  }
  throw new Error("expected a UserError");
}

function trainArgs(dir: string, epochs: number, extra: string[] = []): string[] {
  return [
    "run",
    "-A",
    join(root, "lib", "cli", "train.ts"),
    "--data_dir",
    join(dir, "data"),
    "--type",
    CATEGORY,
    "--model_dir",
    join(dir, "models"),
    "--log_dir",
    join(dir, "logs"),
    "--epochs",
    String(epochs),
    "--test_epochs",
    "1",
    "--batch_size",
    "1",
    "--size",
    "32",
    "--no-pretrained",
    "--backend",
    "wasm",
    ...extra,
  ];
}

async function waitFor(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await Deno.stat(path).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test({
  name: "two training runs on one folder: the second fails fast naming the first, the first finishes",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_two_" });
    try {
      await syntheticData(dir);
      const env = { NO_COLOR: "1" };
      const first = new Deno.Command(Deno.execPath(), {
        args: trainArgs(dir, 6),
        stdout: "piped",
        stderr: "piped",
        env,
      }).spawn();
      const firstOut = first.output();
      const lockPath = runLockPath(join(dir, "models"), CATEGORY);
      await waitFor(lockPath, 120_000);
      const t0 = performance.now();
      const second = await new Deno.Command(Deno.execPath(), {
        args: trainArgs(dir, 6),
        stdout: "piped",
        stderr: "piped",
        env,
      }).output();
      const seconds = (performance.now() - t0) / 1000;
      const err = dec(second.stderr);
      assertEquals(second.code, 2, err);
      assertStringIncludes(
        err,
        `error: ${CATEGORY} in ${join(dir, "models")} is being trained by another run`,
      );
      assertStringIncludes(err, `(pid ${first.pid}, started `);
      assertStringIncludes(err, `lib/cli/train.ts --data_dir ${join(dir, "data")}`);
      assertStringIncludes(err, "train into another --model_dir");
      assert(!/\n\s+at .*\.(ts|js):\d+/.test(err), `stack trace printed:\n${err}`);
      assert(!dec(second.stdout).includes("Train [ Epoch"), "the second run must not train");
      assert(await Deno.stat(lockPath).then(() => true, () => false), "the first run still holds its lock");

      const out = await firstOut;
      assertEquals(out.code, 0, dec(out.stderr));
      assertStringIncludes(dec(out.stdout), `${CATEGORY}: 6 steps`);
      const paths = runPaths({
        category: CATEGORY,
        modelDir: join(dir, "models"),
        logDir: join(dir, "logs"),
      });
      assertEquals(await checkpointStep(paths.checkpoint), 6);
      assertEquals(JSON.parse(await Deno.readTextFile(paths.runInfo)).status, "done");
      const log = await Deno.readTextFile(paths.log);
      assertEquals(
        log.split("\n").filter((l) => l.includes("Train [ Epoch")).length,
        6,
        "one run's log only",
      );
      await loadTrainedModel(paths.best);
      assertEquals(await Deno.stat(lockPath).catch(() => null), null, "the lock is released at exit");
      console.log(`second run refused after ${seconds.toFixed(1)} s`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "kill -9 in the middle of a checkpoint write, then --resume finishes (stale lock taken over)",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_kill_" });
    try {
      await syntheticData(dir);
      const config = smallConfig(dir, 2);
      const configPath = join(dir, "config.json");
      await Deno.writeTextFile(configPath, JSON.stringify({ ...config, backend: "wasm" }));
      const marker = join(dir, "paused");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(root, "tests", "helpers", "paused_checkpoint_train.ts"),
          configPath,
          "2",
          marker,
        ],
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const childErr = new Response(child.stderr).text();
      await waitFor(marker, 180_000).catch(async (e) => {
        child.kill("SIGKILL");
        throw new Error(`${e.message}: ${await childErr}`);
      });
      const tmp = await Deno.readTextFile(marker);
      assert((await Deno.stat(tmp)).size > 0, "the checkpoint's temp file is half written");
      child.kill("SIGKILL");
      assert(!(await child.status).success);
      await childErr;
      const paths = runPaths(config);
      assertEquals(await checkpointStep(paths.checkpoint), 1, "the newest complete checkpoint is intact");
      assert(
        await Deno.stat(runLockPath(config.modelDir, CATEGORY)).then(() => true),
        "the killed run's lock",
      );

      const resumed = await new Deno.Command(Deno.execPath(), {
        args: trainArgs(dir, 3, ["--resume"]),
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const out = dec(resumed.stdout);
      assertEquals(resumed.code, 0, dec(resumed.stderr));
      assertStringIncludes(out, "taking over the lock");
      assertStringIncludes(out, `resumed from ${paths.checkpoint} at step 1/3`);
      assertStringIncludes(out, `${CATEGORY}: 3 steps`);
      assertEquals(await checkpointStep(paths.checkpoint), 3);
      assertEquals(tmpFiles(config.modelDir), [], "the killed write's temp file is removed");
      assertEquals(await Deno.stat(runLockPath(config.modelDir, CATEGORY)).catch(() => null), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("images: the decompression-bomb refusal names --max_pixels with the value that admits the image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_" });
  try {
    await syntheticData(dir);
    const image = join(dir, "data", CATEGORY, "train", "good", "000.png");
    const err = await assertRejects(() => loadRgb(image, 32, { maxPixels: 500 }), UserError);
    assertStringIncludes(err.message, "has 1,024 pixels, more than the limit of 500 pixels");
    assertStringIncludes(err.message, "--max_pixels 1024");
    assertEquals((await loadRgb(image, 32, { maxPixels: 1024 })).width, 32);
    // Threaded through data loading.
    await assertRejects(
      () => loadCategoryImages(join(dir, "data"), CATEGORY, 32, { quiet: true, maxPixels: 500 }),
      UserError,
      "--max_pixels",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "train CLI: --max_pixels reaches image loading; SIGINT releases the lock",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sspcab_rel_cli_" });
    try {
      await syntheticData(dir);
      const refused = await new Deno.Command(Deno.execPath(), {
        args: trainArgs(dir, 2, ["--max_pixels", "500"]),
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const err = dec(refused.stderr);
      assertEquals(refused.code, 2, err);
      assertStringIncludes(err, "more than the limit of 500 pixels");
      assertStringIncludes(err, "--max_pixels 1024");
      const lockPath = runLockPath(join(dir, "models"), CATEGORY);
      assertEquals(await Deno.stat(lockPath).catch(() => null), null, "released after the error");

      const child = new Deno.Command(Deno.execPath(), {
        args: trainArgs(dir, 50),
        stdout: "null",
        stderr: "null",
        env: { NO_COLOR: "1" },
      }).spawn();
      await waitFor(lockPath, 120_000);
      child.kill("SIGINT");
      const status = await child.status;
      assertEquals(status.code, 130);
      assertEquals(await Deno.stat(lockPath).catch(() => null), null, "released on SIGINT");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
