// A small command-line parser: `--name value`, `--name=value` and bare `--flag`. Unknown options
// are an error that lists the known ones, so a typo never silently falls back to a default.

export interface OptionSpec {
  /** "number", "string" or "flag" (no value). */
  type: "number" | "string" | "flag";
  help: string;
}

export type ParsedOptions = Record<string, string | number | boolean>;

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseOptions(argv: readonly string[], spec: Record<string, OptionSpec>): { options: ParsedOptions; rest: string[] } {
  const options: ParsedOptions = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}; known: ${Object.keys(spec).map((k) => `--${k}`).join(", ")}`);
    if (s.type === "flag") {
      options[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value (${s.help})`);
    if (s.type === "number") {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
      options[name] = n;
    } else {
      options[name] = value;
    }
  }
  return { options, rest };
}

export function describeOptions(spec: Record<string, OptionSpec>): string {
  return Object.entries(spec)
    .map(([name, s]) => `  --${name}${s.type === "flag" ? "" : ` <${s.type}>`}`.padEnd(26) + s.help)
    .join("\n");
}
