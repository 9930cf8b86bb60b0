// `weft compare`'s arguments: the recipe, the grid (`--grid KEY=V1,V2`, repeatable, or a JSON file
// with `--config`), the flags every configuration shares (`--set KEY=V` or after `--`), and the
// comparison's own options. The grid is checked before anything runs, against `weft train
// <recipe>`'s own option table and with its own parser: every KEY must be a flag it takes, every
// value must parse for that flag, and each configuration's whole `weft train` argument list is
// parsed once, dry, and checked by the same checkTrainValues that `weft train` runs after parsing
// (strategy and worker count, flags that go together, processes against the CPUs), so a
// configuration that would be refused is refused here, in one line, before anything runs.
//
// `--grid` and `--set` may be given many times, which the one parser refuses on purpose for every
// other flag (a repeated `--lr` is a typo); so they are taken out of argv here, before the parser
// sees the rest.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { findRecipe, RECIPES } from "../recipes/index.js";
import type { OptionSpec, OptionTable } from "../train/option-spec.js";
import type { Recipe } from "../train/recipe.js";
import { convertValue, describeOptions, parseCommandLine, UsageError } from "./options.js";
import { checkTrainValues, trainOptionTable } from "./train-command.js";
import { cpuCount, WORKERS_PER_CPU } from "./worker-count.js";

/** The longest --time-limit: 7 days, well inside what setTimeout can wait (2^31-1 ms, about 24.8 days). */
export const MAX_TIME_LIMIT_S = 7 * 24 * 3600;

/** `weft compare`'s own options (`--grid` and `--set` are listed for --help; see above for how they are read). */
export const COMPARE_OPTIONS = {
  grid: { type: "string", placeholder: "KEY=V1,V2", help: "a weft train flag and the values to try; repeat it, and every combination runs" },
  set: { type: "string", placeholder: "KEY=V", help: "a weft train flag every configuration gets (repeatable; or put flags after --)" },
  config: { type: "string", placeholder: "PATH", help: 'the grid as JSON: {"grid": {"workers": [2, 4]}, "configs": [{...}], "set": {...}}' },
  out: { type: "string", placeholder: "DIR", help: "the report folder, new or empty (default runs/compare-<time>)" },
  // At most a week: past 2^31-1 ms a Node timer fires at once, and no comparison means that.
  "time-limit": { type: "number", positive: true, max: MAX_TIME_LIMIT_S, default: 1200, help: "seconds a configuration may run before it is stopped and marked timed out (at most a week)" },
  parallel: { type: "int", min: 1, default: 1, help: "configurations that run at once (their times then share the CPUs)" },
  target: { type: "number", help: "the metric value 'time to target' is measured to (default: the best the weakest configuration reached)" },
  json: { type: "flag", help: "print a JSON summary as the last line on stdout" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

/** weft train flags that compare sets itself for every configuration. */
const RESERVED = ["json", "help", "list", "run-dir"] as const;

export interface CompareConfig {
  /** 1-based position in the grid. */
  index: number;
  /** Folder-safe and unique: "2-strategy-ddp-workers-2". */
  id: string;
  /** The settings that vary: "strategy=ddp workers=2" ("default" when nothing varies). */
  label: string;
  settings: Record<string, string>;
  /** `weft train`'s arguments, recipe first, as they run: `--run-dir` is runDir, an absolute path. */
  argv: string[];
  /** The same, as the report shows them: `--run-dir runs/<id>`, relative to the report folder. */
  reportArgv: string[];
  /** Training workers (`--workers`, default 1). */
  workers: number;
  /** Processes its job starts: the workers, and a parameter server's servers. */
  processes: number;
  /** Where its run folder goes (`--run-dir`, when weft train takes it). */
  runDir: string;
}

export interface ComparePlan {
  recipe: Recipe;
  keys: string[];
  configs: CompareConfig[];
  out: string;
  timeLimitS: number;
  parallel: number;
  /** The most processes that may run at once (the widest `parallel` configurations together, servers included). */
  processesAtOnce: number;
  target?: number;
  json: boolean;
}

type Scalar = string | number | boolean;

const isScalar = (x: unknown): x is Scalar => typeof x === "string" || typeof x === "number" || typeof x === "boolean";

/** Takes every `--grid V`, `--grid=V`, `--set V` and `--set=V` out of argv (up to `--`). */
function takeRepeated(argv: readonly string[]): { grid: string[]; set: string[]; rest: string[]; fixed: string[] } {
  const out = { grid: [] as string[], set: [] as string[], rest: [] as string[], fixed: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.fixed = argv.slice(i + 1);
      break;
    }
    const m = /^--(grid|set)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      out.rest.push(arg);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`weft compare: --${m[1]} needs a value (${m[1] === "grid" ? "KEY=V1,V2" : "KEY=V"})`);
    out[m[1] as "grid" | "set"].push(value);
  }
  return out;
}

