// The attention kernels (reference, and native under every ISA this CPU runs) against attention
// composed of its textbook parts in float64 here: the full score matrix S = scale * Q K^T with the
// mask, P = softmax(S), Y = P V, and backward through those same matrices (the softmax backward
// with rowsum(P * dP)), none of which the kernels' blocked, recomputing algorithm shares. Sizes
// are odd on purpose: T = 1, 7, 33, 65 and 130 (one past two blocks of 64; Note [attention
// blocks]), head sizes 3, 16, 24 (below, at and between vector widths), queries != keys.
//
// Tolerance: each output is float32 arithmetic some n roundings deep, and the classic bound for
// such sums is n u times the sum of the magnitudes of their terms (u = 2^-24), which the float64
// composition computes alongside each output (the same products over absolute values, so an
// output that cancels to ~0 still gets the tolerance its terms call for). y is Tk + hs deep (an
// hs-term dot per score, its exp, a Tk-term sum); a gradient Tq + Tk + 2 hs (two hs-term dots in
// dP - D, then a sum over queries or keys). A factor 4 covers exp's 1-2 ulp and the float32 y and
// log-sum-exp the backward starts from.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionParams, Backend } from "../../src/backend/backend.js";
import { attentionKernels } from "../../src/backend/reference/attention.js";
import { randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa, nativeKernel } from "./native-variants.js";

type Kernels = Pick<Backend, "attention" | "attentionBackward">;

interface Case {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headSize: number;
  causal: boolean;
}

/** q, k, v as the three column blocks of one (B, T, 3D) projection, as a transformer has them (tq == tk). */
function packedLayout(c: Case, rand: () => number) {
  const d = c.heads * c.headSize, t = c.tq;
  const qkv = randomArray(c.batch * t * 3 * d, rand);
  const view = (offset: number) => ({ offset, b: t * 3 * d, h: c.headSize, t: 3 * d });
  return { q: qkv, k: qkv, v: qkv, views: [view(0), view(d), view(2 * d)] };
}

/** q, k, v in buffers of their own, (B, H, T, hs) with every row one float longer than needed. */
function paddedLayout(c: Case, rand: () => number) {
  const ld = c.headSize + 1;
  const make = (t: number) => ({ data: randomArray(c.batch * c.heads * t * ld + 1, rand), view: { offset: 1, b: c.heads * t * ld, h: t * ld, t: ld } });
  const q = make(c.tq), k = make(c.tk), v = make(c.tk);
  return { q: q.data, k: k.data, v: v.data, views: [q.view, k.view, v.view] };
}

type Layout = ReturnType<typeof packedLayout>;

function params(c: Case, l: Layout): AttentionParams {
  const [q, k, v] = l.views as [Layout["views"][0], Layout["views"][0], Layout["views"][0]];
  return {
    ...c, scale: 1 / Math.sqrt(c.headSize),
    qOffset: q.offset, qStrideB: q.b, qStrideH: q.h, qStrideT: q.t,
    kOffset: k.offset, kStrideB: k.b, kStrideH: k.h, kStrideT: k.t,
    vOffset: v.offset, vStrideB: v.b, vStrideH: v.h, vStrideT: v.t,
  };
}

/** Row-major float64 matrices of one head, read out of the strided operands. */
function headMatrix(x: Float32Array, offset: number, rowStride: number, rows: number, cols: number): Float64Array {
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m[i * cols + j] = x[offset + i * rowStride + j]!;
  return m;
}

/** C = op(A) op(B) in float64, A (m x k), B (k x n) after the optional transposes. */
function matmul64(a: Float64Array, b: Float64Array, m: number, k: number, n: number, transA = false, transB = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += (transA ? a[l * m + i]! : a[i * k + l]!) * (transB ? b[j * k + l]! : b[l * n + j]!);
      c[i * n + j] = s;
    }
  }
  return c;
}

interface Expected {
  y: Float64Array; // (B, tq, H, hs)
  lse: Float64Array; // (B, H, tq)
  gq: Float64Array; // (B, H, tq, hs)
  gk: Float64Array;
  gv: Float64Array;
}

/** Each output and the sum of the magnitudes of the terms it is made of. */
interface Composed {
  value: Expected;
  magnitude: Expected;
}

const abs = (m: Float64Array) => m.map(Math.abs);

