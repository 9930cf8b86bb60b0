// The one argument parser of every `weft` command. It takes `--name value`, `--name=value`, bare
// `--flag`, one-letter aliases (`-h`) and `--` (the end of options), checks every value against its
// OptionSpec (type, bounds, choices) and refuses, with a UsageError naming the flag, anything it
// does not know: an unknown flag lists the known ones, a stray word says which positionals the
// command takes. A UsageError becomes one line on stderr and exit status 2 (main.ts).
import type { OptionSpec, OptionTable, OptionValues } from "../train/option-spec.js";

/** Bad input on the command line: printed as one line, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface ParseOptions {
  /** The command, for messages ("weft train mnist"). */
  command: string;
  /** Names of the positional arguments the command takes, in order (default none). */
  positionals?: readonly string[];
  /**
   * Stop at the first positional and hand it and everything after it back untouched (`weft launch
   * script.js --its-own-flags`).
   */
  stopAtPositional?: boolean;
}

export interface Parsed<T extends OptionTable> {
  values: OptionValues<T>;
  positionals: string[];
  /** With stopAtPositional: the first positional and everything after it. */
  rest: string[];
}

function describe(spec: OptionSpec): string {
  switch (spec.type) {
    case "int":
      return spec.max === undefined ? `an integer >= ${spec.min ?? 0}` : `an integer from ${spec.min ?? 0} to ${spec.max}`;
    case "number":
      if (spec.positive) return spec.max === undefined ? "a number above 0" : `a number above 0, at most ${spec.max}`;
      if (spec.min !== undefined && spec.max !== undefined) return `a number from ${spec.min} to ${spec.max}`;
      return spec.min !== undefined ? `a number >= ${spec.min}` : "a number";
    case "choice":
      return `one of ${spec.choices.join(", ")}`;
    case "string":
      return spec.placeholder ?? "a value";
    case "flag":
      return "no value";
  }
}

/** Checks and converts one value; throws a UsageError naming the flag and what it accepts. */
export function convertValue(flag: string, spec: OptionSpec, raw: string): number | string {
  const bad = (): never => {
    throw new UsageError(`${flag} must be ${describe(spec)}, got "${raw}"`);
  };
  switch (spec.type) {
    case "int": {
      if (!/^-?\d+$/.test(raw.trim())) bad();
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < (spec.min ?? 0) || (spec.max !== undefined && n > spec.max)) bad();
      return n;
    }
    case "number": {
      const n = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(n)) bad();
      if (spec.positive && n <= 0) bad();
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) bad();
      return n;
    }
    case "choice":
      if (!spec.choices.includes(raw)) bad();
      return raw;
    case "string":
      if (raw === "") bad();
      return raw;
    case "flag":
      throw new UsageError(`${flag} takes no value, got "${raw}"`);
  }
}

/** Parses `argv` against `table`; throws UsageError on anything it cannot accept. */
export function parseCommandLine<T extends OptionTable>(argv: readonly string[], table: T, o: ParseOptions): Parsed<T> {
  // No prototype: "--constructor" or "--__proto__" must be unknown options, not inherited ones.
  const values: Record<string, number | string | boolean> = Object.create(null) as Record<string, number | string | boolean>;
  const positionals: string[] = [];
  const wanted = o.positionals ?? [];
  const byShort = new Map(Object.entries(table).flatMap(([name, s]) => (s.type === "flag" && s.short ? [[s.short, name] as const] : [])));
  const known = (): string => Object.keys(table).map((k) => `--${k}`).join(", ");
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest = argv.slice(i + 1);
      if (!o.stopAtPositional) positionals.push(...rest), (rest = []);
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      if (o.stopAtPositional) {
        rest = argv.slice(i);
        break;
      }
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = arg.slice(2, eq < 0 ? undefined : eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      const alias = byShort.get(arg.slice(1));
      if (alias === undefined) throw new UsageError(`${o.command}: unknown option ${arg}; known: ${known()}`);
      name = alias;
    }
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!spec) throw new UsageError(`${o.command}: unknown option --${name}; known: ${known()}`);
    const flag = `--${name}`;
    if (Object.hasOwn(values, name)) throw new UsageError(`${o.command}: ${flag} is given twice`);
    if (spec.type === "flag") {
      if (inline !== undefined) throw new UsageError(`${o.command}: ${flag} takes no value, got "${inline}"`);
      values[name] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`${o.command}: ${flag} needs a value (${describe(spec)})`);
    try {
      values[name] = convertValue(flag, spec, raw);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(`${o.command}: ${err.message}`) : err;
    }
  }
  if (positionals.length > wanted.length) {
    const extra = positionals[wanted.length]!;
    throw new UsageError(
      wanted.length === 0
        ? `${o.command}: unexpected argument "${extra}"; it takes only options (see --help)`
        : `${o.command}: unexpected argument "${extra}" after ${wanted.join(" ")} (see --help)`,
    );
  }
  for (const [name, spec] of Object.entries(table)) {
    if (Object.hasOwn(values, name)) continue;
    if (spec.type === "flag") values[name] = false;
    else if (spec.default !== undefined) values[name] = spec.default;
  }
  return { values: values as OptionValues<T>, positionals, rest };
}

/** The options part of --help: one line per option, its value's shape, help and default. */
export function describeOptions(table: OptionTable): string {
  return Object.entries(table)
    .map(([name, s]) => {
      const short = s.type === "flag" && s.short ? `-${s.short}, ` : "";
      const value = s.type === "flag" ? "" : s.type === "choice" ? ` ${s.choices.join("|")}` : s.type === "string" ? ` ${s.placeholder ?? "VALUE"}` : " N";
      const dflt = s.type !== "flag" && s.default !== undefined ? ` (default ${s.default})` : "";
      return `  ${`${short}--${name}${value}`.padEnd(28)} ${s.help}${dflt}`;
    })
    .join("\n");
}
