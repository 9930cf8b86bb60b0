// How a multi-process test worker reports one check: `{ check, error: null }` when the promise
// resolves, or the typed error's class, message and fields (and how long it took) when it
// rejects, as one JSON line for the test to read.
import type { CollectiveError } from "../../../src/distributed/base/errors.js";

export async function reportError(out: (o: Record<string, unknown>) => void, what: string, p: Promise<unknown>, t0 = performance.now()): Promise<void> {
  try {
    await p;
    out({ check: what, error: null });
  } catch (err) {
    const e = err as CollectiveError;
    out({ check: what, error: e.constructor.name, message: e.message, ranks: e.ranks, seq: e.seq, op: e.op, ms: Math.round(performance.now() - t0) });
  }
}
