// The process group of a job on several machines. With several ranks on every machine (the same
// number on each) it is hierarchical: all-reduce sums inside each machine through shared memory,
// then between machines over TCP among one leader per machine, then hands the result back inside
// each machine (hierarchical-executor.ts walks through it); so only the leaders' ring crosses the
// machines' links, with 2(M-1)/M of the buffer per leader for M machines, where the flat ring of
// all M·L ranks sends 2(ML-1)/(ML) of it across from L ranks at a time (docs/distributed.md,
// "Several ranks per machine", does the arithmetic). Otherwise, or when a rank opts out, it is
// the flat TCP group, exactly as built before (tcp-group.ts), and the reason goes to `log`.
//
// The choice is made from every rank's place, exchanged through the rendezvous store
// (rank-places.ts), so that it is the same on every rank.
import { DEFAULT_ENGINE_OPTIONS, type RankNaming } from "../collectives/engine.js";
import type { OpName } from "../collectives/ops.js";
import { algorithmFor } from "../collectives/request.js";
import type { Logger } from "../base/log.js";
import type { OpExecutor } from "../executors/op-executor.js";
import { HierarchicalExecutor } from "./hierarchical-executor.js";
import { planHierarchy, type HierarchyPlan, type RankPlace } from "./hierarchy-plan.js";
import { ProcessGroup, type GroupInternals, type SubgroupFactory } from "./process-group.js";
import { exchangePlaces } from "./rank-places.js";
import { createTcpProcessGroup, storeAddress, type TcpGroupOptions } from "./tcp-group.js";

/**
 * A process group whose all-reduce is hierarchical (shared memory inside each machine, TCP
 * between one leader per machine); its other collectives and send/recv run on the job's flat TCP
 * group. `transport` is "tcp". initProcessGroup() builds it for a job on several machines with
 * several ranks on each (docs/distributed.md, "Several ranks per machine", runs one on 2 × 2 ranks).
 *
 * @example A script run alone is a group of one, not a hierarchy
 * ```ts
 * import { initProcessGroup } from "weft";
 * const pg = await initProcessGroup();
 * assert.equal(pg instanceof HierarchicalProcessGroup, false);
 * await pg.destroy();
 * ```
 */
export class HierarchicalProcessGroup extends ProcessGroup {
  constructor(
    rank: number,
    worldSize: number,
    executor: OpExecutor,
    /** The job ranks of each machine, in local-rank order; machines in node-rank order. */
    readonly machines: readonly (readonly number[])[],
    internals: GroupInternals,
  ) {
    super(rank, worldSize, executor, "tcp", internals);
  }
}

export interface MultiMachineOptions {
  /** This rank's machine and local rank. */
  place: RankPlace;
  /** Why this rank asks for the flat group (its opt-out), or undefined to let the places decide. One such rank makes the job flat. */
  flatBecause?: string | undefined;
  /** Told why the group is flat, when it is. */
  log?: Logger | undefined;
}

/** Groups built by this process, which names the next one's keys in the store (the same count on every rank). */
let hierarchiesTried = 0;

/**
 * The group of a job whose ranks are not all on this machine: hierarchical where the places allow
 * it and no rank opts out (HierarchicalProcessGroup), else the flat TCP group. `options` are those
 * of createTcpProcessGroup; its `sharedMemory` is ignored (the flat group never has it across
 * machines, the hierarchy always inside one).
 */
export async function createMultiMachineGroup(options: TcpGroupOptions, how: MultiMachineOptions): Promise<ProcessGroup> {
  const key = options.groupName ?? `hier${hierarchiesTried++}`;
  const votes = await exchangePlaces(
    {
      rendezvous: options.rendezvous ?? storeAddress(options.storeHost, options.storePort),
      jobId: options.jobId, secret: options.secret, key, rank: options.rank, worldSize: options.worldSize,
      timeoutMs: options.connectTimeoutMs ?? 60_000,
    },
    { ...how.place, ...(how.flatBecause === undefined ? {} : { flatBecause: how.flatBecause }) },
  );
  const declined = votes.findIndex((v) => v.flatBecause !== undefined);
  const plan: HierarchyPlan = declined >= 0 ? { kind: "flat", reason: `rank ${declined} asked for it (${votes[declined]!.flatBecause})` } : planHierarchy(votes);
  if (plan.kind === "flat") {
    how.log?.(`rank ${options.rank}: a flat group, not a hierarchical one: ${plan.reason}`);
    return createTcpProcessGroup({ ...options, sharedMemory: false });
  }
  return buildHierarchy(options, key, plan.machines);
}

function naming(globalRanks: readonly number[]): RankNaming {
  return { globalRanks, scope: ` in group [${globalRanks.join(", ")}]` };
}

async function buildHierarchy(options: TcpGroupOptions, key: string, machines: number[][]): Promise<ProcessGroup> {
  const { rank, worldSize } = options;
  const machineIndex = machines.findIndex((ms) => ms.includes(rank));
  const members = machines[machineIndex]!;
  const localRank = members.indexOf(rank);
  const leaderRanks = machines.map((ms) => ms[0]!);
  const made: ProcessGroup[] = [];
  const tcp = { ...options, sharedMemory: false };
  try {
    // Named as a part (Note [global rank names]), so that its records and messages, whose
    // numbers are its own, are not taken for the group's: "broadcast #2 in the job's flat group".
    const everyone = Array.from({ length: worldSize }, (_, r) => r);
    const world = await createTcpProcessGroup({ ...tcp, groupName: key }, { globalRanks: everyone, scope: " in the job's flat group" });
    made.push(world);
    const machine = await createTcpProcessGroup(
      { ...options, sharedMemory: true, rank: localRank, worldSize: members.length, groupName: `${key}/machine${machineIndex}` },
      naming(members),
    );
    made.push(machine);
    let leaders: ProcessGroup | null = null;
    if (localRank === 0) {
      leaders = await createTcpProcessGroup({ ...tcp, rank: machineIndex, worldSize: machines.length, groupName: `${key}/leaders` }, naming(leaderRanks));
      made.push(leaders);
    }
    const executor = new HierarchicalExecutor(rank, worldSize, {
      world, machine, leaders, machineIndex, machines, timeoutMs: options.timeoutMs ?? DEFAULT_ENGINE_OPTIONS.timeoutMs,
    });
    // Subgroups are flat TCP groups, with shared memory when all their members share a machine
    // (the tensor-parallel groups inside a machine need it: allReduceInline).
    const makeSubgroup: SubgroupFactory = (sub) =>
      createTcpProcessGroup(
        {
          ...options, ...sub.options, rank: sub.rank, worldSize: sub.worldSize, groupName: `${key}/${sub.key}`,
          sharedMemory: machines.some((ms) => sub.naming.globalRanks.every((r) => ms.includes(r))),
        },
        sub.naming,
      );
    const small = options.smallMessageBytes ?? DEFAULT_ENGINE_OPTIONS.smallMessageBytes;
    const algorithmOf = (op: OpName, count: number): string => (op === "allReduce" ? "hierarchical" : algorithmFor(op, count, worldSize, small));
    return new HierarchicalProcessGroup(rank, worldSize, executor, machines, { makeSubgroup, algorithmOf });
  } catch (err) {
    await Promise.all(made.map((g) => g.destroy()));
    throw err;
  }
}
