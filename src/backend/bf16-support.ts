// What the active backend can do for bf16 products (Note [bf16 products] in
// src/tensor/autocast.ts): the native GEMM's path, and whether it runs on bf16 instructions or
// only emulates them by rounding and multiplying in float32.
import { backend } from "./index.js";
import { nativeAddon, type Bf16GemmPath } from "./native/index.js";

/**
 * How the active backend multiplies bf16 operands: "amx" or "avx512bf16" on those instructions,
 * "emulated" by rounding them and running the float32 GEMM (any CPU, and the reference backend).
 */
export function bf16GemmPath(): Bf16GemmPath {
  // "native+profile" is the native backend under `--profile`'s timing wrapper.
  if (!backend().name.startsWith("native") || nativeAddon?.bf16Path === undefined) return "emulated";
  return nativeAddon.bf16Path();
}

/** Whether bf16 products run on bf16 instructions here, and so are faster than float32. */
export function bf16Hardware(): boolean {
  return bf16GemmPath() !== "emulated";
}
