// The strategies `--strategy` names, with the options each adds to `weft train`. A strategy that
// needs a process group gets one from the job it runs in; `single` runs without.
import type { ProcessGroup } from "../distributed/group/process-group.js";
import { DdpStrategy } from "../distributed/strategies/ddp-strategy.js";
import { SingleStrategy } from "../distributed/strategies/single.js";
import type { Strategy } from "../distributed/strategies/strategy.js";
import type { OptionTable } from "./option-spec.js";

export interface StrategyEntry {
  readonly name: string;
  readonly summary: string;
  /** Runs on more than one worker (and so needs a process group). */
  readonly distributed: boolean;
  readonly options: OptionTable;
  create(pg: ProcessGroup | undefined, options: Record<string, string | number | boolean | undefined>): Strategy;
}

export const STRATEGIES: readonly StrategyEntry[] = [
  {
    name: "single",
    summary: "one process, plain training",
    distributed: false,
    options: {},
    create: () => new SingleStrategy(),
  },
  {
    name: "ddp",
    summary: "synchronous data parallelism: gradients averaged by all-reduce every step, replicas bitwise identical",
    distributed: true,
    options: {
      "bucket-kb": { type: "int", min: 1, max: 1 << 20, help: "DDP gradient bucket size in KiB (default 1024)" },
    },
    create: (pg, o) => {
      if (!pg) throw new Error("the ddp strategy needs a process group: run it under weft launch (weft train --workers N does)");
      return new DdpStrategy(pg, o["bucket-kb"] === undefined ? {} : { bucketBytes: (o["bucket-kb"] as number) * 1024 });
    },
  },
];

export function findStrategy(name: string): StrategyEntry | undefined {
  return STRATEGIES.find((s) => s.name === name);
}
