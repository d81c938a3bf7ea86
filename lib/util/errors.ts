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