/** The composed attention and its backward from gy, in float64, head by head. */
function composed(p: AttentionParams, q: Float32Array, k: Float32Array, v: Float32Array, gy: Float32Array): Composed {
  const { batch: B, heads: H, tq, tk, headSize: hs } = p;
  const outputs = (): Expected => ({
    y: new Float64Array(B * tq * H * hs), lse: new Float64Array(B * H * tq),
    gq: new Float64Array(B * H * tq * hs), gk: new Float64Array(B * H * tk * hs), gv: new Float64Array(B * H * tk * hs),
  });
  const e = outputs(), mag = outputs();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const Q = headMatrix(q, p.qOffset + b * p.qStrideB + h * p.qStrideH, p.qStrideT, tq, hs);
      const K = headMatrix(k, p.kOffset + b * p.kStrideB + h * p.kStrideH, p.kStrideT, tk, hs);
      const V = headMatrix(v, p.vOffset + b * p.vStrideB + h * p.vStrideH, p.vStrideT, tk, hs);
      const GY = headMatrix(gy, (b * tq * H + h) * hs, H * hs, tq, hs);
      const S = matmul64(Q, K, tq, hs, tk, false, true);
      const P = new Float64Array(tq * tk);
      for (let i = 0; i < tq; i++) {
        for (let j = 0; j < tk; j++) S[i * tk + j] = p.causal && j > i ? -Infinity : S[i * tk + j]! * p.scale;
        const row = S.subarray(i * tk, (i + 1) * tk);
        const max = Math.max(...row);
        const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
        for (let j = 0; j < tk; j++) P[i * tk + j] = Math.exp(row[j]! - max) / sum;
        e.lse[(b * H + h) * tq + i] = tk === 0 ? -Infinity : max + Math.log(sum);
        mag.lse[(b * H + h) * tq + i] = Math.abs(max) + Math.abs(Math.log(sum));
      }
      const Y = matmul64(P, V, tq, tk, hs);
      const dV = matmul64(P, GY, tk, tq, hs, true);
      const dP = matmul64(GY, V, tq, hs, tk, false, true);
      const dS = new Float64Array(tq * tk);
      for (let i = 0; i < tq; i++) {
        let dot = 0;
        for (let j = 0; j < tk; j++) dot += P[i * tk + j]! * dP[i * tk + j]!;
        for (let j = 0; j < tk; j++) dS[i * tk + j] = P[i * tk + j]! * (dP[i * tk + j]! - dot) * p.scale;
      }
      const dQ = matmul64(dS, K, tq, tk, hs);
      const dK = matmul64(dS, Q, tk, tq, hs, true);
      // The same products over magnitudes: |P| |V|, P^T |dY|, and |dS| <= P (|dY| |V|^T + |D|) scale.
      const dPMag = matmul64(abs(GY), abs(V), tq, hs, tk, false, true);
      const dSMag = new Float64Array(tq * tk);
      for (let i = 0; i < tq; i++) {
        let dot = 0;
        for (let j = 0; j < tk; j++) dot += P[i * tk + j]! * dPMag[i * tk + j]!;
        for (let j = 0; j < tk; j++) dSMag[i * tk + j] = P[i * tk + j]! * (dPMag[i * tk + j]! + dot) * p.scale;
      }
      const head = (b * H + h);
      const put = (into: Expected, y: Float64Array, gq: Float64Array, gk: Float64Array, gv: Float64Array) => {
        for (let i = 0; i < tq; i++) for (let d = 0; d < hs; d++) into.y[((b * tq + i) * H + h) * hs + d] = y[i * hs + d]!;
        into.gq.set(gq, head * tq * hs);
        into.gk.set(gk, head * tk * hs);
        into.gv.set(gv, head * tk * hs);
      };
      put(e, Y, dQ, dK, dV);
      put(mag, matmul64(P, abs(V), tq, tk, hs), matmul64(dSMag, abs(K), tq, tk, hs), matmul64(dSMag, abs(Q), tk, tq, hs, true), matmul64(P, abs(GY), tk, tq, hs, true));
    }
  }
  return { value: e, magnitude: mag };
}

const U = 2 ** -24;

function assertWithin(actual: Float32Array, expected: Float64Array, magnitude: Float64Array, depth: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!, tol = 4 * depth * U * magnitude[i]!;
    const ok = Number.isFinite(e) ? Math.abs(a - e) <= tol : a === e;
    assert.ok(ok, `${what}: element ${i} is ${a}, expected ${e} (tolerance ${tol.toExponential(2)})`);
  }
}

/** Runs one case through `kernels` and checks every output against the composition. */
function check(kernels: Kernels, c: Case, rand: () => number, what: string): void {
  const layout = c.tq === c.tk && c.heads > 1 ? packedLayout(c, rand) : paddedLayout(c, rand);
  const p = params(c, layout);
  const ySize = c.batch * c.tq * c.heads * c.headSize, kvSize = c.batch * c.heads * c.tk * c.headSize;
  const gy = randomArray(ySize, rand);
  const { value: e, magnitude: m } = composed(p, layout.q, layout.k, layout.v, gy);
  // NaN-filled outputs: a value the kernel forgets to write fails the comparison.
  const [y, lse] = [new Float32Array(ySize).fill(NaN), new Float32Array(c.batch * c.heads * c.tq).fill(NaN)];
  kernels.attention(p, layout.q, layout.k, layout.v, y, lse);
  const [gq, gk, gv] = [new Float32Array(ySize).fill(NaN), new Float32Array(kvSize).fill(NaN), new Float32Array(kvSize).fill(NaN)];
  kernels.attentionBackward(p, layout.q, layout.k, layout.v, y, lse, gy, gq, gk, gv);
  const forward = c.tk + c.headSize, backward = c.tq + c.tk + 2 * c.headSize;
  const name = `${what} (B ${c.batch}, H ${c.heads}, tq ${c.tq}, tk ${c.tk}, hs ${c.headSize}${c.causal ? ", causal" : ""})`;
  assertWithin(y, e.y, m.y, forward, `${name} y`);
  assertWithin(lse, e.lse, m.lse, forward, `${name} lse`);
  assertWithin(gq, e.gq, m.gq, backward, `${name} gq`);
  assertWithin(gk, e.gk, m.gk, backward, `${name} gk`);
  assertWithin(gv, e.gv, m.gv, backward, `${name} gv`);
}

