// `weft generate CHECKPOINT`: writes text from a trained model. The checkpoint (a file, or a run's
// checkpoint folder, whose newest checkpoint that verifies is used, sharded or not) names the
// recipe and the settings it was trained with; the model is rebuilt from them, its parameters
// loaded, and the recipe's generate() continues the prompt.
import { existsSync, statSync } from "node:fs";
import { CONFIG_KEY, loadCheckpoint } from "../checkpoint/index.js";
import { findRecipe, RECIPES } from "../recipes/index.js";
import { listStepCheckpoints, loadNewestCheckpoint } from "../train/checkpoint-folder.js";
import type { OptionTable } from "../train/option-spec.js";
import type { RecipeSettings } from "../train/recipe.js";
import { loadTrainingCheckpoint } from "../train/training-checkpoint.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";

const GENERATE_OPTIONS = {
  prompt: { type: "string", placeholder: "TEXT", help: 'the text to continue (default "Call me ")' },
  chars: { type: "int", min: 1, max: 100_000, help: "characters to write after the prompt (default 400)" },
  temperature: { type: "number", min: 0, max: 10, help: "0 takes the likeliest character; above 0 samples, higher is more varied (default 0.8)" },
  seed: { type: "int", min: 0, help: "seeds the sampling (default 0): the same seed writes the same text" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const writers = (): string => RECIPES.filter((r) => r.generate).map((r) => r.name).join(", ");

/** The checkpoint file whose metadata names the run's recipe and settings (for a folder: its newest). */
function describingFile(path: string): string {
  if (!existsSync(path)) throw new UsageError(`weft generate: ${path} does not exist; give a checkpoint file or a run's --checkpoint-dir`);
  if (!statSync(path).isDirectory()) return path;
  const newest = listStepCheckpoints(path)[0];
  if (!newest) throw new UsageError(`weft generate: ${path} holds no checkpoint (step-<n>.safetensors); train with --checkpoint-dir ${path} first`);
  return newest.path;
}

export async function runGenerateCommand(argv: string[]): Promise<number> {
  const command = "weft generate";
  const { values: v, positionals } = parseCommandLine(argv, GENERATE_OPTIONS, { command, positionals: ["checkpoint"] });
  if (v.help || positionals.length === 0) {
    console.log(`usage: ${command} CHECKPOINT [options]\n\nWrites text from a model trained by a recipe that writes text (${writers()}).\nCHECKPOINT is a checkpoint file or a run's --checkpoint-dir (its newest checkpoint that verifies).\n\noptions:\n${describeOptions(GENERATE_OPTIONS)}`);
    return v.help ? 0 : 2;
  }
  const path = positionals[0]!;
  const { metadata } = await loadCheckpoint(describingFile(path));
  // fit() saves { run: the layout, config: what its caller passed }; weft train passes { recipe, settings }.
  const saved = JSON.parse(metadata[CONFIG_KEY] ?? "null") as { config?: { recipe?: unknown; settings?: RecipeSettings } } | null;
  const config = saved?.config;
  const recipe = typeof config?.recipe === "string" ? findRecipe(config.recipe) : undefined;
  if (!recipe || !config?.settings) {
    throw new UsageError(`weft generate: ${path} does not say which recipe wrote it (no recipe in its ${CONFIG_KEY} metadata); give a checkpoint written by weft train`);
  }
  if (!recipe.generate) {
    throw new UsageError(`weft generate: ${path} is a checkpoint of recipe ${recipe.name}, which does not write text; the recipes that do: ${writers()}`);
  }
  const model = recipe.model(config.settings);
  const state = { model };
  if (statSync(path).isDirectory()) await loadNewestCheckpoint(path, state, (line) => console.error(`weft: ${line}`));
  else await loadTrainingCheckpoint(path, state);
  const prompt = v.prompt ?? "Call me ";
  const text = recipe.generate(model, config.settings, { prompt, count: v.chars ?? 400, temperature: v.temperature ?? 0.8, seed: v.seed ?? 0 });
  console.log(prompt + text);
  return 0;
}
