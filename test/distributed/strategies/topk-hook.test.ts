// Top-k sparsification: the selection against a sort, the hook's average of every rank's largest
// entries computed here from the definition, error feedback that loses nothing (what was sent plus
// what is held back is everything), identical replicas and the bytes of the all-gather.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { selectAddon } from "../../../src/distributed/base/native-dist.js";
import { largestMagnitudes, largestMagnitudesJs } from "../../../src/distributed/strategies/top-k-select.js";
import { TopKHook } from "../../../src/distributed/strategies/topk-hook.js";
import { Rng } from "../../../src/util/rng.js";
import { classifier, trainReplicas } from "./hook-replicas.js";

/** The k largest by a full sort: magnitude descending (NaN first), then index ascending; returned ascending. */
function bySort(values: Float32Array, k: number): number[] {
  const mag = (x: number) => (Number.isNaN(x) ? Infinity : Math.abs(x));
  return [...values.keys()].sort((a, b) => mag(values[b]!) - mag(values[a]!) || a - b).slice(0, k).sort((a, b) => a - b);
}

test("the selected entries are the largest in magnitude, ties to the lower index, whatever n and k", () => {
  const rng = new Rng(5);
  for (const n of [1, 2, 3, 10, 257, 4096]) {
    for (const k of new Set([1, 2, Math.ceil(n / 100), Math.floor(n / 2), n - 1, n].filter((k) => k >= 1 && k <= n))) {
      // Few distinct values, so ties at the k-th magnitude are common; signs both ways.
      const values = Float32Array.from({ length: n }, () => (rng.int(9) - 4) * (rng.next() < 0.1 ? 0.5 : 1));
      if (n > 3) values[rng.int(n)] = NaN;
      if (n > 10) (values[rng.int(n)] = -0), (values[rng.int(n)] = -Infinity);
      // The addon's selection (largestMagnitudes, where it is built) and the JavaScript one.
      for (const select of [largestMagnitudes, largestMagnitudesJs]) {
        const out = new Int32Array(k);
        select(values, k, out, new Float32Array(n));
        assert.deepEqual([...out], bySort(values, k), `${select.name}: n ${n}, k ${k}`);
      }
    }
  }
  assert.ok(selectAddon, "the native addon's selection is built, so largestMagnitudes above ran it");
  assert.throws(() => largestMagnitudes(new Float32Array(3), 4, new Int32Array(4), new Float32Array(3)), /k must be an integer from 1 to 3/);
});

/** (1/N) Σ_r of rank r's k largest entries of M_r, the rest zero: the definition of the hook's output. */
function meanOfTopK(ms: Float32Array[], k: number): Float64Array {
  const out = new Float64Array(ms[0]!.length);
  for (const m of ms) for (const i of bySort(m, k)) out[i]! += m[i]! / ms.length;
  return out;
}

test("top-k averages every rank's largest entries, holds the rest back, and loses nothing over the steps", async () => {
  const n = 200, k = 10, steps = 5;
  const pgs = createInProcessGroups(2);
  const hooks = pgs.map(() => new TopKHook({ fraction: k / n }));
  const rng = new Rng(9);
  const held = [new Float32Array(n), new Float32Array(n)]; // E_r, tracked here from the definition
  const total = new Float64Array(n); // Σ over steps and ranks of the gradients
  const delivered = new Float64Array(n); // Σ over steps of N × the hook's output
  for (let step = 0; step < steps; step++) {
    const g = [0, 1].map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const buckets = g.map((gr) => ({ index: 0, buffer: gr.slice(), slots: [{ offset: 0, shape: [20, 10] }] }));
    await Promise.all(pgs.map((pg, r) => hooks[r]!.reduce(buckets[r]!, pg, {})));
    const m = g.map((gr, r) => gr.map((x, i) => x + held[r]![i]!));
    const expected = meanOfTopK(m, k);
    buckets[0]!.buffer.forEach((x, i) => assert.ok(Math.abs(x - expected[i]!) <= 1e-6 * Math.max(1, Math.abs(expected[i]!)), `step ${step}[${i}]: ${x} vs ${expected[i]}`));
    assert.deepEqual([...buckets[1]!.buffer], [...buckets[0]!.buffer], "the same bits on both ranks");
    assert.equal(buckets[0]!.buffer.filter((x) => x !== 0).length <= 2 * k, true, "at most N·k entries");
    for (const r of [0, 1]) {
      for (const i of bySort(m[r]!, k)) m[r]![i] = 0;
      held[r] = m[r]!;
      g[r]!.forEach((x, i) => (total[i]! += x));
    }
    buckets[0]!.buffer.forEach((x, i) => (delivered[i]! += 2 * x));
  }
  // Error feedback: every gradient is either delivered or still held, to float32 rounding.
  for (let i = 0; i < n; i++) {
    const accounted = delivered[i]! + held[0]![i]! + held[1]![i]!;
    assert.ok(Math.abs(accounted - total[i]!) < 1e-4 * steps, `entry ${i}: ${accounted} vs ${total[i]}`);
  }
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("replicas stay bitwise identical under top-k; each rank sends k (index, value) pairs a bucket", async () => {
  const fraction = 0.05;
  const run = await trainReplicas(6, () => ({ gradCompression: `topk:${fraction}` }));
  const plain = await trainReplicas(6, () => ({}));
  for (const [step, d] of run.digests.entries()) assert.equal(d[0], d[1], `step ${step + 1}`);
  assert.notDeepEqual(run.digests, plain.digests);
  // classifier()'s buckets hold 296 and 384 floats (grad-hook.test.ts); with 2 ranks the ring
  // all-gather sends a rank's 2k floats once, where the all-reduce sends the bucket's n.
  const n = [296, 384];
  assert.equal(n[0]! + n[1]!, classifier(0).parameters().reduce((s, p) => s + p.size, 0));
  const saved = n.reduce((s, b) => s + 4 * (b - 2 * Math.ceil(fraction * b)), 0);
  for (const r of [0, 1]) assert.equal(plain.sent[r]! - run.sent[r]!, 6 * saved, `rank ${r}: top-k ${run.sent[r]} bytes, DDP ${plain.sent[r]}`);
});
