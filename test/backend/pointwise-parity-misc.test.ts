// Native indexing, dropout and optimizer kernels agree with the reference under every ISA variant
// this CPU runs (dropout bit for bit), and the bindings turn bad arguments into JavaScript errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pointwiseKernels as ref } from "../../src/backend/reference/pointwise.js";
import { assertClose, randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa, nativeKernel } from "./native-variants.js";

test("native indexSelect and indexAdd match the reference, repeated indices included", (t) => {
  const indexSelect = nativeKernel(t, "indexSelect");
  const indexAdd = nativeKernel(t, "indexAdd");
  if (!indexSelect || !indexAdd) return;
  const rand = seededRandom(31);
  forEachIsa((isa) => {
    for (const cols of [1, 3, 17, 33]) {
      const rows = 7;
      const table = randomArray(rows * cols, rand);
      const index = Int32Array.from([3, 0, 6, 3, 3, 1]);
      const [e, a] = [new Float32Array(index.length * cols), new Float32Array(index.length * cols).fill(NaN)];
      ref.indexSelect(table, rows, index, e, cols);
      indexSelect(table, rows, index, a, cols);
      assertClose(a, e, 0, 0, `${isa} indexSelect cols=${cols}`);
      const g = randomArray(index.length * cols, rand);
      const [te, ta] = [table.slice(), table.slice()];
      ref.indexAdd(g, index, te, cols);
      indexAdd(g, index, ta, cols);
      assertClose(ta, te, 1e-6, 1e-7, `${isa} indexAdd cols=${cols}`);
    }
  });
});

test("native indexSelect and indexAdd throw a RangeError naming the bad index and the table size", (t) => {
  const indexSelect = nativeKernel(t, "indexSelect");
  const indexAdd = nativeKernel(t, "indexAdd");
  if (!indexSelect || !indexAdd) return;
  const table = new Float32Array(10);
  const out = new Float32Array(4).fill(5);
  assert.throws(() => indexSelect(table, 5, Int32Array.from([0, 5]), out, 2),
    (err: Error) => err instanceof RangeError && /index 5/.test(err.message) && /5 rows/.test(err.message));
  assert.deepEqual(Array.from(out), [5, 5, 5, 5], "a bad batch leaves the output untouched");
  assert.throws(() => indexAdd(new Float32Array(2), Int32Array.from([-1]), table, 2),
    (err: Error) => err instanceof RangeError && /index -1/.test(err.message));
});

test("native dropoutMask equals the reference bit for bit", (t) => {
  const dropoutMask = nativeKernel(t, "dropoutMask");
  if (!dropoutMask) return;
  for (const [n, p, seed] of [[1, 0.5, 0], [127, 0.1, 7], [10007, 0.5, -12345], [4096, 0.9, 2 ** 31 + 5], [33, 0, 3], [33, 1, 3]]) {
    const e = new Float32Array(n);
    const a = new Float32Array(n).fill(NaN);
    ref.dropoutMask(e, n, p, seed);
    dropoutMask(a, n, p, seed);
    assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(e.buffer), `dropoutMask n=${n} p=${p} seed=${seed}`);
  }
});

test("native sgdStep matches the reference over three steps for every option", (t) => {
  const sgdStep = nativeKernel(t, "sgdStep");
  if (!sgdStep) return;
  const rand = seededRandom(32);
  const configs = [
    { momentum: 0, dampening: 0, wd: 0, nesterov: false },
    { momentum: 0.9, dampening: 0, wd: 1e-4, nesterov: false },
    { momentum: 0.9, dampening: 0.1, wd: 0, nesterov: false },
    { momentum: 0.8, dampening: 0, wd: 0.01, nesterov: true },
  ];
  forEachIsa((isa) => {
    for (const c of configs) {
      for (const n of [1, 17, 127]) {
        const p0 = randomArray(n, rand);
        const [pe, pa] = [p0.slice(), p0.slice()];
        const [be, ba] = c.momentum ? [new Float32Array(n), new Float32Array(n)] : [null, null];
        for (let step = 0; step < 3; step++) {
          const g = randomArray(n, rand);
          ref.sgdStep(pe, g, be, n, 0.05, c.momentum, c.dampening, c.wd, c.nesterov, step === 0);
          sgdStep(pa, g, ba, n, 0.05, c.momentum, c.dampening, c.wd, c.nesterov, step === 0);
        }
        const what = `${isa} sgdStep ${JSON.stringify(c)} n=${n}`;
        assertClose(pa, pe, 1e-6, 1e-7, what);
        if (ba && be) assertClose(ba, be, 1e-6, 1e-7, `${what} momentum buffer`);
      }
    }
  });
});

test("native adamStep matches the reference over three steps, Adam and AdamW", (t) => {
  const adamStep = nativeKernel(t, "adamStep");
  if (!adamStep) return;
  const rand = seededRandom(33);
  forEachIsa((isa) => {
    for (const [decoupled, wd] of [[false, 0], [false, 0.01], [true, 0.1]] as const) {
      for (const n of [1, 3, 17, 33, 127]) {
        const p0 = randomArray(n, rand);
        const [pe, pa] = [p0.slice(), p0.slice()];
        const [me, ma, ve, va] = [0, 1, 2, 3].map(() => new Float32Array(n));
        for (let step = 1; step <= 3; step++) {
          const g = randomArray(n, rand);
          ref.adamStep(pe, g, me, ve, n, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled, step);
          adamStep(pa, g, ma, va, n, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled, step);
        }
        const what = `${isa} adamStep decoupled=${decoupled} wd=${wd} n=${n}`;
        assertClose(pa, pe, 1e-6, 1e-7, what);
        // m and v are sums of terms ~0.1 |g| and ~1e-3 g² (|g| <= 1) that partly cancel: absolute floors.
        assertClose(ma, me, 1e-6, 1e-7, `${what} m`);
        assertClose(va, ve, 1e-6, 1e-9, `${what} v`);
      }
    }
  });
});

test("native bindings reject short buffers, bad strides and bad codes with errors, not crashes", (t) => {
  const unary = nativeKernel(t, "unary");
  const binary = nativeKernel(t, "binary");
  const copyStrided = nativeKernel(t, "copyStrided");
  const crossEntropy = nativeKernel(t, "crossEntropy");
  const adamStep = nativeKernel(t, "adamStep");
  if (!unary || !binary || !copyStrided || !crossEntropy || !adamStep) return;
  const x = new Float32Array(8);
  assert.throws(() => unary("exp", x, 4, new Float32Array(8), 5), RangeError);
  assert.throws(() => unary("nope" as "exp", x, 0, x, 1), Error);
  const s1 = Int32Array.from([1]);
  assert.throws(() => binary("add", x, 0, Int32Array.from([2]), x, 0, s1, x, Int32Array.from([5])), RangeError);
  assert.throws(() => binary("add", x, 0, Int32Array.from([1, 1]), x, 0, s1, x, Int32Array.from([2])), RangeError);
  assert.throws(() => binary("add", x, 0, Int32Array.from([-1]), x, 0, s1, x, Int32Array.from([2])), TypeError);
  assert.throws(() => copyStrided(x, 0, s1, x, Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1])), RangeError);
  assert.throws(() => crossEntropy(x, Int32Array.from([0, 4]), x, 2, 4), /target 4 of row 1/);
  assert.throws(() => adamStep(x, x, x, new Float32Array(2), 8, 1e-3, 0.9, 0.999, 1e-8, 0, false, 1), /v holds 2/);
  assert.throws(() => unary("exp", new Float64Array(4) as unknown as Float32Array, 0, x, 1), TypeError);
});
