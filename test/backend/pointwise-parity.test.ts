// Native element-wise kernels agree with the reference backend under every ISA variant this CPU
// runs: unary functions and gradients, broadcasting binary operations over contiguous, scalar,
// bias, transposed and sliced layouts, strided copies and accumulations, and the vector helpers.
// Sizes are odd on purpose (1, 3, 17, 33, 127): below, at and past a vector width, with tails.
//
// Tolerances: add/sub/mul/div/copies are exact (same float32 operations); the vectorised
// transcendental functions are within ~2e-6 relative (Cephes polynomials, erfc fit for GELU);
// float32 sums of n terms differ from the float64 reference by ~n·6e-8 of the sum of |terms|.
import { test } from "node:test";
import { BINARY_OPS, UNARY_OPS, type UnaryOp } from "../../src/backend/backend.js";
import { pointwiseKernels as ref } from "../../src/backend/reference/pointwise.js";
import { assertClose, randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa, nativeKernel } from "./native-variants.js";

const SIZES = [1, 3, 17, 33, 127, 1000];

function unaryInput(op: UnaryOp, n: number, rand: () => number): Float32Array {
  const positive = op === "log" || op === "sqrt" || op === "rsqrt" || op === "reciprocal";
  const scale = op === "exp" ? 20 : op === "gelu" || op === "tanh" || op === "sigmoid" ? 8 : 3;
  const x = randomArray(n, rand, scale);
  return positive ? x.map((v) => Math.abs(v) + 1e-3) : x;
}

const UNARY_RTOL: Record<UnaryOp, number> = {
  neg: 0, exp: 2e-6, log: 2e-6, sqrt: 1e-6, rsqrt: 1e-6, abs: 0, tanh: 2e-6, sigmoid: 2e-6, relu: 0,
  gelu: 5e-6, square: 1e-6, reciprocal: 1e-6,
};

test("native unary matches the reference for every op, size and ISA (with an input offset)", (t) => {
  const unary = nativeKernel(t, "unary");
  if (!unary) return;
  const rand = seededRandom(1);
  forEachIsa((isa) => {
    for (const op of UNARY_OPS) {
      for (const n of SIZES) {
        const x = unaryInput(op, n + 5, rand);
        const expected = new Float32Array(n);
        const actual = new Float32Array(n).fill(NaN);
        ref.unary(op, x, 5, expected, n);
        unary(op, x, 5, actual, n);
        assertClose(actual, expected, UNARY_RTOL[op], 1e-30, `${isa} unary ${op} n=${n}`);
      }
    }
  });
});

test("native unary handles special values like libm (inf, 0, negative, NaN)", (t) => {
  const unary = nativeKernel(t, "unary");
  if (!unary) return;
  const x = Float32Array.from([Infinity, -Infinity, 0, -0, -1, NaN, 1e-40, 100, -100, 89, -89]);
  forEachIsa((isa) => {
    for (const op of ["exp", "log", "tanh", "sigmoid", "relu", "gelu", "sqrt"] as const) {
      const expected = new Float32Array(x.length);
      const actual = new Float32Array(x.length);
      ref.unary(op, x, 0, expected, x.length);
      unary(op, x, 0, actual, x.length);
      // log(1e-40) and exp near the subnormal range keep fewer bits: relative 1e-5 there.
      assertClose(actual, expected, 1e-5, 1e-37, `${isa} unary ${op} special values`);
    }
  });
});

test("native unaryBackward matches the reference for every op, size and ISA", (t) => {
  const unaryBackward = nativeKernel(t, "unaryBackward");
  if (!unaryBackward) return;
  const rand = seededRandom(2);
  forEachIsa((isa) => {
    for (const op of UNARY_OPS) {
      for (const n of SIZES) {
        const x = unaryInput(op, n, rand);
        const y = new Float32Array(n);
        ref.unary(op, x, 0, y, n);
        const gy = randomArray(n, rand);
        const expected = new Float32Array(n);
        const actual = new Float32Array(n).fill(NaN);
        ref.unaryBackward(op, x, y, gy, expected, n);
        unaryBackward(op, x, y, gy, actual, n);
        // GELU's derivative Φ(x) + xφ(x) cancels for x << 0: judge it against |gy| there.
        const atol = op === "gelu" ? 1e-6 : 1e-30;
        assertClose(actual, expected, Math.max(UNARY_RTOL[op], 1e-6), atol, `${isa} unaryBackward ${op} n=${n}`);
      }
    }
  });
});