/** `KEY=V1,V2` (or `KEY=V` when `split` is false, or a bare `KEY` for a flag) as the key and its raw values. */
function splitEntry(flag: string, entry: string, split: boolean): [string, string[]] {
  const eq = entry.indexOf("=");
  const key = (eq < 0 ? entry : entry.slice(0, eq)).replace(/^--/, "");
  if (key === "") throw new UsageError(`weft compare: ${flag} "${entry}" names no flag; write ${flag} KEY=${split ? "V1,V2" : "V"}, e.g. ${flag} ${split ? "strategy=single,ddp" : "epochs=1"}`);
  if (eq < 0) {
    if (split) throw new UsageError(`weft compare: ${flag} ${entry} has no values; write ${flag} ${key}=V1,V2`);
    return [key, ["true"]];
  }
  const raw = entry.slice(eq + 1);
  const values = split ? raw.split(",").map((v) => v.trim()) : [raw];
  if (values.some((v) => v === "")) throw new UsageError(`weft compare: ${flag} ${entry} has an empty value; write ${flag} ${key}=V1,V2 with no empty item`);
  return [key, values];
}

/** The JSON grid file: {"recipe"?, "grid"?: {KEY: [V...] or V}, "configs"?: [{KEY: V}], "set"?: {KEY: V}}. */
interface GridFile {
  recipe?: string;
  grid: [string, string[]][];
  configs: Record<string, string>[];
  set: [string, string][];
}

function readGridFile(path: string): GridFile {
  const where = `weft compare: --config ${path}`;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new UsageError(`${where}: ${why}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${where}: expected a JSON object such as {"grid": {"strategy": ["single", "ddp"]}}`);
  const d = doc as Record<string, unknown>;
  const allowed = ["recipe", "grid", "configs", "set"];
  const stray = Object.keys(d).find((k) => !allowed.includes(k));
  if (stray !== undefined) throw new UsageError(`${where}: unknown field "${stray}"; the fields are ${allowed.join(", ")}`);
  const scalar = (x: unknown, at: string): string => {
    if (!isScalar(x)) throw new UsageError(`${where}: ${at} must be a string, number or boolean, got ${JSON.stringify(x)}`);
    return String(x);
  };
  const object = (x: unknown, at: string): Record<string, unknown> => {
    if (x === null || typeof x !== "object" || Array.isArray(x)) throw new UsageError(`${where}: ${at} must be an object of flag names, got ${JSON.stringify(x)}`);
    return x as Record<string, unknown>;
  };
  if (d.recipe !== undefined && typeof d.recipe !== "string") throw new UsageError(`${where}: "recipe" must be a recipe's name, got ${JSON.stringify(d.recipe)}`);
  const grid = Object.entries(object(d.grid ?? {}, '"grid"')).map(([k, v]): [string, string[]] => [k, (Array.isArray(v) ? v : [v]).map((x, i) => scalar(x, `grid.${k}[${i}]`))]);
  if (d.configs !== undefined && !Array.isArray(d.configs)) throw new UsageError(`${where}: "configs" must be an array of objects, got ${JSON.stringify(d.configs)}`);
  const configs = ((d.configs as unknown[] | undefined) ?? []).map((c, i) => Object.fromEntries(Object.entries(object(c, `configs[${i}]`)).map(([k, v]) => [k, scalar(v, `configs[${i}].${k}`)])));
  const set = Object.entries(object(d.set ?? {}, '"set"')).map(([k, v]): [string, string] => [k, scalar(v, `set.${k}`)]);
  return { ...(d.recipe === undefined ? {} : { recipe: d.recipe as string }), grid, configs, set };
}

/** `weft train <recipe>`'s flags as a user may put them in a grid (compare sets the reserved ones). */
function gridFlags(table: OptionTable): string {
  return Object.keys(table).filter((k) => !(RESERVED as readonly string[]).includes(k)).map((k) => `--${k}`).join(", ");
}

/** Checks `key` is a weft train flag and `value` parses for it; returns its spec. `where` names the input ("--grid lr=0.1,x"). */
function checkEntry(recipe: Recipe, table: OptionTable, where: string, key: string, values: readonly string[]): OptionSpec {
  if ((RESERVED as readonly string[]).includes(key)) {
    const why = key === "run-dir" ? "compare gives each configuration its own run folder inside --out" : `compare sets --${key} itself`;
    throw new UsageError(`weft compare: ${where}: --${key} cannot be chosen here: ${why}`);
  }
  const spec = Object.hasOwn(table, key) ? table[key] : undefined;
  if (!spec) throw new UsageError(`weft compare: ${where}: weft train ${recipe.name} has no option --${key}; its options are ${gridFlags(table)}`);
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new UsageError(`weft compare: ${where}: the value ${v} is listed twice`);
    seen.add(v);
    if (spec.type === "flag") {
      if (v !== "true" && v !== "false") throw new UsageError(`weft compare: ${where}: --${key} is a flag: its values are true and false, got "${v}"`);
      continue;
    }
    try {
      convertValue(`--${key}`, spec, v);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(`weft compare: ${where}: ${err.message}`) : err;
    }
  }
  return spec;
}

