// A rank of the parameter-server fault test between processes (test/distributed/strategies/ps-train.test.ts),
// 3 ranks: workers 0 and 1 train a small model, rank 2 serves it in sync mode and kills itself
// (SIGKILL, no goodbye) after 3 updates. Each worker prints one JSON line: the error its next step
// got, and how long after the server's last reply it came.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { runParameterServer } from "../../../src/distributed/strategies/ps-server.js";
import { ParameterServerStrategy } from "../../../src/distributed/strategies/ps-worker.js";
import { Linear, manualSeed, ReLU, Sequential } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { crossEntropy, randn } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";

// The deadline is far above what the test accepts: an error in time came from the lost peer.
const TIMEOUT_MS = 30_000;
const pg = await initProcessGroup({ timeoutMs: TIMEOUT_MS });
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank: pg.rank, ...o })}\n`);
const build = () => (manualSeed(1), new Sequential(new Linear(8, 32), new ReLU(), new Linear(32, 4)));
const model = build();
const optimizer = new Adam(model.parameters(), { lr: 0.01 });

if (pg.rank === 2) {
  await runParameterServer({
    pg, workers: 2, servers: 1, mode: "sync", model, optimizer,
    onUpdate: (u) => {
      if (u.version === 3) setTimeout(() => process.kill(process.pid, "SIGKILL"), 0);
    },
  });
} else {
  const ps = new ParameterServerStrategy(pg, { workers: 2, servers: 1 });
  await ps.setup(model, optimizer);
  const x = randn([16, 8], new Rng(pg.rank));
  const y = Int32Array.from({ length: 16 }, (_, i) => i % 4);
  let last = performance.now();
  try {
    for (let step = 1; step <= 1000; step++) {
      await ps.step({ step, forward: () => crossEntropy(model.forward(x), y) });
      last = performance.now();
    }
    out({ error: null });
  } catch (err) {
    const e = err as Error & { rank?: number };
    out({ error: e.name, message: e.message, serverRank: e.rank, ms: Math.round(performance.now() - last) });
  }
  await ps.end();
}
await pg.destroy();
