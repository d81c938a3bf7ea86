/**
 * Command-line flags for the `deno task` entry points, typed from their declaration. A command declares its
 * flags once, as an object keyed by the canonical snake_case name (with {@link defineFlags}, or `as const`
 * plus `satisfies FlagSpecs`), and {@link parseFlags} returns an object whose value types follow from it:
 *
 * ```ts
 * const FLAGS = defineFlags({
 *   data_dir: { type: "string", default: "data/mvtec", help: "MVTec AD folder" },
 *   epochs: { type: "number", default: 500, help: "training steps" },
 *   optim: { type: "string", default: "sgd", choices: ["sgd", "adam"], help: "optimiser" },
 *   model_path: { type: "string", help: "model file" },
 *   save_plots: { type: "boolean", default: false, help: "write plots" },
 * });
 * const flags = parseFlags(Deno.args, FLAGS, "eval", "…");
 * // flags: { data_dir: string; epochs: number; optim: "sgd" | "adam"; model_path: string | undefined;
 * //          save_plots: boolean; help: boolean; _: string[] }
 * ```
 *
 * A flag with a default is always set; one without is `T | undefined`; `choices` narrow a string flag to the
 * union of its literal values. A default may be a function, evaluated only when the flag is not given (so a
 * default read from the environment cannot fail a command that sets the flag).
 *
 * Both the reference's snake_case spellings (`--data_dir`) and kebab-case (`--data-dir`) are accepted, as
 * `--flag value` or `--flag=value`; booleans take `--flag`, `--flag=false`, `--flag false` or `--no-flag`.
 * `--help` (or `-h`) sets `help`. An unknown or malformed flag is a {@link UserError} carrying the usage
 * text, never a stack trace.
 * @module
 */
import { UserError } from "../util/errors.ts";

/** A default value, or a function giving it (called only when the flag is not on the command line). */
export type FlagDefault<T> = T | (() => T);

/** What every flag declaration has. */
interface FlagCommon {
  /** One-line help. */
  readonly help: string;
  /** Other accepted names (snake_case), e.g. `img_path` for `img_file`. */
  readonly aliases?: readonly string[];
}

/** A string flag; with `choices`, only those values are accepted. */
export interface StringFlagSpec extends FlagCommon {
  /** Value type. */
  readonly type: "string";
  /** Default value (absent: the flag is `undefined` unless given). */
  readonly default?: FlagDefault<string>;
  /** Allowed values. */
  readonly choices?: readonly string[];
}

/** A number flag (any finite number; commands check ranges themselves). */
export interface NumberFlagSpec extends FlagCommon {
  /** Value type. */
  readonly type: "number";
  /** Default value (absent: the flag is `undefined` unless given). */
  readonly default?: FlagDefault<number>;
}

/** A boolean flag: `--flag`, `--flag=false`, `--no-flag`. */
export interface BooleanFlagSpec extends FlagCommon {
  /** Value type. */
  readonly type: "boolean";
  /** Default value (absent: the flag is `undefined` unless given). */
  readonly default?: FlagDefault<boolean>;
}

/** One flag's declaration. */
export type FlagSpec = StringFlagSpec | NumberFlagSpec | BooleanFlagSpec;

/** A command's flags, keyed by canonical snake_case name (`help` and `_` are reserved). */
export type FlagSpecs = { readonly [name: string]: FlagSpec };

/** The value type a flag declaration yields when set: number, boolean, a string, or the union of its choices. */
export type FlagValue<F> = F extends { readonly type: "number" } ? number
  : F extends { readonly type: "boolean" } ? boolean
  : F extends { readonly choices: readonly (infer C extends string)[] } ? C
  : string;

/** Whether a flag declaration has a default (then its value is never `undefined`). */
type HasDefault<F> = F extends { readonly default: infer D } ? (undefined extends D ? false : true) : false;

/** The parsed flags of a declaration `S`: one typed value per flag, plus `help` and the positional `_`. */
export type ParsedFlags<S extends FlagSpecs> =
  & {
    -readonly [K in keyof S]: HasDefault<S[K]> extends true ? FlagValue<S[K]> : FlagValue<S[K]> | undefined;
  }
  & {
    /** Whether `--help` or `-h` was given. */
    help: boolean;
    /** Positional arguments. */
    _: string[];
  };

/**
 * Compile-time check of a declaration: a string flag's default must be one of its `choices`. Resolves to
 * `unknown` (no constraint) when the declaration is sound.
 */
