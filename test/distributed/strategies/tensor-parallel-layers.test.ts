// Each tensor-parallel layer against the unsplit layer it was built from, on the same input,
// between real processes over shared memory (the layers all-reduce inline, which needs it): the
// forward output (the rank's part of it for a column-parallel layer), the input's gradient and
// every parameter's gradient (against the rank's slice of the full one). On 2 ranks, and on 4,
// where the 30-row embedding and 30-class loss split unevenly (7, 8, 7, 8).
//
// Tolerance 1e-5 absolute, on values of order 1 to 10: the split only cuts sums (a row-parallel
// product is T partial dot products added, the loss's sum-exp T partial sums), so the results
// differ by float32 rounding of those sums, a few ulps (measured: at most 7e-7).
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnRanks } from "../helpers/spawn-ranks.js";
import { assertRanksExitedCleanly } from "../helpers/rank-checks.js";

const CHECKS = ["column-parallel", "row-parallel", "attention", "block", "vocab-embedding", "vocab-cross-entropy", "gpt"];
const TOLERANCE = 1e-5;

for (const world of [2, 4]) {
  test(`on ${world} ranks every split layer's forward and gradients equal the unsplit layer's within ${TOLERANCE}`, async () => {
    const results = await spawnRanks({ worldSize: world, script: "tensor-parallel-worker.js", args: ["layers"], env: { WEFT_LOCAL_WORLD_SIZE: String(world) } });
    assertRanksExitedCleanly(results);
    for (const r of results) {
      assert.deepEqual(r.json.map((j) => j.check), CHECKS, `rank ${r.rank}`);
      for (const row of r.json) {
        for (const key of ["forward", "input", "grads"] as const) {
          const v = row[key] as number;
          assert.ok(v < TOLERANCE, `rank ${r.rank}, ${row.check as string}: ${key} differs by ${v}`);
        }
      }
    }
  });
}
