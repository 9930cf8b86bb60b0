// `weft diagnose`: the ranks' flight records (group/flight-recorder.ts) merged into one account
// of a job that hung or failed: which collective is stuck, which ranks are in it, which never
// entered it, and what each of those did last. Everything here works on the files alone, after
// the fact, on any machine: the job may be long gone.
//
// Note [finding the stuck collective]
// Every rank numbers a group's collectives the same way (Note [flight sequence numbers]), so
// records of one group with one number are one collective seen from several ranks. A collective
// is incomplete when a member has a record of it that did not complete (running, or failed). Of
// the incomplete ones, the stuck one is the earliest to start: what came after it (the Abort
// echoes, the refusals of a failed group) follows from it. Its members then fall in three kinds:
//  - in it: they have a record of that number (running or failed, or completed, if the others
//    failed after it finished here);
//  - never entered: their record of the group stops before that number. What they did last is
//    their newest record of any group (a collective of another group, a send, or nothing at all
//    since their last completed collective), which is usually the answer;
//  - without a record: no flight-<rank>.json (killed by SIGKILL, or on a machine whose run folder
//    is elsewhere); their log is the place to look.
// A member whose record of that number names another operation called something else at that
// point, which is the other kind of hang: both sides are named.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { flightFileName, type FlightFile, type FlightRecord } from "../group/flight-recorder.js";

export interface AbsentRank {
  rank: number;
  /** Its newest completed record of the stuck collective's group, if any. */
  lastCompleted?: FlightRecord;
  /** Its newest record of any group or kind (what it was doing when it wrote its file). */
  last?: FlightRecord;
}

export interface StuckCollective {
  group: string;
  seq: number;
  op: string;
  count: number;
  /** When the first rank entered it (ms since the epoch). */
  start: number;
  /** Ranks with a record of it, and how each one ended there. */
  entered: { rank: number; record: FlightRecord }[];
  /** Members whose record of the group stops before it. */
  absent: AbsentRank[];
  /** Members with a record of this number for another operation. */
  calledOther: { rank: number; record: FlightRecord }[];
  /** Members without a flight file. */
  noRecord: number[];
}

export interface FlightReport {
  runDir: string;
  /** Ranks of the job: those with a log, a flight file, or named as a peer in one. */
  ranks: number[];
  files: FlightFile[];
  /** Ranks of the job without a flight file. */
  missing: number[];
  stuck: StuckCollective | undefined;
}

/** Job ranks from the names of files a job leaves: rank-<r>.log, rank-<r>.jsonl, flight-<r>.json. */
function ranksInFolder(runDir: string): Set<number> {
  const ranks = new Set<number>();
  for (const name of readdirSync(runDir)) {
    const m = /^(?:rank-(\d+)\.(?:log|jsonl)|flight-(\d+)\.json)$/.exec(name);
    if (m) ranks.add(Number(m[1] ?? m[2]));
  }
  return ranks;
}

/** Reads every flight-<r>.json of a run folder; a file that does not parse is an error naming it. */
export function readFlightFiles(runDir: string): FlightFile[] {
  if (!existsSync(runDir)) throw new Error(`weft diagnose: ${runDir} does not exist; give the run folder of a job (runs/<job-id>, printed by weft launch)`);
  const files: FlightFile[] = [];
  for (const name of readdirSync(runDir).filter((n) => /^flight-\d+\.json$/.test(n)).sort()) {
    const path = join(runDir, name);
    try {
      const f = JSON.parse(readFileSync(path, "utf8")) as FlightFile;
      if (typeof f.rank !== "number" || !Array.isArray(f.records)) throw new Error("it has no rank or records");
      files.push(f);
    } catch (err) {
      throw new Error(`weft diagnose: ${path} is not a flight record (${(err as Error).message}); it may have been cut short: delete it and diagnose the others`);
    }
  }
  return files.sort((a, b) => a.rank - b.rank);
}

const isCollective = (r: FlightRecord): boolean => r.seq >= 0 && r.op !== "send" && r.op !== "recv" && r.op !== "recv-any";

/**
 * Merges the flight files of a run folder (Note [finding the stuck collective]).
 *
 * @example Two ranks' files, where rank 1 never came to all-reduce #1
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = mkdtempSync(join(tmpdir(), "run-"));
 * const rec = (rank: number, seq: number, state: string) => ({ group: "world#0", rank, seq, op: "all-reduce", count: 4, algorithm: "ring", peers: [0, 1], start: 1000 + seq, state });
 * const file = (rank: number, records: object[]) => writeFileSync(join(dir, `flight-${rank}.json`),
 *   JSON.stringify({ rank, pid: 1, host: "h", reason: "SIGUSR1", written_at: 2000, capacity: 100, dropped: 0, records }));
 * file(0, [rec(0, 0, "completed"), rec(0, 1, "running")]);
 * file(1, [rec(1, 0, "completed")]);
 * const report = diagnoseRun(dir);
 * assert.deepEqual([report.stuck?.op, report.stuck?.seq], ["all-reduce", 1]);
 * assert.deepEqual(report.stuck?.absent.map((a) => [a.rank, a.lastCompleted?.seq]), [[1, 0]]);
 * ```
 */