export type CheckFlagSpecs<S> = {
  [K in keyof S]: S[K] extends
    { readonly choices: readonly (infer C extends string)[]; readonly default: infer D }
    ? [D] extends [FlagDefault<C>] ? unknown : { readonly default: FlagDefault<C> }
    : unknown;
};

/**
 * Declare a command's flags with their literal types kept (no `as const` needed), checked against
 * {@link FlagSpecs} and {@link CheckFlagSpecs}. Returns `specs` unchanged.
 */
export function defineFlags<const S extends FlagSpecs>(specs: S & CheckFlagSpecs<S>): S {
  return specs;
}

/** The value of a default, calling it when it is a function. */
function resolveDefault<T>(d: FlagDefault<T>): T {
  return typeof d === "function" ? (d as () => T)() : d;
}

/**
 * The usage text of a command. Defaults are shown as computed now; an empty one, or one that cannot be
 * computed (e.g. from a bad environment variable), is left out.
 */
export function usage(command: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const names = [name, ...(s.aliases ?? [])].map((n) => `--${n}`).join(", ");
    const value = s.type === "boolean"
      ? ""
      : s.type === "string" && s.choices
      ? ` ${s.choices.join("|")}`
      : ` ${s.type === "number" ? "N" : "VALUE"}`;
    let def = "";
    if (s.default !== undefined) {
      try {
        const v = resolveDefault<string | number | boolean>(s.default);
        def = v === "" ? "" : ` (default: ${v})`;
      } catch {
        def = "";
      }
    }
    return `  ${(names + value).padEnd(40)} ${s.help}${def}`;
  });
  return `usage: deno task ${command} [flags]\n${summary}\n\nflags:\n${rows.join("\n")}\n  ${
    "--help".padEnd(40)
  } show this help`;
}

const normalise = (name: string) => name.replace(/-/g, "_");

/**
 * Parse `args` against `specs` (see the module doc for the accepted forms and the result's type). `--help`
 * sets `help: true`; anything unknown or malformed throws a {@link UserError} whose message includes the
 * usage text. Defaults (functions included) are filled in for flags not given.
 */
export function parseFlags<const S extends FlagSpecs>(
  args: readonly string[],
  specs: S & CheckFlagSpecs<S>,
  command: string,
  summary: string,
): ParsedFlags<S> {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [name, s] of Object.entries(specs as FlagSpecs)) {
    if (name === "help" || name === "_") throw new Error(`flag name "${name}" is reserved`);
    for (const n of [name, ...(s.aliases ?? [])]) byName.set(n, [name, s]);
  }
  const values: Record<string, string | number | boolean> = {};
  const positional: string[] = [];
  let help = false;
  const fail = (msg: string): never => {
    throw new UserError(`${msg}\n\n${usage(command, summary, specs)}`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      if (arg === "-h") help = true;
      else positional.push(arg);
      continue;
    }
    if (arg === "--help") {
      help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    let name = normalise(eq >= 0 ? arg.slice(2, eq) : arg.slice(2));
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let entry = byName.get(name);
    if (!entry && name.startsWith("no_") && byName.get(name.slice(3))?.[1].type === "boolean") {
      if (inline !== undefined) fail(`--${arg.slice(2, eq)} takes no value`);
      entry = byName.get(name.slice(3));
      name = name.slice(3);
      inline = "false";
    }
    if (!entry) return fail(`unknown flag --${name}`);
    const [key, s] = entry;
    if (s.type === "boolean") {
      if (inline === undefined && i + 1 < args.length && /^(true|false)$/i.test(args[i + 1])) {
        inline = args[++i];
      }
      if (inline !== undefined && !/^(true|false|1|0)$/i.test(inline)) fail(`--${name} takes true or false`);
      values[key] = inline === undefined ? true : /^(true|1)$/i.test(inline);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= args.length) fail(`--${name} needs a value`);
      inline = args[++i];
    }
    if (s.type === "number") {
      const v = Number(inline);
      if (inline.trim() === "" || !Number.isFinite(v)) fail(`--${name} takes a number, got "${inline}"`);
      values[key] = v;
    } else {
      if (s.choices && !s.choices.includes(inline)) {
        fail(`--${name} must be one of ${s.choices.join(", ")}, got "${inline}"`);
      }
      values[key] = inline;
    }
  }
  for (const [name, s] of Object.entries(specs as FlagSpecs)) {
    if (name in values || s.default === undefined) continue;
    values[name] = resolveDefault<string | number | boolean>(s.default);
  }
  return { ...values, help, _: positional } as ParsedFlags<S>;
}