/** Flags for `weft train`: `--key value`, or `--key` for a flag set to true (nothing for false). */
function asFlags(table: OptionTable, key: string, value: string): string[] {
  if (table[key]!.type === "flag") return value === "true" ? [`--${key}`] : [];
  return [`--${key}`, value];
}

/**
 * Every combination of the grid's values, first key slowest.
 *
 * @example
 * ```ts
 * assert.deepEqual(combinations([["a", ["1", "2"]], ["b", ["x", "y"]]]), [{ a: "1", b: "x" }, { a: "1", b: "y" }, { a: "2", b: "x" }, { a: "2", b: "y" }]);
 * assert.deepEqual(combinations([]), [{}]);
 * ```
 */
export function combinations(grid: readonly (readonly [string, readonly string[]])[]): Record<string, string>[] {
  return grid.reduce<Record<string, string>[]>((acc, [key, values]) => acc.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))), [{}]);
}

/** A label's folder-safe form. */
function slug(label: string): string {
  return label.replaceAll(/[^A-Za-z0-9.]+/g, "-").replaceAll(/^-+|-+$/g, "").slice(0, 60) || "default";
}

export function compareUsage(): string {
  return `usage: weft compare <recipe> --grid KEY=V1,V2 [--grid KEY=...] [--set KEY=V] [options] [-- weft train flags]

Runs one \`weft train <recipe>\` per combination of the grid's values (each KEY a weft train flag,
e.g. --grid strategy=single,ddp --grid workers=2,4), each under a time limit, and writes a report
folder: report.html (table and charts, opens offline), results.csv, results.json, and each
configuration's run folder and log. The exit status is 0 when every configuration finished.

options:
${describeOptions(COMPARE_OPTIONS)}`;
}

/**
 * Reads `weft compare`'s arguments into a plan, or "help"; throws a UsageError (one line, naming
 * the flag and what it accepts) on anything that would not run.
 *
 * @param argv the arguments after `weft compare`
 * @param now the time that names the default report folder
 */
