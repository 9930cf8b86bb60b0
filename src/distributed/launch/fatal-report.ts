// Note [one line per failed job]
// A worker that dies of an uncaught error used to put Node's whole report (source line, caret,
// stack, "Node.js v20") on the terminal, and with N workers failing the same way at start, N
// copies, followed by the launcher's own copy of the last lines. Now the launcher prints one line
// naming the rank, the error and where its output is, like torchrun's "root cause" summary built
// from the error file its workers write. How it knows: the launcher starts Node workers with
// worker-preload.ts, which, just before Node prints the report of an error nobody handles, writes
// FATAL_MARKER and the error's one-line summary on the worker's stderr. The launcher then keeps
// the rest of that worker's output (the report) out of the terminal, in the run directory's
// rank-<r>.log and in JobResult.failed.tail. The marker travels on stderr itself, not on a second
// pipe, because only one stream keeps its order: the report is known to follow the marker.

/** Starts the line worker-preload.ts writes; NUL first, since no one prints that by accident. */
export const FATAL_MARKER = "\u0000weft:fatal ";

/** What the marker line carries. */
export interface FatalReport {
  /** `Name [code]: message` on one line. */
  error: string;
}

/** The marker line for `report` (with its newline). */
export function fatalMarkerLine(report: FatalReport): string {
  return `${FATAL_MARKER}${JSON.stringify(report)}\n`;
}

/**
 * The report in a marker line, or undefined for any other line.
 *
 * @example A marker line and an ordinary one
 * ```ts
 * assert.equal(parseFatalMarker(fatalMarkerLine({ error: "Error: boom" }).trimEnd())?.error, "Error: boom");
 * assert.equal(parseFatalMarker("Error: boom"), undefined);
 * ```
 */
export function parseFatalMarker(line: string): FatalReport | undefined {
  if (!line.startsWith(FATAL_MARKER)) return undefined;
  try {
    const r = JSON.parse(line.slice(FATAL_MARKER.length)) as Partial<FatalReport>;
    return typeof r.error === "string" ? { error: r.error } : undefined;
  } catch {
    return undefined;
  }
}
