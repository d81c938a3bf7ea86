/**
 * Command-line flags for the `deno task` entry points. Both the reference's snake_case spellings
 * (`--data_dir`) and kebab-case (`--data-dir`) are accepted, as `--flag value` or `--flag=value`; booleans take
 * `--flag`, `--flag=false` or `--no-flag`. An unknown or malformed flag is a {@link UserError} carrying the
 * usage text, never a stack trace.
 * @module
 */
import { UserError } from "../util/errors.ts";

/** One flag's declaration. */
export interface FlagSpec {
  /** Canonical snake_case name, e.g. `data_dir`. */
  name: string;
  /** Value type. */
  type: "string" | "number" | "boolean";
  /** Default value (undefined: no default). */
  default?: string | number | boolean;
  /** One-line help. */
  help: string;
  /** Other accepted names (snake_case), e.g. `img_path` for `img_file`. */
  aliases?: string[];
  /** Allowed values for a string flag. */
  choices?: readonly string[];
}

/** Parsed flags by canonical name, plus positional arguments under `_`. */
export interface ParsedFlags {
  /** Flag values by canonical name. */
  [name: string]: string | number | boolean | string[] | undefined;
  /** Positional arguments. */
  _: string[];
}

/** The usage text of a command. */
export function usage(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = [s.name, ...(s.aliases ?? [])].map((n) => `--${n}`).join(", ");
    const value = s.type === "boolean"
      ? ""
      : s.choices
      ? ` ${s.choices.join("|")}`
      : ` ${s.type === "number" ? "N" : "VALUE"}`;
    const def = s.default !== undefined ? ` (default: ${s.default})` : "";
    return `  ${(names + value).padEnd(40)} ${s.help}${def}`;
  });
  return `usage: deno task ${command} [flags]\n${summary}\n\nflags:\n${rows.join("\n")}\n  ${
    "--help".padEnd(40)
  } show this help`;
}

const normalise = (name: string) => name.replace(/-/g, "_");

/**
 * Parse `args` against `specs`. `--help` returns `{ help: true }`; anything unknown or malformed throws a
 * {@link UserError} whose message includes the usage text.
 */
export function parseFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
  command: string,
  summary: string,
): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of [s.name, ...(s.aliases ?? [])]) byName.set(n, s);
  const out: ParsedFlags = { _: [] };
  for (const s of specs) if (s.default !== undefined) out[s.name] = s.default;
  const fail = (msg: string): never => {
    throw new UserError(`${msg}\n\n${usage(command, summary, specs)}`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      out._.push(arg);
      continue;
    }
    if (arg === "--help" || arg === "-h") {
      out.help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    let name = normalise(eq >= 0 ? arg.slice(2, eq) : arg.slice(2));
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (!spec && name.startsWith("no_") && byName.get(name.slice(3))?.type === "boolean") {
      spec = byName.get(name.slice(3));
      name = name.slice(3);
      inline = "false";
    }
    if (!spec) fail(`unknown flag --${name}`);
    const s = spec!;
    if (s.type === "boolean") {
      if (inline === undefined && i + 1 < args.length && /^(true|false)$/i.test(args[i + 1])) {
        inline = args[++i];
      }
      if (inline !== undefined && !/^(true|false|1|0)$/i.test(inline)) fail(`--${name} takes true or false`);
      out[s.name] = inline === undefined ? true : /^(true|1)$/i.test(inline);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= args.length) fail(`--${name} needs a value`);
      inline = args[++i];
    }
    if (s.type === "number") {
      const v = Number(inline);
      if (inline.trim() === "" || !Number.isFinite(v)) fail(`--${name} takes a number, got "${inline}"`);
      out[s.name] = v;
    } else {
      if (s.choices && !s.choices.includes(inline)) {
        fail(`--${name} must be one of ${s.choices.join(", ")}, got "${inline}"`);
      }
      out[s.name] = inline;
    }
  }
  return out;
}
