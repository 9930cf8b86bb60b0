// Single-process all-reduce references, written from the documented reduction orders (not from
// the engine's code), so tests can demand bitwise equality.
import { roundToWire, wireTinyError, wireUnitRoundoff, type Wire16 } from "./wire-rounding.js";

function chunkStart(c: number, n: number, w: number): { start: number; len: number } {
  const base = Math.floor(n / w);
  const extra = n % w;
  return { start: c * base + Math.min(c, extra), len: base + (c < extra ? 1 : 0) };
}

/** Note [ring reduction order]: chunk c summed as ((x[c+1] + x[c+2]) + ...) + x[c]. */
export function ringReference(inputs: Float32Array[], average: boolean): Float32Array {
  const w = inputs.length;
  const n = inputs[0]!.length;
  const out = new Float32Array(n);
  const base = Math.floor(n / w);
  const extra = n % w;
  for (let c = 0; c < w; c++) {
    const start = c * base + Math.min(c, extra);
    const len = base + (c < extra ? 1 : 0);
    for (let i = start; i < start + len; i++) {
      let acc = inputs[(c + 1) % w]![i]!;
      for (let k = 2; k <= w; k++) acc = Math.fround(acc + inputs[(c + k) % w]![i]!);
      out[i] = average ? Math.fround(acc / w) : acc;
    }
  }
  return out;
}

/**
 * Note [compressed ring]: chunk c as q(x[c+1]), then each later hop adds its own value in float32
 * and rounds the partial sum to the wire type before sending it on; the owner (rank c) adds its
 * own value last, divides for avg, and (all-reduce, `gathered`) rounds the final value too.
 * Without `gathered` (reduce-scatter) the final value stays float32.
 */
export function compressedRingReference(inputs: Float32Array[], average: boolean, wire: Wire16, gathered = true): Float32Array {
  const w = inputs.length;
  const n = inputs[0]!.length;
  const q = (x: number): number => Math.fround(roundToWire(x, wire));
  const out = new Float32Array(n);
  for (let c = 0; c < w; c++) {
    const { start, len } = chunkStart(c, n, w);
    for (let i = start; i < start + len; i++) {
      let acc = q(inputs[(c + 1) % w]![i]!);
      for (let k = 2; k <= w; k++) {
        acc = Math.fround(acc + inputs[(c + k) % w]![i]!);
        if (k < w) acc = q(acc);
      }
      if (average) acc = Math.fround(acc / w);
      out[i] = gathered ? q(acc) : acc;
    }
  }
  return out;
}

/**
 * The largest error of `result` against the exact (float64) sum or average of `inputs`, over the
 * error bound of a ring with `wire` elements: about w roundings to the wire type of sums no larger
 * than the sum of magnitudes (Note [compressed ring]), plus float32 additions and the absolute
 * error of subnormals. At most 1 when the result is as precise as documented.
 */
export function wireErrorRatio(result: Float32Array, inputs: Float32Array[], average: boolean, wire: Wire16): number {
  const w = inputs.length;
  const perElement = (w + 1) * (wireUnitRoundoff(wire) + 2 ** -24);
  let worst = 0;
  for (let i = 0; i < result.length; i++) {
    let exact = 0;
    let magnitude = 0;
    for (const x of inputs) {
      exact += x[i]!;
      magnitude += Math.abs(x[i]!);
    }
    const scale = average ? w : 1;
    const bound = (perElement * magnitude + w * wireTinyError(wire)) / scale;
    worst = Math.max(worst, Math.abs(result[i]! - exact / scale) / bound);
  }
  return worst;
}

/** Note [shm chunk protocol]: every element summed in rank order, ((x0 + x1) + x2) + ... */
export function rankOrderReference(inputs: Float32Array[], average: boolean): Float32Array {
  const w = inputs.length;
  const out = Float32Array.from(inputs[0]!);
  for (let r = 1; r < w; r++) for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]! + inputs[r]![i]!);
  if (average) for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]! / w);
  return out;
}

/**
 * Note [recursive-doubling reduction order]: fold extras into 0..e-1, then a balanced tree. With
 * a 16-bit `wire`, Note [compressed recursive doubling]: both operands of every addition rounded
 * to it, and the result too.
 */
export function recursiveDoublingReference(inputs: Float32Array[], average: boolean, wire?: Wire16): Float32Array {
  const w = inputs.length;
  const n = inputs[0]!.length;
  const p = 2 ** Math.floor(Math.log2(w));
  const q = (x: number): number => (wire === undefined ? x : Math.fround(roundToWire(x, wire)));
  const v = inputs.slice(0, p).map((x) => Float32Array.from(x));
  for (let i = 0; i < w - p; i++) for (let k = 0; k < n; k++) v[i]![k] = Math.fround(q(v[i]![k]!) + q(inputs[p + i]![k]!));
  for (let mask = 1; mask < p; mask *= 2) {
    for (let r = 0; r < p; r++) {
      if ((r & mask) !== 0) continue;
      const lo = v[r]!;
      const hi = v[r | mask]!;
      const sum = new Float32Array(n);
      for (let k = 0; k < n; k++) sum[k] = Math.fround(q(lo[k]!) + q(hi[k]!));
      v[r] = sum; // both partners now hold the same values
      v[r | mask] = sum;
    }
  }
  const out = v[0]!;
  if (average) for (let k = 0; k < n; k++) out[k] = Math.fround(out[k]! / w);
  for (let k = 0; k < n; k++) out[k] = q(out[k]!);
  return out;
}

/**
 * Inputs whose sums depend on the order of addition (so the order is really tested): random signs
 * and magnitudes spread over `decades` powers of ten from 0.01 (the default reaches 10^5; f16
 * tests pass fewer, so that sums stay below its largest value, 65504).
 */
export function orderSensitiveInputs(worldSize: number, count: number, seed = 1, decades = 8): Float32Array[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: worldSize }, () => Float32Array.from({ length: count }, () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * decades - 2)));
}

export function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
