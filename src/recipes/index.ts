// The registry of recipes `weft train <name>` runs: one line per recipe.
import type { Recipe } from "../train/recipe.js";
import { breastCancer } from "./breast-cancer.js";
import { detectDigits } from "./detect-digits.js";
import { fraud } from "./fraud.js";
import { gptText } from "./gpt-text.js";
import { keywords } from "./keywords.js";
import { lesions } from "./lesions.js";
import { markets } from "./markets.js";
import { mnist } from "./mnist.js";
import { spam } from "./spam.js";

export const RECIPES: readonly Recipe[] = [mnist, detectDigits, spam, gptText, keywords, fraud, markets, breastCancer, lesions];

/** The recipe called `name`, or undefined. */
export function findRecipe(name: string): Recipe | undefined {
  return RECIPES.find((r) => r.name === name);
}
