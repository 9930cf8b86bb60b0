// The native backend: the C++ addon (build/Release/weft.node) behind the Backend interface.
// The addon exports each kernel under its Backend name with the same arguments, except that an
// operation name (unary, binary, reduce, gemmEpilogue's activation) is passed as its index in
// UNARY_OPS / BINARY_OPS / REDUCE_OPS / ACTIVATIONS, which saves a string conversion on every call.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ACTIVATIONS, BINARY_OPS, KERNEL_NAMES, REDUCE_OPS, UNARY_OPS,
  type Activation, type Backend, type BinaryOp, type ReduceOp, type UnaryOp,
} from "../backend.js";

/** What the addon exports besides the kernels. */
export interface NativeAddon {
  isa(): string;
  detectedIsa(): string;
  /** Forces a lower instruction-set variant; false when the CPU lacks it. */
  setIsa(isa: "scalar" | "avx2fma" | "avx512"): boolean;
  /** The bf16 GEMM's path in use (native/kernels/bf16-gemm/bf16-gemm.h); absent from an addon built before it. */
  bf16Path?(): Bf16GemmPath;
  /** Every bf16 GEMM path this CPU has, "emulated" first. */
  bf16Paths?(): Bf16GemmPath[];
  /**
   * Lowers the bf16 GEMM's path (tests); false when the CPU lacks it. "dot-layout" and
   * "tile-layout" run the avx512bf16 and amx drivers with their instructions interpreted in
   * portable code, on any CPU.
   */
  setBf16Path?(path: Bf16GemmPath | "dot-layout" | "tile-layout"): boolean;
}

/** How the native GEMM multiplies in bf16: widened to float32 on any CPU, or on AVX512-BF16 or AMX instructions. */
export type Bf16GemmPath = "emulated" | "avx512bf16" | "amx";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const addonPath = `${root}build/Release/weft.node`;

function codes<T extends string>(names: readonly T[]): Record<T, number> {
  return Object.fromEntries(names.map((n, i) => [n, i])) as Record<T, number>;
}
const unaryCode = codes(UNARY_OPS);
const binaryCode = codes(BINARY_OPS);
const reduceCode = codes(REDUCE_OPS);
const activationCode = codes(ACTIVATIONS);

/** Why the addon could not be loaded, or null when it loaded. */
export let nativeLoadError: string | null = null;
/** The addon's ISA controls, or null when it did not load. */
export let nativeAddon: NativeAddon | null = null;

type Kernels = Omit<Backend, "name">;

/** Loads the addon and wraps whatever kernels it has (tests of one kernel group need no others). */
function load(): Partial<Kernels> {
  let addon: Record<string, unknown>;
  try {
    addon = createRequire(import.meta.url)(addonPath) as Record<string, unknown>;
  } catch (err) {
    const buildError = `${root}build/native-build-error.txt`;
    const why = existsSync(buildError)
      ? `the build failed (${readFileSync(buildError, "utf8").trim().split("\n").slice(-1)[0]})`
      : `${(err as Error).message.split("\n")[0]}`;
    nativeLoadError = `${why}; install python3, make and g++, then run \`npm run build:native\``;
    return {};
  }
  nativeAddon = addon as unknown as NativeAddon;
  type Fn = (...args: unknown[]) => unknown;
  const k = addon as Record<string, Fn | undefined>;
  const present = KERNEL_NAMES.filter((name) => typeof k[name] === "function");
  const table = Object.fromEntries(present.map((name) => [name, k[name]])) as Partial<Kernels>;
  const { unary, unaryBackward, binary, reduce, gemmEpilogue } = k;
  if (unary) table.unary = (op: UnaryOp, ...rest) => void unary(unaryCode[op], ...rest);
  if (unaryBackward) table.unaryBackward = (op: UnaryOp, ...rest) => void unaryBackward(unaryCode[op], ...rest);
  if (binary) table.binary = (op: BinaryOp, ...rest) => void binary(binaryCode[op], ...rest);
  if (reduce) table.reduce = (op: ReduceOp, ...rest) => void reduce(reduceCode[op], ...rest);
  if (gemmEpilogue) {
    table.gemmEpilogue = (p, a, b, c, activation: Activation, ...rest) => void gemmEpilogue(p, a, b, c, activationCode[activation], ...rest);
  }
  const missing = KERNEL_NAMES.filter((name) => !present.includes(name));
  if (missing.length > 0) {
    nativeLoadError = `the addon at ${addonPath} lacks kernels ${missing.join(", ")}; rebuild it with \`npm run build:native\``;
  }
  return table;
}

/** The kernels the addon provides (all of them in a good build; tests use this to check one group). */
export const nativeKernels: Partial<Kernels> = load();

/** The native backend, or null when the addon is missing or incomplete (see nativeLoadError). */
export const nativeBackend: Backend | null =
  nativeLoadError === null ? { name: "native", ...(nativeKernels as Kernels) } : null;
