// The registry of recipes `weft train <name>` runs: one line per recipe.
import type { Recipe } from "../train/recipe.js";
import { gptText } from "./gpt-text.js";
import { mnist } from "./mnist.js";

export const RECIPES: readonly Recipe[] = [mnist, gptText];

/** The recipe called `name`, or undefined. */
export function findRecipe(name: string): Recipe | undefined {
  return RECIPES.find((r) => r.name === name);
}
