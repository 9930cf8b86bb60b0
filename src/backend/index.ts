// Which backend the tensor layer uses. Native by default; the reference backend when the addon is
// missing (said once, on stderr, with how to fix it) or when WEFT_BACKEND=reference.
import type { Backend } from "./backend.js";
import { nativeBackend, nativeLoadError } from "./native/index.js";
import { referenceBackend } from "./reference/index.js";

export type { Backend } from "./backend.js";
export { referenceBackend } from "./reference/index.js";
export { nativeBackend, nativeAddon, nativeKernels } from "./native/index.js";

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