export function diagnoseRun(runDir: string): FlightReport {
  const files = readFlightFiles(runDir);
  const ranks = ranksInFolder(runDir);
  for (const f of files) for (const r of f.records) for (const p of r.peers) ranks.add(p);
  const byRank = new Map(files.map((f) => [f.rank, f]));
  const missing = [...ranks].filter((r) => !byRank.has(r)).sort((a, b) => a - b);
  return { runDir, ranks: [...ranks].sort((a, b) => a - b), files, missing, stuck: findStuck(files, byRank) };
}

function findStuck(files: FlightFile[], byRank: Map<number, FlightFile>): StuckCollective | undefined {
  // The earliest incomplete collective over all ranks' records.
  let first: FlightRecord | undefined;
  for (const f of files) {
    for (const r of f.records) {
      if (!isCollective(r) || r.state === "completed") continue;
      // A refusal after the group failed is an echo, not a cause: it never started anywhere.
      if (r.error?.includes("not started: the group failed earlier")) continue;
      if (!first || r.start < first.start) first = r;
    }
  }
  if (!first) return undefined;
  const stuck: StuckCollective = { group: first.group, seq: first.seq, op: first.op, count: first.count, start: first.start, entered: [], absent: [], calledOther: [], noRecord: [] };
  for (const member of first.peers) {
    const f = byRank.get(member);
    if (!f) {
      stuck.noRecord.push(member);
      continue;
    }
    const ofGroup = f.records.filter((r) => r.group === first!.group && isCollective(r));
    const same = ofGroup.find((r) => r.seq === first!.seq);
    if (same && same.op === first.op) {
      stuck.entered.push({ rank: member, record: same });
      stuck.start = Math.min(stuck.start, same.start);
    } else if (same) {
      stuck.calledOther.push({ rank: member, record: same });
    } else if (ofGroup.length > 0 && ofGroup[0]!.seq > first.seq) {
      // Its ring dropped that far back: it passed the collective long ago.
      stuck.entered.push({ rank: member, record: { ...first, rank: member, state: "completed" } });
    } else {
      const lastCompleted = ofGroup.filter((r) => r.state === "completed").at(-1);
      const last = f.records.at(-1);
      stuck.absent.push({ rank: member, ...(lastCompleted ? { lastCompleted } : {}), ...(last ? { last } : {}) });
    }
  }
  return stuck;
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/** A duration for a person: "0.4 ms", "312 ms", "4.2 s". */
const msText = (ms: number): string => (Math.abs(ms) < 10 ? `${ms.toFixed(1)} ms` : Math.abs(ms) < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

const named = (r: FlightRecord): string => (r.seq >= 0 ? `${r.op} #${r.seq}` : r.op) + (r.group.startsWith("world") ? "" : ` in group ${r.group.replace(/#\d+$/, "")}`);

/** The report as text, for a person: the stuck collective first, then one line per rank. */
export function formatFlightReport(rep: FlightReport): string {
  const lines: string[] = [];
  const have = rep.files.map((f) => f.rank);
  lines.push(`${rep.runDir}: ${rep.ranks.length} ranks; flight records from ${have.length ? `rank${have.length > 1 ? "s" : ""} ${have.join(", ")}` : "none"}` +
    (rep.missing.length ? `; none from ${rep.missing.join(", ")} (killed before they could write one, or their run folder is on another machine: see their logs)` : ""));
  const s = rep.stuck;
  if (!s) {
    lines.push("no collective is incomplete: every rank completed every collective its record holds");
  } else {
    lines.push(`stuck: ${s.op} #${s.seq}${s.group.startsWith("world") ? "" : ` in group ${s.group.replace(/#\d+$/, "")}`} (collective ${s.seq + 1} of group ${s.group}; ${s.count} floats), first entered at ${clock(s.start)}`);
    for (const e of s.entered) {
      const how = e.record.state === "failed" ? `failed: ${e.record.error}` : e.record.state === "running" ? "still waiting in it" : "completed it";
      lines.push(`  in it: rank ${e.rank}, ${how}`);
    }
    for (const c of s.calledOther) {
      lines.push(`  called something else: rank ${c.rank} called ${c.record.op} #${c.record.seq} where the others called ${s.op} #${s.seq}`);
    }
    for (const a of s.absent) {
      const done = a.lastCompleted
        ? `its last completed collective was ${named(a.lastCompleted)} (ended ${clock(a.lastCompleted.end ?? a.lastCompleted.start)}, ${msText(s.start - (a.lastCompleted.end ?? a.lastCompleted.start))} before ${s.op} #${s.seq} began)`
        : "it completed no collective of this group";
      const last = a.last && a.last !== a.lastCompleted ? `; its last operation: ${named(a.last)}, ${a.last.state}` : "; nothing since";
      lines.push(`  never entered: rank ${a.rank}; ${done}${last}`);
    }
    for (const r of s.noRecord) lines.push(`  no record: rank ${r} left no flight record; see its log (rank-${r}.log)`);
  }
  for (const f of rep.files) {
    const last = f.records.at(-1);
    lines.push(`rank ${f.rank} (pid ${f.pid} on ${f.host}): record written on ${f.reason}; ${last ? `last: ${named(last)}, ${last.state}` : "no operations recorded"}`);
  }
  return lines.join("\n");
}

export { flightFileName };
