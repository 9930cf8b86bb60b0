// Shared inputs for the pointwise kernel tests: a seeded generator (so a failure reproduces) and
// random float32 arrays.

/** A small deterministic generator (mulberry32) of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale). */
export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (2 * rand() - 1) * scale;
  return x;
}

/**
 * Asserts |actual[i] - expected[i]| <= atol + rtol * |expected[i]| for every i (NaN must meet NaN,
 * infinities must match exactly), naming the first element that fails.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) throw new Error(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
  }
}
