// What the gradient-hook tests share: a few DDP steps of a small classifier on two in-process
// ranks, each on its own half of a fixed batch, with the parameter digests of every step and the
// bytes each rank sent.
import { createInProcessGroups, type InProcessGroupOptions } from "../../../src/distributed/group/in-process-group.js";
import { DdpStrategy, type DdpStrategyOptions } from "../../../src/distributed/strategies/ddp-strategy.js";
import { Linear, manualSeed, ReLU, Sequential } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { crossEntropy, randn, slice } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";

/** Two weight matrices PowerSGD compresses at rank 4 (32 x 12 and 8 x 32) and two biases it does not. */
export function classifier(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Linear(12, 32), new ReLU(), new Linear(32, 8));
}

const x = randn([16, 12], new Rng(7));
const y = Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 8);

export interface ReplicaRun {
  /** digests[step][rank]: the parameter digest after each step. */
  digests: string[][];
  /** Bytes each rank sent in the steps (set-up's broadcast not counted). */
  sent: number[];
  /** Each rank's final parameters, flattened. */
  parameters: Float32Array[];
}

/**
 * `steps` Adam steps of DDP on two ranks; `options(rank)` gives each rank its DDP options (a
 * GradHook object must be one per rank: hooks keep state).
 */
export async function trainReplicas(steps: number, options: (rank: number) => DdpStrategyOptions, groups: InProcessGroupOptions = {}): Promise<ReplicaRun> {
  const pgs = createInProcessGroups(2, groups);
  const models = pgs.map((_, r) => classifier(10 + r)); // different starts: set-up broadcasts rank 0's
  const strategies = pgs.map((pg, r) => new DdpStrategy(pg, { bucketBytes: 2048, ...options(r) }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new Adam(models[r]!.parameters(), { lr: 0.01 }))));
  const atStart = pgs.map((pg) => pg.traffic().sent);
  const digests: string[][] = [];
  for (let step = 1; step <= steps; step++) {
    await Promise.all(strategies.map((s, r) => s.step({ step, forward: () => crossEntropy(models[r]!.forward(slice(x, 0, 8 * r, 8 * r + 8)), y.subarray(8 * r, 8 * r + 8)) })));
    digests.push(strategies.map((s) => String(s.report().digest)));
  }
  const sent = pgs.map((pg, r) => pg.traffic().sent - atStart[r]!);
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
  const parameters = models.map((m) => Float32Array.from(m.parameters().flatMap((p) => p.toArray())));
  return { digests, sent, parameters };
}
