// Runs a check once per instruction-set variant of the native kernels that this CPU can execute,
// restoring the variant that was active before.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { nativeAddon, nativeKernels } from "../../src/backend/native/index.js";

type Kernels = Omit<Backend, "name">;
const ISAS = ["scalar", "avx2fma", "avx512"] as const;

/**
 * The native implementation of `name`, or null (after marking the test skipped) when the addon is
 * not built. With WEFT_REQUIRE_NATIVE=1 a missing kernel fails instead.
 */
export function nativeKernel<K extends keyof Kernels>(t: TestContext, name: K): Kernels[K] | null {
  const kernel = nativeKernels[name];
  if (kernel === undefined || nativeAddon === null) {
    assert.notEqual(process.env.WEFT_REQUIRE_NATIVE, "1", `native kernel ${name} is missing but WEFT_REQUIRE_NATIVE=1`);
    t.skip(`native addon lacks ${name}: run \`npm run build:native\``);
    return null;
  }
  return kernel as Kernels[K];
}

/** Calls check(isa) under every variant this CPU supports. */
export function forEachIsa(check: (isa: string) => void): void {
  if (nativeAddon === null) return;
  const addon = nativeAddon;
  const before = addon.isa() as (typeof ISAS)[number];
  try {
    for (const isa of ISAS) {
      if (!addon.setIsa(isa)) continue;
      check(isa);
    }
  } finally {
    addon.setIsa(before);
  }
}
