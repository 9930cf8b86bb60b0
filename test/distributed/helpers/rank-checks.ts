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
