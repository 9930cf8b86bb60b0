// The strategies `--strategy` names, with the options each adds to `weft train`. A strategy that
// needs a process group gets one from the job it runs in; `single` runs without.
//
// Most strategies run the same code on every process of a job. A parameter server does not: its
// job has servers beside the training workers, so an entry may say how many processes it needs
// (`processes`), which of them serve (`serves`) and what a server runs (`serve`). Training
// workers are always ranks 0..workers-1, so the data, the result and the checkpoints belong to
// the same ranks whatever the strategy.
import { DdpStrategy } from "../distributed/strategies/ddp-strategy.js";
import { gradCompressionProblem, type GradCompression } from "../distributed/strategies/grad-compression.js";
import { GossipStrategy } from "../distributed/strategies/gossip.js";
import { GOSSIP_TOPOLOGIES, type GossipTopology } from "../distributed/strategies/gossip-topology.js";
import { LocalSgdStrategy } from "../distributed/strategies/local-sgd.js";
import { OUTER_OPTIMIZERS, type OuterOptimizerKind } from "../distributed/strategies/outer-optimizer.js";
import { SingleStrategy } from "../distributed/strategies/single.js";
import { PS_MODES, type PsMode } from "../distributed/strategies/ps-protocol.js";
import { runParameterServer } from "../distributed/strategies/ps-server.js";
import { ParameterServerStrategy } from "../distributed/strategies/ps-worker.js";
import type { StrategyEntry } from "./strategy-entry.js";
import { replicaPlan } from "./memory-plan.js";
import { PIPELINE_ENTRY } from "./entry-pipeline.js";
import { TENSOR_ENTRY } from "./entry-tensor.js";
import { ZERO_ENTRY } from "./entry-zero.js";

export type { ModelMemoryFacts, RankReport, ServeInput, StrategyEntry, StrategyOptions } from "./strategy-entry.js";

