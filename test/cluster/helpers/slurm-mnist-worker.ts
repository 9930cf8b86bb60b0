// A training script as a Slurm user writes it: no launcher, no rank passed in. Started by
// `srun -n N node slurm-mnist-worker.js`, it finds its rank, the job's size and rank 0's node in
// Slurm's environment (initProcessGroup), trains MNIST with DDP for MNIST_STEPS steps (default
// 3), and prints one JSON line with its parameter digest, which must be the same on every rank.
// Once in the group it prints its pid, so a test can kill one task. An error is one line on
// stderr and exit code 1, as a script's own catch would make it.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { findRecipe } from "../../../src/recipes/index.js";
import { runRecipe } from "../../../src/train/run-recipe.js";
import { findStrategy } from "../../../src/train/strategies.js";

async function main(): Promise<void> {
  const steps = Number(process.env.MNIST_STEPS ?? 3);
  const recipe = findRecipe("mnist")!;
  const settings = { ...recipe.defaults, batch: 32, maxSteps: steps, options: { net: "small", shift: 2, rotate: 10, scale: 0.1, "warmup-steps": 100 } };
  const pg = await initProcessGroup();
  try {
    process.stdout.write(`${JSON.stringify({ rank: pg.rank, pid: process.pid, joined: true })}\n`);
    const strategy = findStrategy("ddp")!.create(pg, {}, pg.worldSize);
    const result = await runRecipe({ recipe, settings, strategy });
    process.stdout.write(`${JSON.stringify({ rank: pg.rank, worldSize: pg.worldSize, transport: pg.transport, steps: result.steps, digest: result.digest })}\n`);
  } finally {
    await pg.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`slurm-mnist-worker: ${err.message}\n`);
  process.exitCode = 1;
});
