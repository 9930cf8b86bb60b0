// Micro-benchmark of the native dense kernels: GEMM throughput at the shapes the MNIST CNN and
// the tiny GPT run, and milliseconds per convolution and pooling pass of the MNIST CNN at batch 64.
// Prints one JSON line per case (median of several timed runs after a warm-up).
//
//   npx tsc -p tsconfig.json && node dist/bench/dense-kernels.js [filter]
//
// WEFT_ISA=scalar|avx2fma caps the instruction set, to compare the variants; WEFT_CONV=gemm runs
// every convolution as a GEMM (no direct or Winograd kernels), to compare the algorithms.
import type { Conv2dParams, GemmParams, Pool2dParams } from "../src/backend/backend.js";
import { outputSize } from "../src/backend/backend.js";
import { nativeAddon, nativeKernels, nativeLoadError } from "../src/backend/native/index.js";

const k = nativeKernels;
if (k.gemm === undefined) {
  console.error(`dense-kernels: the native addon is not available: ${nativeLoadError}`);
  process.exit(1);
}
const filter = process.argv[2] ?? "";

function random(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

/** CPU milliseconds of this process: unlike wall time, it does not count time other processes run. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Times `fn` in batches of at least ~2 ms of calls, by CPU time. Returns the median and the minimum
 * per call: on a shared machine the minimum is the better estimate of the kernel's own speed
 * (the median also counts caches flushed by whatever else ran on the core).
 */
function timeMs(fn: () => void, batches = 15): { median: number; min: number } {
  fn();
  let reps = 1;
  for (let t0 = cpuMs(); cpuMs() - t0 < 2; reps *= 2) for (let r = 0; r < reps; r++) fn();
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const t0 = cpuMs();
    for (let r = 0; r < reps; r++) fn();
    times.push((cpuMs() - t0) / reps);
  }
  times.sort((a, b) => a - b);
  return { median: times[batches >> 1], min: times[0] };
}

function report(name: string, fn: () => void, flops?: number): void {
  if (!name.includes(filter)) return;
  const { median, min } = timeMs(fn);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  const rate = (ms: number) => (flops === undefined ? undefined : Math.round((flops / ms / 1e6) * 10) / 10);
  const conv = process.env.WEFT_CONV ?? "auto";
  console.log(JSON.stringify({ isa: nativeAddon!.isa(), conv, name, ms: round(median), minMs: round(min), gflops: rate(median), maxGflops: rate(min) }));
}

// ---- GEMM ------------------------------------------------------------------------------------------

function gemmCase(name: string, m: number, n: number, kk: number, transA: boolean, transB: boolean, batch = 1): void {
  if (!name.includes(filter)) return;
  const a = random(m * kk * batch), b = random(kk * n * batch), c = random(m * n * batch);
  const p: GemmParams = {
    transA, transB, m, n, k: kk, alpha: 1, beta: 0,
    lda: transA ? m : kk, ldb: transB ? kk : n, ldc: n,
    batch, offsetA: 0, offsetB: 0, offsetC: 0, strideA: m * kk, strideB: kk * n, strideC: m * n,
  };
  report(name, () => k.gemm!(p, a, b, c), 2 * m * n * kk * batch);
}

gemmCase("gemm linear1 fwd 64x128x1600 tB", 64, 128, 1600, false, true);
gemmCase("gemm linear1 bwd-x 64x1600x128", 64, 1600, 128, false, false);
gemmCase("gemm linear1 bwd-w 128x1600x64 tA", 128, 1600, 64, true, false);
gemmCase("gemm gpt qkv 4096x384x128", 4096, 384, 128, false, false);
gemmCase("gemm gpt mlp 4096x512x128", 4096, 512, 128, false, false);
gemmCase("gemm gpt attn 128x(128x128x32) tB", 128, 128, 32, false, true, 128);
gemmCase("gemm square 512", 512, 512, 512, false, false);
gemmCase("gemm square 1024", 1024, 1024, 1024, false, false);

// ---- the MNIST CNN at batch 64 ------------------------------------------------------------------------

function convCase(layer: string, p: Conv2dParams): void {
  const oh = outputSize(p.h, p.kh, p.strideH, p.padH), ow = outputSize(p.w, p.kw, p.strideW, p.padW);
  const x = random(p.n * p.c * p.h * p.w), w = random(p.oc * p.c * p.kh * p.kw), bias = random(p.oc);
  const y = random(p.n * p.oc * oh * ow), gx = random(x.length), gw = random(w.length), gb = random(p.oc);
  const flops = 2 * p.n * p.oc * oh * ow * p.c * p.kh * p.kw;
  report(`${layer} fwd`, () => k.conv2d!(p, x, w, bias, y), flops);
  report(`${layer} bwd input`, () => k.conv2dBackwardInput!(p, y, w, gx), flops);
  report(`${layer} bwd weight`, () => k.conv2dBackwardWeight!(p, x, y, gw, gb), flops);
}

function poolCase(layer: string, p: Pool2dParams): void {
  const oh = outputSize(p.h, p.kh, p.strideH, p.padH), ow = outputSize(p.w, p.kw, p.strideW, p.padW);
  const x = random(p.n * p.c * p.h * p.w), y = random(p.n * p.c * oh * ow), gx = random(x.length);
  const argmax = new Int32Array(y.length);
  k.maxPool2d!(p, x, y, argmax);
  report(`${layer} max fwd`, () => k.maxPool2d!(p, x, y, argmax));
  report(`${layer} max bwd`, () => k.maxPool2dBackward!(p, y, argmax, gx));
  report(`${layer} avg fwd`, () => k.avgPool2d!(p, x, y));
  report(`${layer} avg bwd`, () => k.avgPool2dBackward!(p, y, gx));
}

const conv = (c: number, hw: number, oc: number): Conv2dParams =>
  ({ n: 64, c, h: hw, w: hw, oc, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 });
const pool = (c: number, hw: number): Pool2dParams =>
  ({ n: 64, c, h: hw, w: hw, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0 });

convCase("conv1 (1->32, 28x28)", conv(1, 28, 32));
convCase("conv2 (32->64, 13x13)", conv(32, 13, 64));
poolCase("pool1 (32, 26x26)", pool(32, 26));
poolCase("pool2 (64, 11x11)", pool(64, 11));
