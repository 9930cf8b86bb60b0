// Whether a job's ranks form a hierarchy worth using (several machines, several ranks on each,
// the same number on each), decided from every rank's place so that every rank decides alike.
// The hierarchical group itself is hierarchical-group.ts.

/** Where one rank runs, as its launcher (or scheduler) says. */
export interface RankPlace {
  /** The machine (the launcher's --node-rank). */
  nodeRank: number;
  /** Its index among the ranks of that machine. */
  localRank: number;
}

export type HierarchyPlan =
  /** `machines[m]` lists the job ranks on machine m in local-rank order; machines in node-rank order. */
  | { kind: "hierarchical"; machines: number[][] }
  /** Why the flat group is used instead, in one sentence. */
  | { kind: "flat"; reason: string };

/**
 * The hierarchy of ranks placed as `places` (index: job rank), or why there is none: one machine,
 * one rank per machine (nothing to reduce inside a machine), machines with different numbers of
 * ranks, or local ranks that are not 0..n-1 on some machine.
 *
 * @example Two machines of two ranks; a machine with one rank fewer falls back to flat
 * ```ts
 * const plan = planHierarchy([{ nodeRank: 0, localRank: 0 }, { nodeRank: 0, localRank: 1 }, { nodeRank: 1, localRank: 0 }, { nodeRank: 1, localRank: 1 }]);
 * assert.deepEqual(plan, { kind: "hierarchical", machines: [[0, 1], [2, 3]] });
 * const mixed = planHierarchy([{ nodeRank: 0, localRank: 0 }, { nodeRank: 0, localRank: 1 }, { nodeRank: 1, localRank: 0 }]);
 * assert.equal(mixed.kind, "flat");
 * assert.match((mixed as { reason: string }).reason, /machine 0 has 2 ranks, machine 1 has 1/);
 * ```
 */
export function planHierarchy(places: readonly RankPlace[]): HierarchyPlan {
  const byNode = new Map<number, { rank: number; localRank: number }[]>();
  places.forEach((p, rank) => {
    const list = byNode.get(p.nodeRank) ?? [];
    list.push({ rank, localRank: p.localRank });
    byNode.set(p.nodeRank, list);
  });
  const nodes = [...byNode.keys()].sort((a, b) => a - b);
  if (nodes.length < 2) return { kind: "flat", reason: "every rank is on one machine" };
  const sizes = nodes.map((n) => byNode.get(n)!.length);
  if (sizes.some((s) => s !== sizes[0])) {
    const counts = nodes.map((n, i) => `machine ${n} has ${sizes[i]} ${sizes[i] === 1 ? "rank" : "ranks"}`).join(", ");
    return { kind: "flat", reason: `${counts}: a hierarchy needs the same number of ranks on every machine` };
  }
  if (sizes[0] === 1) return { kind: "flat", reason: "each machine has one rank, so there is nothing to reduce inside a machine" };
  const machines: number[][] = [];
  for (const n of nodes) {
    const members = byNode.get(n)!.sort((a, b) => a.localRank - b.localRank);
    if (members.some((m, i) => m.localRank !== i)) {
      return { kind: "flat", reason: `the local ranks of machine ${n} are ${members.map((m) => m.localRank).join(", ")}, not 0..${members.length - 1}` };
    }
    machines.push(members.map((m) => m.rank));
  }
  return { kind: "hierarchical", machines };
}
