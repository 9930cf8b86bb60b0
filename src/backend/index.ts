// Which backend the tensor layer uses. Native by default; the reference backend when the addon is
// missing (said once, on stderr, with how to fix it) or when WEFT_BACKEND=reference.
import type { Backend } from "./backend.js";
import { nativeAddon, nativeBackend, nativeLoadError, type Bf16GemmPath } from "./native/index.js";
import { referenceBackend } from "./reference/index.js";

export type { Backend } from "./backend.js";
export { referenceBackend } from "./reference/index.js";
export { nativeBackend, nativeAddon, nativeKernels, type Bf16GemmPath } from "./native/index.js";

function initial(): Backend {
  const wanted = process.env.WEFT_BACKEND;
  if (wanted === "reference") return referenceBackend;
  if (wanted !== undefined && wanted !== "native") {
    throw new Error(`WEFT_BACKEND must be "native" or "reference", got "${wanted}"`);
  }
  if (nativeBackend) return nativeBackend;
  process.stderr.write(`weft: using the slow reference backend because the native kernels are unavailable: ${nativeLoadError}\n`);
  return referenceBackend;
}

let active: Backend = initial();

/** The backend every tensor operation runs on. */
export function backend(): Backend {
  return active;
}

/** Switches the backend (tests compare the two); returns the previous one. */
export function setBackend(next: Backend): Backend {
  const previous = active;
  active = next;
  return previous;
}

/**
 * How the active backend multiplies bf16 operands (Note [bf16 products] in src/tensor/autocast.ts):
 * "amx" or "avx512bf16" on those instructions, "emulated" by rounding them and running the
 * float32 GEMM (any CPU, and the reference backend).
 */
export function bf16GemmPath(): Bf16GemmPath {
  // "native+profile" is the native backend under `--profile`'s timing wrapper.
  if (!active.name.startsWith("native") || nativeAddon?.bf16Path === undefined) return "emulated";
  return nativeAddon.bf16Path();
}

/** Whether bf16 products run on bf16 instructions here, and so are faster than float32. */
export function bf16Hardware(): boolean {
  return bf16GemmPath() !== "emulated";
}
