// `--precision` of weft train and the training benches: what the flag asks for, and what this
// machine makes of it. bf16 is there to be faster, and it is only where the CPU multiplies bf16
// in hardware (AMX tiles or AVX512-BF16 dot products); elsewhere the GEMM emulates it by rounding
// and is slower than float32 (Note [bf16 products] in src/tensor/autocast.ts). So plain "bf16"
// falls back to f32 there, saying so in one line, and "bf16-anywhere" keeps bf16's numbers on
// any CPU, for reproducing a bf16 run where the hardware is missing.
import { bf16GemmPath, type Bf16GemmPath } from "../backend/index.js";
import type { Precision } from "../tensor/index.js";
import type { OptionTable } from "../train/option-spec.js";

/** The values --precision takes. */
export const PRECISION_CHOICES = ["f32", "bf16", "bf16-anywhere"] as const;

export type PrecisionFlag = (typeof PRECISION_CHOICES)[number];

export const PRECISION_OPTION = {
  precision: {
    type: "choice", choices: PRECISION_CHOICES, default: "f32",
    help: "matrix products in f32, or bf16 operands with float32 weights and sums where the CPU has AMX or AVX512-BF16 (elsewhere it says so and trains in f32); bf16-anywhere multiplies in bf16 even where that is emulated and slower",
  },
} as const satisfies OptionTable;

/** What a run will multiply in, and how. */
export interface ResolvedPrecision {
  precision: Precision;
  /** With bf16: the GEMM's path ("amx", "avx512bf16" or "emulated"). */
  bf16Path?: Bf16GemmPath;
}

/**
 * The precision a run uses for `--precision flag` on this machine; `say` gets the one line that
 * explains a fall-back to f32.
 *
 * @example on any CPU, f32 stays f32 and bf16-anywhere is bf16
 * ```ts
 * assert.deepEqual(resolvePrecision("f32", "weft train", () => assert.fail()), { precision: "f32" });
 * assert.equal(resolvePrecision("bf16-anywhere", "weft train", () => assert.fail()).precision, "bf16");
 * ```
 */
export function resolvePrecision(flag: PrecisionFlag, command: string, say: (line: string) => void): ResolvedPrecision {
  if (flag === "f32") return { precision: "f32" };
  const path = bf16GemmPath();
  if (flag === "bf16" && path === "emulated") {
    say(`${command}: --precision bf16: this CPU has neither AMX nor AVX512-BF16, where bf16 would be slower than float32; training in f32 (--precision bf16-anywhere keeps bf16's numbers)`);
    return { precision: "f32" };
  }
  return { precision: "bf16", bf16Path: path };
}
