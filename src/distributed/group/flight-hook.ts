// Where a process's flight recorder leaves its dump function (flight-recorder.ts), so that the
// launcher's preload (launch/worker-preload.ts) can call it on SIGUSR1 without loading the
// recorder itself, and so that two copies of Weft in one process still find each other's.
export const FLIGHT_DUMP_HOOK = Symbol.for("weft.flight-recorder.dump");

/** Calls the recorder's dump, when one was installed; returns whether there was one. */
export function callFlightDump(reason: string): boolean {
  const dump = (globalThis as Record<symbol, unknown>)[FLIGHT_DUMP_HOOK];
  if (typeof dump !== "function") return false;
  (dump as (reason: string) => void)(reason);
  return true;
}
