// Shared by the TCP test files: the per-check rows of every rank, after checking each exited 0.
import assert from "node:assert/strict";
import type { RankResult } from "./spawn-ranks.js";

export function checks(results: RankResult[]): Map<string, Record<string, unknown>[]> {
  const by = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    assert.equal(r.code, 0, `rank ${r.rank} exited with ${r.code ?? r.signal}:\n${r.stderr}`);
    for (const j of r.json) {
      const name = j.check as string;
      by.set(name, [...(by.get(name) ?? []), j]);
    }
  }
  return by;
}

/**
 * The "barrier" rows of every rank: nobody left the barrier before the last rank arrived. The
 * stamps are Date.now() in each process, one clock on one machine, so this compares events, not
 * durations, and holds however loaded the machine is.
 */
export function assertBarrierHeld(rows: Record<string, unknown>[] | undefined, world: number): void {
  assert.equal(rows?.length, world, "barrier rows");
  const lastArrival = Math.max(...rows!.map((r) => r.arrivedMs as number));
  for (const row of rows!) {
    assert.ok((row.leftMs as number) >= lastArrival, `rank ${row.rank} left the barrier at ${row.leftMs}, before the last rank arrived at ${lastArrival}`);
  }
}