const CASES: Case[] = [
  { batch: 1, heads: 1, tq: 1, tk: 1, headSize: 3, causal: true },
  { batch: 2, heads: 3, tq: 7, tk: 7, headSize: 3, causal: true },
  { batch: 1, heads: 2, tq: 33, tk: 33, headSize: 16, causal: true },
  { batch: 3, heads: 2, tq: 65, tk: 65, headSize: 24, causal: true },
  { batch: 1, heads: 1, tq: 130, tk: 130, headSize: 16, causal: true },
  { batch: 2, heads: 3, tq: 33, tk: 33, headSize: 24, causal: false },
  { batch: 1, heads: 2, tq: 65, tk: 65, headSize: 3, causal: false },
  // Queries and keys of different lengths: the causal mask is aligned at the top left.
  { batch: 2, heads: 1, tq: 7, tk: 65, headSize: 16, causal: false },
  { batch: 1, heads: 2, tq: 65, tk: 7, headSize: 3, causal: true },
  { batch: 2, heads: 2, tq: 33, tk: 70, headSize: 24, causal: true },
];

test("reference attention kernels equal the float64 composition of matmul, mask, softmax, matmul", () => {
  const rand = seededRandom(41);
  for (const c of CASES) check(attentionKernels, c, rand, "reference");
});

test("native attention kernels equal the float64 composition under every ISA, forward and gradients", (t) => {
  const attention = nativeKernel(t, "attention");
  const attentionBackward = nativeKernel(t, "attentionBackward");
  if (!attention || !attentionBackward) return;
  const rand = seededRandom(42);
  forEachIsa((isa) => {
    for (const c of CASES) check({ attention, attentionBackward }, c, rand, `native ${isa}`);
  });
});

test("attention with no keys gives zeros and lse -inf, and empty batches write nothing", (t) => {
  const attention = nativeKernel(t, "attention");
  const attentionBackward = nativeKernel(t, "attentionBackward");
  const all: [string, Kernels][] = [["reference", attentionKernels]];
  if (attention && attentionBackward) all.push(["native", { attention, attentionBackward }]);
  const rand = seededRandom(43);
  for (const [name, kernels] of all) {
    const c: Case = { batch: 2, heads: 2, tq: 3, tk: 0, headSize: 4, causal: false };
    const layout = paddedLayout(c, rand);
    const p = params(c, layout);
    const y = new Float32Array(2 * 3 * 2 * 4).fill(NaN), lse = new Float32Array(2 * 2 * 3).fill(NaN);
    kernels.attention(p, layout.q, layout.k, layout.v, y, lse);
    assert.ok(y.every((x) => x === 0), `${name}: y attends to nothing`);
    assert.ok(lse.every((x) => x === -Infinity), `${name}: lse of an empty row`);
    const gq = new Float32Array(y.length).fill(NaN);
    kernels.attentionBackward(p, layout.q, layout.k, layout.v, y, lse, randomArray(y.length, rand), gq, new Float32Array(0), new Float32Array(0));
    assert.ok(gq.every((x) => x === 0), `${name}: gq of rows that saw nothing`);
    const empty = params({ ...c, batch: 0, tk: 3 }, layout);
    kernels.attention(empty, layout.q, layout.k, layout.v, new Float32Array(0), new Float32Array(0));
  }
});

test("native attention refuses a view that leaves its buffer, and a scale that is not positive", (t) => {
  const attention = nativeKernel(t, "attention");
  if (!attention) return;
  const c: Case = { batch: 1, heads: 2, tq: 5, tk: 5, headSize: 4, causal: true };
  const layout = packedLayout(c, seededRandom(44));
  const p = params(c, layout);
  const out = () => [new Float32Array(40), new Float32Array(10)] as const;
  assert.throws(() => attention({ ...p, vOffset: p.vOffset + 1 }, layout.q, layout.k, layout.v, ...out()), /attention: the view of v reaches element 120 of a buffer of 120/);
  assert.throws(() => attention({ ...p, scale: 0 }, layout.q, layout.k, layout.v, ...out()), /attention: scale must be a positive finite number/);
  assert.throws(() => attention(p, layout.q, layout.k, layout.v, new Float32Array(39), new Float32Array(10)), /attention: y holds 39 elements but the shapes given need 40/);
});
