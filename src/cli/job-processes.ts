// The worker processes of one job on this machine, found by their environment (the job's run
// folder and each worker's slot, which the launcher sets), not by name: other jobs' workers run
// beside them. Linux's /proc; used by `weft chaos` to pick its victims, and by tests.
import { readdirSync, readFileSync } from "node:fs";
import { processState } from "../distributed/launch/process-state.js";

export interface JobProcess {
  pid: number;
  /** The launcher's slot (WEFT_RANK): the worker's log and metrics file, not its rank in the current generation. */
  slot: number;
  /** Stopped (SIGSTOP): /proc/<pid>/stat's state T. */
  stopped: boolean;
}

/** The live workers whose WEFT_RUN_DIR is `runDir` (absolute, as the launcher passes it). */
export function jobProcesses(runDir: string): JobProcess[] {
  const out: JobProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${entry}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours to read
    }
    const state = processState(Number(entry));
    const vars = env.split("\0");
    if (!vars.includes(`WEFT_RUN_DIR=${runDir}`)) continue;
    const slot = vars.find((v) => v.startsWith("WEFT_RANK="));
    if (slot === undefined || state === undefined || state === "Z") continue;
    out.push({ pid: Number(entry), slot: Number(slot.slice("WEFT_RANK=".length)), stopped: state === "T" || state === "t" });
  }
  return out.sort((a, b) => a.slot - b.slot);
}
