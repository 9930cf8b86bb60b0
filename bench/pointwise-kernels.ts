// Throughput of the native pointwise kernels at 1e6 elements, per ISA variant, in GB/s of the
// bytes each kernel must read and write (so memory-bound kernels can be compared with the
// machine's bandwidth). ISAs are measured in alternation, and each figure is the median of
// several rounds, because the machine is shared and noisy.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/pointwise-kernels.js [filter]
import type { Backend } from "../src/backend/backend.js";
import { nativeAddon, nativeKernels } from "../src/backend/native/index.js";

type Kernels = Omit<Backend, "name">;

interface Case {
  name: string;
  /** Bytes read plus bytes written by one call. */
  bytes: number;
  run: (k: Kernels) => void;
}

const N = 1_000_000;
const ROWS = 1000;
const COLS = 1000;

function random(n: number, scale = 1, shift = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (Math.random() * 2 - 1) * scale + shift;
  return x;
}

const x = random(N, 3);
const y = random(N);
const positive = random(N, 1, 2);
const gy = random(N);
const out = new Float32Array(N);
const m = new Float32Array(N);
const v = new Float32Array(N);
const gamma = random(COLS);
const beta = random(COLS);
const rowStats = [new Float32Array(ROWS), new Float32Array(ROWS)];
const targets = Int32Array.from({ length: ROWS }, (_, r) => r % COLS);
const i32 = (...a: number[]) => Int32Array.from(a);

const CASES: Case[] = [
  ...(["relu", "gelu", "exp", "tanh", "sigmoid", "neg"] as const).map((op): Case => ({
    name: `unary ${op}`, bytes: 8 * N, run: (k) => k.unary(op, x, 0, out, N),
  })),
  { name: "unary log", bytes: 8 * N, run: (k) => k.unary("log", positive, 0, out, N) },
  ...(["relu", "gelu", "tanh", "sigmoid"] as const).map((op): Case => ({
    name: `unaryBackward ${op}`, bytes: 12 * N, run: (k) => k.unaryBackward(op, x, y, gy, out, N),
  })),
  { name: "binary add, same shape", bytes: 12 * N, run: (k) => k.binary("add", x, 0, i32(1), y, 0, i32(1), out, i32(N)) },
  { name: "binary mul, scalar b", bytes: 8 * N, run: (k) => k.binary("mul", x, 0, i32(1), y, 0, i32(0), out, i32(N)) },
  {
    name: "binary add, bias (1000 x 1000) + (1000)", bytes: 8 * N,
    run: (k) => k.binary("add", x, 0, i32(COLS, 1), y, 0, i32(0, 1), out, i32(ROWS, COLS)),
  },
  {
    name: "binary mul, column (1000 x 1000) * (1000 x 1)", bytes: 8 * N,
    run: (k) => k.binary("mul", x, 0, i32(COLS, 1), y, 0, i32(1, 0), out, i32(ROWS, COLS)),
  },
  { name: "affine", bytes: 8 * N, run: (k) => k.affine(x, out, N, 0.5, 1) },
  { name: "axpy", bytes: 12 * N, run: (k) => k.axpy(0.5, x, out, N) },
  { name: "fill", bytes: 4 * N, run: (k) => k.fill(out, 0, N, 1) },
  { name: "sumSquares", bytes: 4 * N, run: (k) => void k.sumSquares(x, N) },
  { name: "hasNonFinite", bytes: 4 * N, run: (k) => void k.hasNonFinite(x, N) },
  {
    name: "copyStrided (B,T,H,D)->(B,H,T,D) 8x128x8x122", bytes: 8 * 8 * 128 * 8 * 122,
    run: (k) => k.copyStrided(x, 0, i32(128 * 8 * 122, 122, 8 * 122, 1), out, i32(8, 8, 128, 122)),
  },
  { name: "copyStrided 2-D transpose 1000 x 1000", bytes: 8 * N, run: (k) => k.copyStrided(x, 0, i32(1, COLS), out, i32(ROWS, COLS)) },
  {
    name: "accumulateStrided 2-D transpose 1000 x 1000", bytes: 12 * N,
    run: (k) => k.accumulateStrided(x, i32(ROWS, COLS), out, 0, i32(1, COLS)),
  },
  {
    name: "accumulateStrided bias grad (1000 x 1000) -> (1000)", bytes: 4 * N,
    run: (k) => k.accumulateStrided(x, i32(ROWS, COLS), out, 0, i32(0, 1)),
  },
  { name: "reduce sum rows (1000, 1000, 1)", bytes: 4 * N, run: (k) => k.reduce("sum", x, out, ROWS, COLS, 1) },
  { name: "reduce sum columns (1, 1000, 1000)", bytes: 4 * N, run: (k) => k.reduce("sum", x, out, 1, ROWS, COLS) },
  { name: "reduce max rows (1000, 1000, 1)", bytes: 4 * N, run: (k) => k.reduce("max", x, out, ROWS, COLS, 1) },
  { name: "softmax 1000 x 1000", bytes: 8 * N, run: (k) => k.softmax(x, out, ROWS, COLS) },
  { name: "logSoftmax 1000 x 1000", bytes: 8 * N, run: (k) => k.logSoftmax(x, out, ROWS, COLS) },
  { name: "softmaxBackward 1000 x 1000", bytes: 12 * N, run: (k) => k.softmaxBackward(y, gy, out, ROWS, COLS) },
  { name: "crossEntropy 1000 x 1000", bytes: 8 * N, run: (k) => void k.crossEntropy(x, targets, out, ROWS, COLS) },
  { name: "layerNorm 1000 x 1000", bytes: 8 * N, run: (k) => k.layerNorm(x, gamma, beta, out, rowStats[0], rowStats[1], ROWS, COLS, 1e-5) },
  {
    name: "layerNormBackward 1000 x 1000", bytes: 12 * N,
    run: (k) => k.layerNormBackward(x, gamma, rowStats[0], rowStats[1], gy, out, m.subarray(0, COLS), v.subarray(0, COLS), ROWS, COLS),
  },
  {
    name: "batchNorm (32, 32, 976) training", bytes: 8 * 32 * 32 * 976,
    run: (k) => k.batchNorm(x, gamma, beta, out, m, v, y.slice(0, 32), positive.slice(0, 32), 32, 32, 976, 1e-5, 0.1, true),
  },
  {
    name: "batchNormBackward (32, 32, 976)", bytes: 12 * 32 * 32 * 976,
    run: (k) => k.batchNormBackward(x, gamma, rowStats[0], rowStats[1], gy, out, m, v, 32, 32, 976),
  },
  { name: "sgdStep momentum 0.9", bytes: 20 * N, run: (k) => k.sgdStep(out, gy, m, N, 1e-3, 0.9, 0, 0, false, false) },
  { name: "adamStep", bytes: 28 * N, run: (k) => k.adamStep(out, gy, m, v, N, 1e-3, 0.9, 0.999, 1e-8, 0, false, 10) },
  { name: "dropoutMask", bytes: 4 * N, run: (k) => k.dropoutMask(out, N, 0.1, 7) },
];

