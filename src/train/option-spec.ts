// The options a command or a recipe accepts, as data: each names its type, its bounds and its
// help line. The command line (src/cli/options.ts) parses argv against a table of these, so that
// every flag of every command is validated the same way and a recipe can declare its own options
// without reading process.argv.

interface Common {
  /** One line for --help. */
  help: string;
}

/** An integer within [min, max] (both inclusive; min defaults to 0). */
export interface IntOption extends Common {
  type: "int";
  min?: number;
  max?: number;
  default?: number;
}

/** A finite number; `positive` refuses 0 and below (learning rates, scales). */
export interface NumberOption extends Common {
  type: "number";
  positive?: boolean;
  min?: number;
  max?: number;
  default?: number;
}

export interface StringOption extends Common {
  type: "string";
  default?: string;
  /** What the value is, for --help ("PATH", "HOST:PORT"). */
  placeholder?: string;
}

/** One of a fixed list of words. */
export interface ChoiceOption extends Common {
  type: "choice";
  choices: readonly string[];
  default?: string;
}

/** Present or absent; takes no value. */
export interface FlagOption extends Common {
  type: "flag";
  /** A one-letter alias ("h" for -h). */
  short?: string;
}

export type OptionSpec = IntOption | NumberOption | StringOption | ChoiceOption | FlagOption;

export type OptionTable = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends IntOption | NumberOption ? number : S extends FlagOption ? boolean : string;

/** The parsed values: options with a default (and flags) are always there, the others may be missing. */
export type OptionValues<T extends OptionTable> = {
  [K in keyof T]: T[K] extends FlagOption ? boolean : T[K] extends { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};
