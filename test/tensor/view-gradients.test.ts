// Gradients through chains of views (Note [view gradients go to the base] in src/tensor/tensor.ts)
// on each backend: the pieces of a split of a permuted reshape land in the first base at their
// places, a chain of transposes that composes to the identity costs no strided pass, and a view
// that also gets a gradient from an ordinary op passes that one on too. Each expected gradient is
// computed here element by element from where every view element sits in the base.
import assert from "node:assert/strict";
import { testEachBackend as test } from "./each-backend.js";
import { backend, setBackend } from "../../src/backend/index.js";
import { KernelProfile } from "../../src/backend/profile.js";
import { Rng } from "../../src/util/rng.js";
import * as T from "../../src/tensor/index.js";

/** `body` run on the current backend with its kernel calls counted. */
function counted<R>(body: () => R): { result: R; calls: (kernel: string) => number } {
  const profile = new KernelProfile();
  const previous = setBackend(profile.wrap(backend()));
  try {
    const result = body();
    const rows = profile.report();
    return { result, calls: (kernel) => rows.find((r) => r.kernel === kernel)?.calls ?? 0 };
  } finally {
    setBackend(previous);
  }
}

// The heads of a (B, T, 3D) projection as attention takes them: reshape, permute, split.
const [B, Tn, H, hs] = [2, 5, 3, 4];
const D = H * hs;

test("the q, k and v heads of a qkv projection send their gradients straight to it, each element to its place", () => {
  const rng = new Rng(1);
  const qkv = T.randn([B, Tn, 3 * D], rng, 1, { requiresGrad: true });
  const weights = [0, 1, 2].map(() => T.randn([B, H, Tn, hs], rng));
  const { calls } = counted(() => {
    const heads = T.permute(T.reshape(qkv, [B, Tn, 3 * H, hs]), [0, 2, 1, 3]);
    const pieces = T.split(heads, [H, H, H], 1);
    T.sum(T.add(T.add(T.mul(pieces[0]!, weights[0]!), T.mul(pieces[1]!, weights[1]!)), T.mul(pieces[2]!, weights[2]!))).backward();
  });
  const expected = new Float32Array(qkv.size);
  for (let i = 0; i < 3; i++) {
    const w = weights[i]!.data;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < Tn; t++) for (let d = 0; d < hs; d++) {
      expected[(b * Tn + t) * 3 * D + i * D + h * hs + d] = w[((b * H + h) * Tn + t) * hs + d]!;
    }
  }
  assert.deepEqual(qkv.grad!.toArray(), Array.from(expected));
  assert.equal(calls("accumulateStrided"), 3, "one strided pass per piece, none for the permute");
});

test("a chain of transposes that undoes itself hands its gradient over with no strided pass", () => {
  const rng = new Rng(2);
  const x = T.randn([B, Tn, H, hs], rng, 1, { requiresGrad: true });
  const w = T.randn([B, Tn, D], rng);
  const { calls } = counted(() => {
    const y = T.affine(x, 3); // an op output, as attention's (B, T, H, hs) is
    const merged = T.reshape(T.transpose(T.permute(y, [0, 2, 1, 3]), 1, 2), [B, Tn, D]);
    T.sum(T.mul(merged, w)).backward();
  });
  assert.deepEqual(x.grad!.toArray(), w.toArray().map((v) => Math.fround(3 * v)));
  assert.equal(calls("accumulateStrided"), 0);
});

test("a view fed by an ordinary op and by views of itself passes both gradients on", () => {
  const rng = new Rng(3);
  const x = T.randn([B, Tn, 2 * D], rng, 1, { requiresGrad: true });
  const heads = T.permute(T.reshape(x, [B, Tn, 2 * H, hs]), [0, 2, 1, 3]); // (B, 2H, T, hs)
  const [first] = T.split(heads, [H, H], 1);
  const wAll = T.randn([B, 2 * H, Tn, hs], rng), wFirst = T.randn([B, H, Tn, hs], rng);
  T.sum(T.add(T.sum(T.mul(heads, wAll)), T.sum(T.mul(first!, wFirst)))).backward();
  const expected = new Float32Array(x.size);
  for (let b = 0; b < B; b++) for (let h = 0; h < 2 * H; h++) for (let t = 0; t < Tn; t++) for (let d = 0; d < hs; d++) {
    const at = (b * Tn + t) * 2 * D + h * hs + d;
    const all = wAll.data[((b * 2 * H + h) * Tn + t) * hs + d]!;
    expected[at] = h < H ? Math.fround(all + wFirst.data[((b * H + h) * Tn + t) * hs + d]!) : all;
  }
  assert.deepEqual(x.grad!.toArray(), Array.from(expected));
});