interface View {
  offset: number;
  strides: number[];
  buffer: Float32Array;
}

/** A view of `shape` over a fresh random buffer: strides given, buffer just long enough (plus slack). */
function view(shape: number[], strides: number[], offset: number, rand: () => number): View {
  let last = offset;
  shape.forEach((s, d) => (last += (s - 1) * strides[d]));
  return { offset, strides, buffer: randomArray(last + 3, rand, 2) };
}

const contiguous = (shape: number[]): number[] => {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
};

/** Layouts of two operands over one shape: [name, shape, aStrides, aOffset, bStrides, bOffset]. */
const LAYOUTS: [string, number[], number[], number, number[], number][] = [
  ...SIZES.map((n): [string, number[], number[], number, number[], number] => [`same shape n=${n}`, [n], [1], 0, [1], 0]),
  ["scalar b", [127], [1], 0, [0], 4],
  ["scalar a", [33], [0], 2, [1], 0],
  ["bias along the last axis", [17, 33], [33, 1], 0, [0, 1], 0],
  ["column broadcast", [17, 33], [33, 1], 0, [1, 0], 0],
  ["a broadcast over rows", [5, 127], [0, 1], 0, [127, 1], 0],
  ["outer product broadcast", [17, 3], [1, 0], 0, [0, 1], 0],
  ["transposed a", [33, 17], [1, 33], 0, [17, 1], 0],
  ["sliced rows with an offset", [3, 17], [40, 2], 7, [17, 1], 0],
  ["(B,T,H,D) read as (B,H,T,D)", [2, 3, 5, 4], [60, 4, 12, 1], 0, [60, 20, 4, 1], 0],
  ["rank 0", [], [], 3, [], 1],
  ["a size-1 axis", [1, 17, 1], [0, 1, 0], 0, [17, 1, 1], 0],
  ["empty", [0, 5], [5, 1], 0, [5, 1], 0],
];

test("native binary matches the reference for every op over contiguous, broadcast, transposed and sliced layouts", (t) => {
  const binary = nativeKernel(t, "binary");
  if (!binary) return;
  const rand = seededRandom(3);
  forEachIsa((isa) => {
    for (const op of BINARY_OPS) {
      for (const [name, shape, as, ao, bs, bo] of LAYOUTS) {
        const a = view(shape, as, ao, rand);
        const b = view(shape, bs, bo, rand);
        if (op === "pow") a.buffer = a.buffer.map(Math.abs);
        const size = shape.reduce((p, s) => p * s, 1);
        const expected = new Float32Array(size);
        const actual = new Float32Array(size).fill(NaN);
        const args = [Int32Array.from(as), Int32Array.from(bs), Int32Array.from(shape)] as const;
        ref.binary(op, a.buffer, ao, args[0], b.buffer, bo, args[1], expected, args[2]);
        binary(op, a.buffer, ao, args[0], b.buffer, bo, args[1], actual, args[2]);
        assertClose(actual, expected, op === "pow" ? 1e-6 : 0, 0, `${isa} binary ${op}, ${name}`);
      }
    }
  });
});

test("native binary max and min propagate NaN from either side", (t) => {
  const binary = nativeKernel(t, "binary");
  if (!binary) return;
  const a = Float32Array.from([NaN, 1, 2, NaN, 5, 6, 7, 8, 9]);
  const b = Float32Array.from([1, NaN, 3, NaN, 4, 7, 6, 9, 8]);
  const s = Int32Array.from([1]);
  const shape = Int32Array.from([9]);
  forEachIsa((isa) => {
    for (const op of ["max", "min"] as const) {
      const expected = new Float32Array(9);
      const actual = new Float32Array(9);
      ref.binary(op, a, 0, s, b, 0, s, expected, shape);
      binary(op, a, 0, s, b, 0, s, actual, shape);
      assertClose(actual, expected, 0, 0, `${isa} ${op} with NaN`);
    }
  });
});

/** Views read by copyStrided / written by accumulateStrided: [name, shape, strides, offset]. */
const STRIDED: [string, number[], number[], number][] = [
  ...SIZES.map((n): [string, number[], number[], number] => [`contiguous n=${n}`, [n], [1], 0]),
  ["(B,T,H,D) -> (B,H,T,D)", [2, 3, 5, 8], [120, 8, 24, 1], 0],
  ["(B,H,T,D) -> (B,T,H,D)", [2, 5, 3, 8], [120, 8, 40, 1], 0],
  ["2-D transpose, 8 x 8 blocks and edges", [70, 45], [1, 70], 0],
  ["2-D transpose, whole 8 x 8 blocks", [16, 24], [1, 16], 0],
  ["2-D transpose, small", [17, 3], [1, 17], 0],
  ["batched transpose", [3, 33, 40], [1320, 1, 33], 0],
  ["sliced with offset", [5, 17], [40, 2], 9],
  ["broadcast rows (bias)", [17, 33], [0, 1], 0],
  ["broadcast columns", [17, 33], [1, 0], 0],
  ["broadcast everything", [3, 17, 5], [0, 0, 0], 2],
  ["rank 0", [], [], 4],
  ["empty", [3, 0], [1, 1], 0],
];

