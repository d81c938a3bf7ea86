/**
 * Errors meant for the user: they carry a message that names the file or setting at fault and says what to
 * do. CLIs print them without a stack trace.
 * @module
 */

/** An error caused by input the user controls (a file, a folder, a flag), with advice on how to fix it. */
export class UserError extends Error {
  /** Create a user-facing error; `hint` says what to do about it. */
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message}\n  → ${hint}` : message);
    this.name = "UserError";
  }
}

/** True when `err` is a {@link UserError}. */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** The kinds of files this tool reads back, each with its own remedy when damaged. */
export type FileKind = "checkpoint" | "model" | "density" | "weights" | "bundle";

/** What to do when a file of each {@link FileKind} is damaged (truncated, corrupt or of another format). */
export const DAMAGED_FILE_HINTS: Readonly<Record<FileKind, string>> = {
  checkpoint: "`--resume` falls back to the previous checkpoint (`…checkpoint.prev.safetensors`) when " +
    "there is one; otherwise delete the checkpoint and train without --resume to start over",
  model: "re-run training for this category (`deno task train`), then `deno task eval`",
  density: "re-run `deno task eval` for this category to fit the density again",
  weights: "re-download the weights with `deno task weights`",
  bundle: "re-export the bundle with `deno task export`",
};

/**
 * Guess the {@link FileKind} of a file from its name, for readers that were not told: our checkpoints end in
 * `.checkpoint[.prev].safetensors`, trained models are `model-<category>.safetensors`, fitted densities
 * `….density.json`; any other safetensors file is taken for downloaded weights.
 */
export function fileKindOf(path: string): FileKind {
  const name = path.split(/[\\/]/).pop() ?? path;
  if (/\.checkpoint(\.prev)?\.safetensors$/.test(name)) return "checkpoint";
  if (/^model-.*\.safetensors$/.test(name)) return "model";
  if (name.endsWith("density.json")) return "density";
  if (name === "model.json" || name === "metadata.json" || name.endsWith(".bin")) return "bundle";
  return "weights";
}

/** A file we wrote (or downloaded) that can no longer be read: truncated, corrupt, or of another format. */
export class DamagedFileError extends UserError {
  /** `why` says what is wrong with the file at `path`; the hint depends on its `kind`. */
  constructor(readonly path: string, readonly kind: FileKind, readonly why: string) {
    super(`${path} is damaged: ${why}`, DAMAGED_FILE_HINTS[kind]);
    this.name = "DamagedFileError";
  }
}

/**
 * Run a CLI entry point: a {@link UserError} is printed as `error: …` (no stack) and exits with code 2;
 * anything else is printed with its stack and exits with code 1.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (isUserError(err)) {
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    console.error(err);
    Deno.exit(1);
  }
}