/** Seconds per call: calls the kernel until ~20 ms have passed. */
function timeOnce(c: Case, k: Kernels): number {
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 0.02 || calls < 3) {
    c.run(k);
    calls++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / calls;
}

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1];

function main(): void {
  if (nativeAddon === null || nativeKernels.unary === undefined) {
    console.error("pointwise-kernels: the native addon is not built; run `npm run build:native`");
    process.exit(1);
  }
  const addon = nativeAddon;
  const kernels = nativeKernels as Kernels;
  const isas = (["scalar", "avx2fma", "avx512"] as const).filter((isa) => addon.setIsa(isa));
  const before = addon.isa();
  const filter = process.argv[2];
  const rounds = 5;
  console.log(`pointwise kernels, GB/s (median of ${rounds}), ${N} elements; ${isas.join(" vs ")}`);
  console.log(`${"kernel".padEnd(48)}${isas.map((i) => i.padStart(10)).join("")}  speed-up`);
  for (const c of CASES) {
    if (filter && !c.name.includes(filter)) continue;
    const samples: number[][] = isas.map(() => []);
    for (let r = 0; r < rounds; r++) {
      isas.forEach((isa, i) => {
        addon.setIsa(isa);
        samples[i].push(timeOnce(c, kernels));
      });
    }
    const gbs = samples.map((s) => c.bytes / median(s) / 1e9);
    const speedup = gbs[gbs.length - 1] / gbs[0];
    console.log(`${c.name.padEnd(48)}${gbs.map((g) => g.toFixed(2).padStart(10)).join("")}  ${speedup.toFixed(1)}x`);
  }
  addon.setIsa(before as "scalar" | "avx2fma" | "avx512");
}

main();
