// The options of `weft bench compression`, as a table the command line parses (src/cli/options.ts),
// what the bench runs with once they are checked, and the one JSON argument each of its workers
// gets. As for `weft bench allreduce` (allreduce-options.ts), the command checks everything once
// and the workers only decode: a worker has no command line to report a mistake on.
import { gradCompressionProblem, type GradCompression } from "../distributed/strategies/grad-compression.js";
import { findRecipe, RECIPES } from "../recipes/index.js";
import type { OptionTable, OptionValues } from "../train/option-spec.js";
import type { Recipe, RecipeSettings } from "../train/recipe.js";
import { linkRate, type LinkRate } from "./netns-link.js";

export const COMPRESSION_OPTIONS = {
  recipe: { type: "choice", choices: RECIPES.map((r) => r.name), default: "gpt-text", help: "the recipe trained; its own flags go after --" },
  hooks: { type: "string", placeholder: "HOOK,...", default: "none,bf16,powersgd:4,topk:0.01", help: "gradient hooks compared, as --grad-compression takes them" },
  links: { type: "string", placeholder: "LINK,...", default: "unlimited,1gbit,100mbit", help: "links between the two machines: unlimited, or a rate such as 1gbit, 100mbit" },
  steps: { type: "int", min: 1, default: 200, help: "training steps of every run (the loss is compared after the same steps)" },
  batch: { type: "int", min: 1, max: 1 << 20, help: "batch size per worker (default the recipe's)" },
  repeats: { type: "int", min: 1, default: 1, help: "rounds over every link and hook, for noisy machines (the table takes medians)" },
  json: { type: "flag", help: "(accepted for symmetry: the output is always JSON lines, the table on stderr)" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

export type CompressionOptionValues = OptionValues<typeof COMPRESSION_OPTIONS>;

/** One link of the bench: its name as given and the tc rate it stands for. */
export interface BenchLink {
  name: string;
  rate: LinkRate;
}

/** What the bench runs: every hook on every link, `repeats` times, each a 2-worker job of the recipe. */
export interface CompressionBenchSettings {
  recipe: string;
  /** The budget (--steps as maxSteps) and the recipe's own options, the same for every run. */
  settings: RecipeSettings;
  hooks: GradCompression[];
  links: BenchLink[];
  repeats: number;
}

/**
 * Checks what the option table cannot (every hook, every link, no name twice) and builds the
 * settings; `recipeOptions` are the recipe's own flags, already parsed against `recipe.options`.
 * Throws a RangeError naming the flag.
 *
 * @example A hook the DDP strategy does not know is refused, naming it
 * ```ts
 * const values = { recipe: "gpt-text", hooks: "none,powersgd:0", links: "100mbit", steps: 5, repeats: 1 } as any;
 * assert.throws(() => compressionSettings(values, {}), /--hooks powersgd:0: the rank R must be an integer >= 1/);
 * const ok = compressionSettings({ ...values, hooks: "none,powersgd:4" }, {});
 * assert.deepEqual([ok.hooks, ok.links, ok.settings.maxSteps], [["none", "powersgd:4"], [{ name: "100mbit", rate: "100mbit" }], 5]);
 * ```
 */
export function compressionSettings(v: CompressionOptionValues, recipeOptions: RecipeSettings["options"]): CompressionBenchSettings {
  const recipe: Recipe = findRecipe(v.recipe)!;
  const hooks = listOf(v.hooks, "--hooks").map((h) => {
    const problem = gradCompressionProblem(h, "--hooks");
    if (problem !== undefined) throw new RangeError(problem);
    return h as GradCompression;
  });
  const links = listOf(v.links, "--links").map((name) => {
    try {
      return { name, rate: linkRate(name) };
    } catch (err) {
      throw new RangeError(`--links: ${(err as Error).message}`);
    }
  });
  const d = recipe.defaults;
  return {
    recipe: recipe.name,
    // --steps is the budget; the epochs only bound it, so they are set out of its way.
    settings: { epochs: Math.max(d.epochs, v.steps), maxSteps: v.steps, seed: d.seed, batch: v.batch ?? d.batch, lr: d.lr, options: recipeOptions },
    hooks,
    links,
    repeats: v.repeats,
  };
}

/** The comma-separated names of `flag`, each once. */
function listOf(text: string, flag: string): string[] {
  const names = text.split(",").map((s) => s.trim());
  if (names.some((n) => n === "")) throw new RangeError(`${flag} ${text}: an empty name; separate names with single commas`);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new RangeError(`${flag} names ${twice} twice; give each once (--repeats runs it again)`);
  return names;
}

/** What one worker of the bench runs: the recipe, its settings, and the hook its DDP averages with. */
export interface CompressionWorkerJob {
  recipe: string;
  settings: RecipeSettings;
  hook: GradCompression;
}

/**
 * The worker's job back from its argument; throws naming the field when it is not what the bench
 * wrote (a worker started by hand, or by another version).
 *
 * @example
 * ```ts
 * const job = { recipe: "gpt-text", settings: { epochs: 1, seed: 0, batch: 4, lr: 0.001, options: {} }, hook: "none" as const };
 * assert.deepEqual(decodeCompressionWorkerJob(JSON.stringify(job)), job);
 * assert.throws(() => decodeCompressionWorkerJob(JSON.stringify({ ...job, hook: "zip" })), /hook/);
 * ```
 */
export function decodeCompressionWorkerJob(text: string | undefined): CompressionWorkerJob {
  const bad = (what: string): never => {
    throw new TypeError(`compression-worker: its argument must be the JSON job weft bench compression passes; ${what}`);
  };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text ?? "") as Record<string, unknown>;
  } catch {
    return bad(`got ${JSON.stringify(text)}`);
  }
  if (typeof raw.recipe !== "string" || findRecipe(raw.recipe) === undefined) bad(`recipe is ${JSON.stringify(raw.recipe)}, not a recipe's name`);
  if (typeof raw.hook !== "string" || gradCompressionProblem(raw.hook, "hook") !== undefined) bad(`hook is ${JSON.stringify(raw.hook)}, not a --grad-compression value`);
  const s = raw.settings as Record<string, unknown> | undefined;
  const numbers = ["epochs", "seed", "batch", "lr"];
  if (typeof s !== "object" || s === null || numbers.some((k) => typeof s[k] !== "number") || typeof s.options !== "object") {
    bad(`settings is ${JSON.stringify(s)}, not a recipe's settings (${numbers.join(", ")}, options)`);
  }
  return raw as unknown as CompressionWorkerJob;
}