export function planComparison(argv: readonly string[], now = new Date()): ComparePlan | "help" {
  const { grid: gridArgs, set: setArgs, rest, fixed } = takeRepeated(argv);
  const { values: v, positionals } = parseCommandLine(rest, COMPARE_OPTIONS, { command: "weft compare", positionals: ["<recipe>"] });
  if (v.help) return "help";
  const file = v.config === undefined ? undefined : readGridFile(v.config);

  const name = positionals[0] ?? file?.recipe;
  if (positionals[0] !== undefined && file?.recipe !== undefined && file.recipe !== positionals[0]) {
    throw new UsageError(`weft compare: the recipe is ${positionals[0]} on the command line but ${file.recipe} in --config ${v.config}; give one`);
  }
  const names = RECIPES.map((r) => r.name).join(", ");
  if (name === undefined) throw new UsageError(`weft compare: which recipe? write weft compare <recipe> --grid KEY=V1,V2; the recipes are ${names}`);
  const recipe = findRecipe(name);
  if (!recipe) throw new UsageError(`weft compare: unknown recipe "${name}"; the recipes are ${names}`);
  const table = trainOptionTable(recipe);

  // The grid, the explicit configurations and the shared flags, each checked against weft train's table.
  const grid: [string, string[]][] = [];
  const owner = new Map<string, string>();
  const claim = (key: string, where: string): void => {
    const first = owner.get(key);
    if (first !== undefined) throw new UsageError(`weft compare: --${key} is given in both ${first} and ${where}; give it once`);
    owner.set(key, where);
  };
  for (const [key, values] of file?.grid ?? []) {
    const where = `--config ${v.config} grid.${key}`;
    checkEntry(recipe, table, where, key, values);
    claim(key, where);
    grid.push([key, values]);
  }
  for (const entry of gridArgs) {
    const [key, values] = splitEntry("--grid", entry, true);
    const where = `--grid ${entry}`;
    checkEntry(recipe, table, where, key, values);
    claim(key, where);
    grid.push([key, values]);
  }
  const explicit = file?.configs ?? [];
  const explicitKeys = [...new Set(explicit.flatMap((c) => Object.keys(c)))];
  explicit.forEach((c, i) => {
    for (const [key, value] of Object.entries(c)) checkEntry(recipe, table, `--config ${v.config} configs[${i}]`, key, [value]);
  });
  for (const key of explicitKeys) claim(key, `--config ${v.config} configs`);
  const shared: [string, string][] = [];
  for (const [key, value] of file?.set ?? []) {
    const where = `--config ${v.config} set.${key}`;
    checkEntry(recipe, table, where, key, [value]);
    claim(key, where);
    shared.push([key, value]);
  }
  for (const entry of setArgs) {
    const [key, [value]] = splitEntry("--set", entry, false);
    const where = `--set ${entry}`;
    checkEntry(recipe, table, where, key, [value!]);
    claim(key, where);
    shared.push([key, value!]);
  }
  for (const arg of fixed) {
    const key = /^--([^=]+)/.exec(arg)?.[1] ?? (arg === "-h" ? "help" : undefined);
    if (key !== undefined && (RESERVED as readonly string[]).includes(key)) checkEntry(recipe, table, `the flags after --`, key, []);
  }

  const out = resolve(v.out ?? `runs/compare-${now.toISOString().replaceAll(/[-:]/g, "").replace("T", "-").slice(0, 15)}`);
  const keys = [...explicitKeys, ...grid.map(([k]) => k)];
  const settingsList = (explicit.length > 0 ? explicit : [{}]).flatMap((base) => combinations(grid).map((g) => ({ ...base, ...g })));
  const labels = new Map<string, number>();
  const configs = settingsList.map((settings, i): CompareConfig => {
    const index = i + 1;
    const label = keys.filter((k) => settings[k] !== undefined).map((k) => `${k}=${settings[k]}`).join(" ") || "default";
    const twin = labels.get(label);
    if (twin !== undefined) throw new UsageError(`weft compare: configurations ${twin} and ${index} are the same (${label}); list each once`);
    labels.set(label, index);
    const id = `${index}-${slug(label)}`;
    const runDir = resolve(out, "runs", id);
    // What the report shows: the run folder relative to the report folder, so a moved report still reads.
    const reportRunDir = `runs/${id}`;
    const given = new Set([...Object.keys(settings), ...shared.map(([k]) => k), ...fixed.flatMap((a) => /^--([^=]+)/.exec(a)?.[1] ?? [])]);
    const trainArgv = (runDirArg: string): string[] => [
      recipe.name,
      ...keys.flatMap((k) => (settings[k] === undefined ? [] : asFlags(table, k, settings[k]))),
      ...shared.flatMap(([k, value]) => asFlags(table, k, value)),
      ...fixed,
      // Curves need the metric during training, not only at the end: once an epoch unless asked otherwise.
      ...("eval-every" in table && !given.has("eval-every") ? ["--eval-every", "1"] : []),
      ...("run-dir" in table ? ["--run-dir", runDirArg] : []),
      "--json",
    ];
    const runArgv = trainArgv(runDir);
    // Parsed and checked as weft train would: its parser, then its own checks (one door, see train-command.ts).
    let checked: { workers: number; processes: number };
    try {
      checked = checkTrainValues(parseCommandLine(runArgv.slice(1), table, { command: `weft train ${recipe.name}` }).values);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(`weft compare: configuration ${index} (${label}): ${err.message}`) : err;
    }
    return { index, id, label, settings, argv: runArgv, reportArgv: trainArgv(reportRunDir), workers: checked.workers, processes: checked.processes, runDir };
  });

  // Configurations running side by side share the CPUs: hold them to the rule weft train keeps for
  // one, counting every process a job starts (a parameter server's servers too), not only workers.
  const parallel = Math.min(v.parallel, configs.length);
  const widest = [...configs].sort((a, b) => b.processes - a.processes).slice(0, parallel);
  const atOnce = widest.reduce((sum, c) => sum + c.processes, 0);
  const cpus = cpuCount();
  const everyOversubscribes = configs.every((c) => c.argv.includes("--oversubscribe"));
  if (parallel > 1 && atOnce > WORKERS_PER_CPU * cpus && !everyOversubscribes) {
    throw new UsageError(
      `weft compare: --parallel ${v.parallel} may run ${atOnce} processes at once (${widest.map((c) => c.processes).join(" + ")}), more than ${WORKERS_PER_CPU} per CPU ` +
        `on the ${cpus} CPU${cpus === 1 ? "" : "s"} this process may use (at most ${WORKERS_PER_CPU * cpus}); lower --parallel, or add --set oversubscribe if you mean it`,
    );
  }
  return {
    recipe, keys, configs, out, timeLimitS: v["time-limit"], parallel, processesAtOnce: atOnce,
    ...(v.target === undefined ? {} : { target: v.target }), json: v.json,
  };
}
