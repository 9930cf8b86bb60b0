import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/util/rng.js";

const draw = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextU32());

test("the same seed gives the same stream and different seeds different streams", () => {
  assert.deepEqual(draw(new Rng(7), 50), draw(new Rng(7), 50));
  assert.notDeepEqual(draw(new Rng(7), 50), draw(new Rng(8), 50));
});

test("fork depends on the seed and stream, not on numbers drawn before", () => {
  const a = new Rng(3);
  const b = new Rng(3);
  draw(b, 17);
  assert.deepEqual(draw(a.fork(5), 20), draw(b.fork(5), 20));
  assert.notDeepEqual(draw(a.fork(5), 20), draw(a.fork(6), 20));
  assert.notDeepEqual(draw(a.fork(5), 20), draw(new Rng(3), 20));
  // Streams beyond 32 bits stay distinct.
  assert.notDeepEqual(draw(a.fork(2 ** 32), 5), draw(a.fork(0), 5));
});

test("next() is uniform on [0, 1) and int(n) covers [0, n) evenly", () => {
  const rng = new Rng(11);
  const counts = new Array(10).fill(0);
  let sum = 0;
  for (let i = 0; i < 20_000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    counts[rng.int(10)]++;
  }
  assert.ok(Math.abs(sum / 20_000 - 0.5) < 0.01, `mean ${sum / 20_000}`);
  // Each bin expects 2000 with standard deviation ~42: 5 sigma bounds.
  for (const c of counts) assert.ok(Math.abs(c - 2000) < 220, `bin count ${c}`);
});

test("normal() has mean 0 and variance 1", () => {
  const rng = new Rng(5);
  const n = 20_000;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    sum += z;
    squares += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.04, `mean ${sum / n}`);
  assert.ok(Math.abs(squares / n - 1) < 0.05, `variance ${squares / n}`);
});

test("shuffle is a permutation and all orders of three items are about equally likely", () => {
  const rng = new Rng(9);
  const seen = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const key = rng.shuffle(["a", "b", "c"]).join("");
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.equal(seen.size, 6);
  for (const c of seen.values()) assert.ok(Math.abs(c - 1000) < 160, `permutation count ${c}`);
  const numbers = rng.shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...numbers].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
});

test("bad arguments are refused", () => {
  assert.throws(() => new Rng(1.5), /seed must be an integer/);
  assert.throws(() => new Rng(1).int(0), /integer n in \[1, 2\^32\]/);
  assert.throws(() => new Rng(1).fork(-1), /non-negative integer/);
});
