// Whether a process is frozen (SIGSTOP), from Linux's /proc: the launcher kills such leftovers
// at the end of an elastic job, and `weft chaos` does not pick them as victims.
import { readFileSync } from "node:fs";

/** The state letter of /proc/<pid>/stat (R, S, T, Z...), or undefined when it cannot be read. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The state follows the command name in parentheses, which may itself hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is stopped (SIGSTOP): state T (or t, stopped by a tracer). */
export function isStopped(pid: number | undefined): boolean {
  const state = pid === undefined ? undefined : processState(pid);
  return state === "T" || state === "t";
}
