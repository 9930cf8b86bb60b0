// Shared by the multi-process test files: every rank's exit, and the per-check rows of every rank.
import assert from "node:assert/strict";
import type { RankResult } from "./spawn-ranks.js";

export function checks(results: RankResult[]): Map<string, Record<string, unknown>[]> {
  assertRanksExitedCleanly(results);
  const by = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    for (const j of r.json) {
      const name = j.check as string;
      by.set(name, [...(by.get(name) ?? []), j]);
    }
  }
  return by;
}

/**
 * Every rank exited 0; otherwise one failure that shows every failed rank's exit and standard
 * error, not only the first's: when a rank reports that a peer closed its connection, the cause
 * is in the peer's output.
 */
export function assertRanksExitedCleanly(results: RankResult[]): void {
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length === 0) return;
  assert.fail(failed.map((r) => `rank ${r.rank} exited with ${r.code ?? r.signal}:\n${r.stderr}`).join("\n"));
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