export const STRATEGIES: readonly StrategyEntry[] = [
  {
    name: "single",
    summary: "one process, plain training",
    distributed: false,
    options: {},
    create: () => new SingleStrategy(),
    plannedMemory: replicaPlan,
  },
  {
    name: "ddp",
    summary: "synchronous data parallelism: gradients averaged by all-reduce every step, replicas bitwise identical",
    distributed: true,
    options: {
      "bucket-kb": { type: "int", min: 1, max: 1 << 20, help: "DDP gradient bucket size in KiB (default 1024)" },
      "grad-compression": {
        type: "string", placeholder: "none|bf16|powersgd:R[:W][:bf16]|topk:F",
        help: "how DDP averages gradients: none (default, exact), bf16 on the wire, rank-R PowerSGD (after W exact steps, factors in bf16), or the fraction F of largest entries (docs/compression.md)",
      },
    },
    check: (o) => (o["grad-compression"] === undefined ? undefined : gradCompressionProblem(String(o["grad-compression"]), "--grad-compression")),
    create: (pg, o) => {
      if (!pg) throw new Error("the ddp strategy needs a process group: run it under weft launch (weft train --workers N does)");
      return new DdpStrategy(pg, {
        ...(o["bucket-kb"] === undefined ? {} : { bucketBytes: (o["bucket-kb"] as number) * 1024 }),
        ...(o["grad-compression"] === undefined ? {} : { gradCompression: o["grad-compression"] as GradCompression }),
      });
    },
    // Every worker is a whole replica (its gradient buckets aside: they are in flight, not held).
    plannedMemory: replicaPlan,
    // Replicas that promise to be identical report a digest on every rank: compare them.
    combine: (reports) => ({ replicas_identical: reports.every((r) => typeof r.digest === "string" && r.digest === reports[0]!.digest) }),
  },
  {
    name: "gossip",
    summary: "decentralized SGD: after each local step a worker averages with what its neighbours pushed, no server, no barrier; reports the consensus distance",
    distributed: true,
    options: {
      topology: { type: "choice", choices: GOSSIP_TOPOLOGIES, help: "gossip peers: ring (r±1), random (a seeded random peer per step), exponential (2^(t mod log2 N) away) (default ring)" },
    },
    // The random topology's peer sequence keeps GossipStrategy's default seed (0), not the run's
    // --seed, which create() is not given. That is fine: every rank must draw the same sequence
    // (they all use 0), the sequence only decides who talks to whom, not what is learned from
    // which samples, and it is already a fresh random cycle per step; the run's seed still sets
    // the initialisation and the data order. Two runs with different seeds share peer sequences.
    create: (pg, o) => {
      if (!pg) throw new Error("the gossip strategy needs a process group: run it under weft launch (weft train --workers N does)");
      return new GossipStrategy(pg, { topology: (o.topology as GossipTopology | undefined) ?? "ring" });
    },
    // A whole replica; the parameter copies it mixes with its neighbours are not counted.
    plannedMemory: replicaPlan,
    // The consensus distance is rank 0's (every rank measures the same); the counts are the job's totals.
    combine: (reports, workers) => {
      const ranks = reports.slice(0, workers);
      const total = (key: string): number => ranks.reduce((s, r) => s + Number(r[key] ?? 0), 0);
      return {
        replicas_identical: ranks.every((r) => typeof r.digest === "string" && r.digest === ranks[0]!.digest),
        gossip_sends: total("gossip_sends"), gossip_sends_skipped: total("gossip_sends_skipped"),
        gossip_arrivals_mixed: total("gossip_arrivals_mixed"), gossip_arrivals_overwritten: total("gossip_arrivals_overwritten"),
        steps_skipped: total("steps_skipped"),
      };
    },
  },
  {
    name: "local-sgd",
    summary: "local SGD / DiLoCo: K local steps, then an all-reduce of the parameter change and an outer optimizer step; about K times fewer bytes",
    distributed: true,
    options: {
      "sync-every": { type: "int", min: 1, max: 1 << 20, help: "local SGD: local steps between syncs (default 8)" },
      "outer-optimizer": { type: "choice", choices: OUTER_OPTIMIZERS, help: "local SGD: outer step on the mean parameter change: sgd or nesterov (DiLoCo's) (default sgd)" },
      "outer-lr": { type: "number", positive: true, max: 10, help: "local SGD: outer learning rate (default 1.5 for sgd, 0.7 for nesterov; 1 with sgd is plain averaging)" },
    },
    create: (pg, o) => {
      if (!pg) throw new Error("the local-sgd strategy needs a process group: run it under weft launch (weft train --workers N does)");
      return new LocalSgdStrategy(pg, {
        ...(o["sync-every"] === undefined ? {} : { syncEvery: o["sync-every"] as number }),
        ...(o["outer-optimizer"] === undefined ? {} : { outerOptimizer: o["outer-optimizer"] as OuterOptimizerKind }),
        ...(o["outer-lr"] === undefined ? {} : { outerLr: o["outer-lr"] as number }),
      });
    },
    // A whole replica; the outer step's copy of the parameters at the last sync is not counted.
    plannedMemory: replicaPlan,
    // Every sync leaves the replicas bitwise equal, and finish() syncs the last round: compare digests.
    combine: (reports, workers) => ({
      replicas_identical: reports.slice(0, workers).every((r) => typeof r.digest === "string" && r.digest === reports[0]!.digest),
    }),
  },
  {
    name: "ps",
    summary: "parameter servers: --servers S processes own shards of the parameters and the optimizer; workers push gradients, pull parameters (--mode sync|async|ssp)",
    distributed: true,
    options: {
      // No defaults in the table (a default would make the flag look given to every other strategy): applied below.
      servers: { type: "int", min: 1, help: "parameter-server processes, each owning a size-balanced shard of the parameters (default 1)" },
      mode: { type: "choice", choices: PS_MODES, help: "sync (default): average every worker's step; async: apply each gradient as it arrives; ssp: async within --staleness steps" },
      staleness: { type: "int", min: 0, help: "with --mode ssp: how many steps the fastest worker may run ahead of the slowest" },
    },
    check: (o) => {
      if (o.staleness !== undefined && o.mode !== "ssp") return `--staleness bounds --mode ssp; --mode ${o.mode ?? "sync"} takes none (drop it, or pass --mode ssp)`;
      if (o.mode === "ssp" && o.staleness === undefined) return "--mode ssp needs --staleness S, an integer >= 0 (how many steps the fastest worker may lead the slowest)";
      return undefined;
    },
    processes: (o, workers) => workers + ((o.servers as number | undefined) ?? 1),
    create: (pg, o, workers) => {
      if (!pg) throw new Error("the ps strategy needs a process group: run it under weft launch (weft train --workers N does)");
      return new ParameterServerStrategy(pg, { workers, servers: (o.servers as number | undefined) ?? 1 });
    },
    // A worker holds the parameters and computes a whole gradient; the servers own the optimizer.
    plannedMemory: (f) => ({ parameters: f.parameterBytes, gradients: f.parameterBytes, optimizer: 0 }),
    serve: ({ pg, options: o, workers, parts, checkpoint, resumeFrom }) => runParameterServer({
      pg, workers, servers: (o.servers as number | undefined) ?? 1, mode: ((o.mode as PsMode | undefined) ?? "sync"),
      ...(o.staleness === undefined ? {} : { staleness: o.staleness as number }),
      model: parts.model, optimizer: parts.optimizer, schedule: parts.schedule, totalSteps: parts.totalSteps, checkpoint, resumeFrom,
    }),
    combine: (reports, workers) => {
      // Every gradient goes to every server, so each applies the same number of updates to its
      // shard: the result counts them per server (the largest, should one have stopped early).
      const servers = reports.slice(workers);
      const updates = servers.reduce((n, r) => n + Number(r.updates), 0);
      const weighted = servers.reduce((n, r) => n + Number(r.staleness_mean) * Number(r.updates), 0);
      return {
        servers: servers.length,
        updates_per_server: Math.max(0, ...servers.map((r) => Number(r.updates))),
        staleness_mean: updates === 0 ? 0 : Math.round((weighted / updates) * 1000) / 1000,
        staleness_max: Math.max(0, ...servers.map((r) => Number(r.staleness_max))),
        lead_max: Math.max(0, ...servers.map((r) => Number(r.lead_max))),
        steps_skipped: reports.slice(0, workers).reduce((n, r) => n + Number(r.steps_skipped ?? 0), 0),
        replicas_identical: reports.slice(0, workers).every((r) => typeof r.digest === "string" && r.digest === reports[0]!.digest),
      };
    },
  },
  ZERO_ENTRY,
  PIPELINE_ENTRY,
  TENSOR_ENTRY,
];

export function findStrategy(name: string): StrategyEntry | undefined {
  return STRATEGIES.find((s) => s.name === name);
}
