// A small seeded pseudo-random generator (xoshiro128**), the one source of randomness for data
// order, augmentation and anything else that must replay bit for bit.
//
// Why not Math.random: it cannot be seeded, so two runs (or two ranks) could never agree.
// Why xoshiro128**: 128 bits of state, good statistical quality, and it needs only 32-bit integer
// operations (Math.imul, shifts), which JavaScript performs exactly on every machine; floats only
// appear at the very end (u32 / 2^32), so a seed gives the same stream everywhere.

/** Mixes a 32-bit value thoroughly (the splitmix32 / murmur3 finaliser). Exact integer maths. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combines a key with a stream number so that (key, 0), (key, 1), ... are unrelated. */
function deriveKey(key: number, stream: number): number {
  // Streams may exceed 32 bits (e.g. sample indices of a huge data set): fold the high part in.
  const high = Math.floor(stream / 0x100000000) >>> 0;
  return mix32((key ^ mix32(stream >>> 0)) + Math.imul(0x9e3779b9, high + 1));
}

/**
 * Seeded generator. `fork(stream)` derives an independent generator from the SEED (not from the
 * numbers drawn so far), so `rng.fork(epoch)` is the same whatever was drawn before it.
 *
 * @example Same seed, same numbers
 * ```ts
 * const a = new Rng(42), b = new Rng(42);
 * assert.equal(a.next(), b.next());
 * assert.notEqual(new Rng(42).fork(1).next(), new Rng(42).fork(2).next());
 * ```
 */
export class Rng {
  /** Identity of this stream: forks are derived from it. */
  private key: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box–Muller value, kept for the next normal() call. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`Rng seed must be an integer, got ${seed}: pass e.g. a run's --seed value`);
    }
    this.key = deriveKey(0x5eed, seed);
    // Fill the state from the key with golden-ratio increments. The all-zero state is the one
    // xoshiro never leaves, so it is guarded against (astronomically unlikely, but cheap).
    this.s0 = mix32(this.key + 0x9e3779b9);
    this.s1 = mix32(this.key + 0x3c6ef372);
    this.s2 = mix32(this.key + 0xdaa66d2b);
    this.s3 = mix32(this.key + 0x78dde6e4);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * The generator's whole state, as numbers (JSON-safe): what a worker that joins a running job
   * is handed so its dropout draws match the others' from its first step.
   */
  getState(): number[] {
    return [this.key, this.s0, this.s1, this.s2, this.s3, this.spareNormal === null ? 0 : 1, this.spareNormal ?? 0];
  }

  /** Restores a state getState() returned (on this or another process). */
  setState(state: readonly number[]): void {
    if (state.length !== 7 || !state.slice(0, 6).every((w) => Number.isInteger(w))) throw new RangeError(`Rng.setState needs the 7 numbers getState() returns, got ${state.length}`);
    this.key = state[0]!;
    [this.s0, this.s1, this.s2, this.s3] = [state[1]!, state[2]!, state[3]!, state[4]!];
    this.spareNormal = state[5] === 1 ? state[6]! : null;
  }

  /** An independent generator for `stream` (an epoch, a rank, a sample index...). */
  fork(stream: number): Rng {
    if (!Number.isInteger(stream) || stream < 0) {
      throw new RangeError(`Rng.fork stream must be a non-negative integer, got ${stream}`);
    }
    return new Rng(deriveKey(this.key, stream));
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1), a multiple of 2^-32. */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (bias at most n / 2^32: negligible for data work). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new RangeError(`Rng.int needs an integer n in [1, 2^32], got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** Standard normal sample (Box–Muller; the paired value is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
