// `weft train <recipe>`: placeholder while the recipe registry is built.
import { runMnistCommand } from "../recipes/mnist-command.js";
export async function runTrainCommand(argv: string[]): Promise<number> {
  const [recipe, ...rest] = argv;
  if (recipe !== "mnist") {
    console.error(`weft train: unknown recipe "${recipe ?? ""}"; available: mnist`);
    return 2;
  }
  return runMnistCommand(rest);
}
