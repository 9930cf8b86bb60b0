// The consensus distance of known replicas, worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { consensusDistance } from "../../../src/distributed/strategies/consensus.js";

test("three unit vectors: the mean is 1/3 each, every replica sqrt(2/3) from it, relative sqrt(2)", async () => {
  const groups = createInProcessGroups(3);
  const xs = [Float32Array.of(1, 0, 0), Float32Array.of(0, 1, 0), Float32Array.of(0, 0, 1)];
  const means = xs.map(() => new Float32Array(3));
  const results = await Promise.all(groups.map((pg, r) => consensusDistance(pg, xs[r]!, means[r]!)));
  for (const [r, c] of results.entries()) {
    assert.ok(Math.abs(c.distance - Math.sqrt(2 / 3)) < 1e-6, `rank ${r}: ${c.distance}`);
    assert.ok(Math.abs(c.relative - Math.SQRT2) < 1e-6, `rank ${r}: ${c.relative}`);
    for (const v of means[r]!) assert.ok(Math.abs(v - 1 / 3) < 1e-7);
  }
  assert.deepEqual(means[0], means[2], "the mean is the same bytes on every rank");
  await Promise.all(groups.map((pg) => pg.destroy()));
});

test("unequal distances: the RMS over replicas, not the mean", async () => {
  // Replicas 0, 0, 0, 4 (one float each): mean 1; distances 1, 1, 1, 3; RMS sqrt(12/4) = sqrt(3).
  const groups = createInProcessGroups(4);
  const xs = [0, 0, 0, 4].map((v) => Float32Array.of(v));
  const results = await Promise.all(groups.map((pg, r) => consensusDistance(pg, xs[r]!, new Float32Array(1))));
  assert.ok(Math.abs(results[0]!.distance - Math.sqrt(3)) < 1e-6, `${results[0]!.distance}`);
  assert.ok(Math.abs(results[0]!.relative - Math.sqrt(3)) < 1e-6);
  await Promise.all(groups.map((pg) => pg.destroy()));
});

test("identical replicas are 0 apart; a zero mean gives a relative distance of 0, not NaN", async () => {
  const groups = createInProcessGroups(2);
  const same = await Promise.all(groups.map((pg) => consensusDistance(pg, Float32Array.of(3, -1), new Float32Array(2))));
  assert.deepEqual(same[0], { distance: 0, relative: 0 });
  const opposite = await Promise.all(groups.map((pg, r) => consensusDistance(pg, Float32Array.of(r === 0 ? 1 : -1), new Float32Array(1))));
  assert.deepEqual(opposite[1], { distance: 1, relative: 0 });
  await assert.rejects(consensusDistance(groups[0]!, new Float32Array(2), new Float32Array(3)), /mean has 3 floats, x has 2/);
  await Promise.all(groups.map((pg) => pg.destroy()));
});
