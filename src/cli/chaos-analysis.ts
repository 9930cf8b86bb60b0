// What a chaos run did, read from its workers' metrics streams (rank-<slot>.jsonl): the events
// fit() and the elastic group write (failure_seen, generation_formed, state_synced) and the step
// lines, matched against the faults `weft chaos` injected. Pure over the lines, so it is tested
// without running a job.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type FaultKind = "kill" | "stop" | "cut";

export interface InjectedFault {
  kind: FaultKind;
  /** The victim's launcher slot and pid. */
  slot: number;
  pid: number;
  /** When it was injected, ms since the epoch. */
  at: number;
}

interface Line {
  rank: number;
  time: number;
  event?: string;
  step?: number;
  generation?: number;
  digest?: string;
  loss?: number;
}

export interface FaultOutcome extends InjectedFault {
  /** From the fault to the first survivor failing its collective, ms (undefined: nobody noticed, e.g. the job had ended). */
  detect_ms?: number;
  /** From that failure to the next generation's state being handed on, ms. */
  reform_ms?: number;
  /** From the fault to the first step of a later generation, ms. */
  first_step_ms?: number;
}

export interface ChaosAnalysis {
  faults: FaultOutcome[];
  /** Generations formed after the first. */
  reformations: number;
  /** Re-formations after which the members' state digests differed (must be 0). */
  digest_disagreements: number;
  /** Steps trained again: one per re-formation that interrupted a step (none is lost: the furthest member's state is carried on). */
  steps_redone: number;
}

export function readMetricsLines(runDir: string): Line[] {
  const lines: Line[] = [];
  if (!existsSync(runDir)) return lines;
  for (const f of readdirSync(runDir).filter((n) => /^rank-\d+\.jsonl$/.test(n))) {
    for (const text of readFileSync(join(runDir, f), "utf8").split("\n")) {
      if (!text.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(text) as Line);
      } catch {
        // a line cut short by a SIGKILL: skip it
      }
    }
  }
  return lines.sort((a, b) => a.time - b.time);
}

export function analyseChaos(lines: readonly Line[], faults: readonly InjectedFault[]): ChaosAnalysis {
  const byEvent = (e: string): Line[] => lines.filter((l) => l.event === e);
  const failures = byEvent("failure_seen");
  const synced = byEvent("state_synced");
  const steps = lines.filter((l) => l.event === undefined && typeof l.loss === "number");
  const generations = [...new Set(synced.map((l) => l.generation!))].sort((a, b) => a - b);

  let disagreements = 0;
  let redone = 0;
  for (const g of generations) {
    const here = synced.filter((l) => l.generation === g);
    if (new Set(here.map((l) => l.digest)).size > 1) disagreements++;
    if (g === 0) continue;
    // A generation formed after members failed mid-step: the step the furthest of them was in
    // completed nowhere, and is trained again (the others take the furthest one's state).
    if (failures.some((l) => l.generation === g - 1)) redone++;
  }

  const outcomes = faults.map((f, i): FaultOutcome => {
    const until = faults[i + 1]?.at ?? Infinity;
    const failure = failures.find((l) => l.time >= f.at && l.time < until);
    const formed = failure && synced.find((l) => l.time >= failure.time && l.generation! > failure.generation!);
    const step = formed && steps.find((l) => l.time >= formed.time && (l as { generation?: number }).generation! >= formed.generation!);
    return {
      ...f,
      ...(failure ? { detect_ms: failure.time - f.at } : {}),
      ...(failure && formed ? { reform_ms: formed.time - failure.time } : {}),
      ...(step ? { first_step_ms: step.time - f.at } : {}),
    };
  });
  return { faults: outcomes, reformations: Math.max(0, generations.length - 1), digest_disagreements: disagreements, steps_redone: redone };
}
