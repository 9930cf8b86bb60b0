// The pipeline across real processes (shared memory and TCP, the transports a job uses): stages
// in separate processes compute bit for bit what one process accumulating the same micro-batches
// computes (Note [a pipeline equals one process accumulating micro-batches]), for gpipe and 1f1b,
// every rank ending with the same whole model.
import assert from "node:assert/strict";
import { test } from "node:test";
import { modelDigest } from "../../../src/distributed/strategies/flat-state.js";
import { TinyGpt } from "../../../src/models/tiny-gpt.js";
import { manualSeed, runLayerStack } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { Tensor } from "../../../src/tensor/index.js";
import { spawnRanks } from "../helpers/spawn-ranks.js";
import { assertRanksExitedCleanly } from "../helpers/rank-checks.js";
import { WORKER_GPT, workerTokens } from "../workers/pipeline-worker.js";

function reference(): { losses: number[]; digest: string } {
  manualSeed(10);
  const model = new TinyGpt(WORKER_GPT);
  const stack = model.layerStack();
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const losses: number[] = [];
  for (let t = 1; t <= 10; t++) {
    opt.zeroGrad();
    let sum = 0;
    for (const mb of stack.split(workerTokens(t), 4)) {
      const loss = runLayerStack(stack, mb);
      sum += loss.item();
      loss.backward(new Tensor(new Float32Array(1).fill(1 / 4), loss.shape));
    }
    losses.push(Math.fround(sum / 4));
    opt.step();
  }
  return { losses, digest: modelDigest(model) };
}

for (const [schedule, transport] of [["gpipe", "shared-memory"], ["1f1b", "tcp"]] as const) {
  test(`${schedule} on 2 processes over ${transport} equals one process accumulating the micro-batches, bit for bit`, async () => {
    const ranks = await spawnRanks({ worldSize: 2, script: "pipeline-worker.js", args: [schedule], env: transport === "tcp" ? { WEFT_SHM: "0" } : { WEFT_LOCAL_WORLD_SIZE: "2" } });
    assertRanksExitedCleanly(ranks);
    const out = ranks.map((r) => r.json[0]!);
    const ref = reference();
    for (const o of out) {
      assert.equal(o.transport, transport);
      assert.deepEqual(o.losses, ref.losses);
      assert.equal(o.digest, ref.digest, `rank ${o.rank as number}'s whole model (cut at ${o.split as string})`);
    }
  });
}