test("native copyStrided matches the reference for transposes, slices and broadcasts", (t) => {
  const copyStrided = nativeKernel(t, "copyStrided");
  if (!copyStrided) return;
  const rand = seededRandom(4);
  forEachIsa((isa) => {
    for (const [name, shape, strides, offset] of STRIDED) {
      const x = view(shape, strides, offset, rand);
      const size = shape.reduce((p, s) => p * s, 1);
      const expected = new Float32Array(size);
      const actual = new Float32Array(size).fill(NaN);
      ref.copyStrided(x.buffer, offset, Int32Array.from(strides), expected, Int32Array.from(shape));
      copyStrided(x.buffer, offset, Int32Array.from(strides), actual, Int32Array.from(shape));
      assertClose(actual, expected, 0, 0, `${isa} copyStrided ${name}`);
    }
  });
});

test("native accumulateStrided matches the reference, summing over broadcast axes", (t) => {
  const accumulateStrided = nativeKernel(t, "accumulateStrided");
  if (!accumulateStrided) return;
  const rand = seededRandom(5);
  forEachIsa((isa) => {
    for (const [name, shape, strides, offset] of STRIDED) {
      const dst = view(shape, strides, offset, rand);
      const size = shape.reduce((p, s) => p * s, 1);
      const src = randomArray(size, rand);
      const expected = dst.buffer.slice();
      const actual = dst.buffer.slice();
      ref.accumulateStrided(src, Int32Array.from(shape), expected, offset, Int32Array.from(strides));
      accumulateStrided(src, Int32Array.from(shape), actual, offset, Int32Array.from(strides));
      // Broadcast axes are sums of up to 255 terms in a different order.
      assertClose(actual, expected, 1e-5, 1e-5, `${isa} accumulateStrided ${name}`);
    }
  });
});

test("native affine, fill, axpy, sumSquares and hasNonFinite match the reference", (t) => {
  const k = {
    affine: nativeKernel(t, "affine"), fill: nativeKernel(t, "fill"), axpy: nativeKernel(t, "axpy"),
    sumSquares: nativeKernel(t, "sumSquares"), hasNonFinite: nativeKernel(t, "hasNonFinite"),
  };
  if (!k.affine || !k.fill || !k.axpy || !k.sumSquares || !k.hasNonFinite) return;
  const { affine, fill, axpy, sumSquares, hasNonFinite } = k;
  const rand = seededRandom(6);
  forEachIsa((isa) => {
    for (const n of SIZES) {
      const x = randomArray(n, rand, 3);
      const y = randomArray(n, rand);
      const [e, a] = [new Float32Array(n), new Float32Array(n)];
      ref.affine(x, e, n, -1.5, 0.25);
      affine(x, a, n, -1.5, 0.25);
      assertClose(a, e, 1e-7, 1e-7, `${isa} affine n=${n}`);

      const [fe, fa] = [y.slice(), y.slice()];
      ref.fill(fe, 1, n - 1, 7.5);
      fill(fa, 1, n - 1, 7.5);
      assertClose(fa, fe, 0, 0, `${isa} fill n=${n}`);

      const [ye, ya] = [y.slice(), y.slice()];
      ref.axpy(0.3, x, ye, n);
      axpy(0.3, x, ya, n);
      assertClose(ya, ye, 1e-7, 1e-7, `${isa} axpy n=${n}`);

      assertClose([sumSquares(x, n)], [ref.sumSquares(x, n)], 1e-12, 0, `${isa} sumSquares n=${n}`);

      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, n - 1, n >> 1]) {
          const z = x.slice();
          z[at] = bad;
          if (!hasNonFinite(z, n)) throw new Error(`${isa} hasNonFinite missed ${bad} at ${at} of ${n}`);
        }
      }
      if (hasNonFinite(x, n)) throw new Error(`${isa} hasNonFinite reported a finite array of ${n}`);
    }
  });
});
