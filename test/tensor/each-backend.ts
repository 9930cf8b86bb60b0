// Registers a test once per backend: the reference one (exact kernels) and, where the addon
// loaded, the native one, each named in the test's title. A missing addon fails the run when
// WEFT_REQUIRE_NATIVE=1 (CI), rather than testing the reference backend twice over silently.
import { test } from "node:test";
import { nativeBackend, referenceBackend, setBackend, type Backend } from "../../src/backend/index.js";

export const backends: Backend[] = [referenceBackend, ...(nativeBackend ? [nativeBackend] : [])];
if (!nativeBackend && process.env.WEFT_REQUIRE_NATIVE === "1") throw new Error("the native backend is required but did not load");

/** Registers `body` as `name [backend]` for each backend, with that backend set while it runs. */
export function testEachBackend(name: string, body: () => void): void {
  for (const b of backends) {
    test(`${name} [${b.name}]`, () => {
      const previous = setBackend(b);
      try {
        body();
      } finally {
        setBackend(previous);
      }
    });
  }
}
