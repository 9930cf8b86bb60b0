// The flight recorder: every process keeps its last N operations on process groups (collectives
// and point-to-point), each with its sequence number, size, peers, start and end, and how long it
// waited for each peer, in a ring buffer. When something goes wrong the ring is written to the
// run folder as flight-<rank>.json, and `weft diagnose RUN_DIR` merges the ranks' files into one
// account of which operation is stuck, who is in it, who never came and what they did last
// (distributed/diagnostics/flight-report.ts). PyTorch added the same for NCCL late; a hang that
// needs one rank's stack from each of 64 machines is what it saves.
//
// Note [flight record triggers]
// The ring is written (flight-<rank>.json in WEFT_RUN_DIR, replaced atomically) when:
//  - an operation fails: a deadline passed, a peer was lost, ranks called different collectives,
//    the group was aborted (each failure, so an elastic job's last one is on disk);
//  - the process gets SIGUSR1: `kill -USR1 <pid>` on a job that seems stuck, and the launcher
//    sends it to every worker still running when a job fails, a moment before it stops them, so
//    the ranks that never failed (the one that never arrived, above all) leave their record too;
//  - the process exits with a non-zero status (an uncaught error outside any collective).
// Without WEFT_RUN_DIR (a script run by hand) nothing is written unless dumpFlightRecord is given
// a folder. A rank blocked inside a shared-memory collective runs its SIGUSR1 handler only when
// the call returns (at its deadline at the latest), since the wait is native code on the main
// thread; over TCP the main thread is free while it waits, and the record is written at once.
//
// Note [flight sequence numbers]
// A record carries the number the engine gives the operation and puts in its errors
// ("all-reduce #4"): collectives share one counter per group, from 0, and send and recv count
// per peer. The group counts them the same way as it submits them: a request that fails
// validation never reaches the engine's counter, so it is not counted here either. The group is
// named by its job ranks ("world" for a top-level group, "[1, 3]" for a subgroup) and how many
// groups of those ranks this process made before it (#0, #1: an elastic job's generations), so
// that records of one group can be matched across ranks.
//
// Note [native call spans]
// Reading the clock costs about 70 ns from JavaScript, twice per record, and between two ranks
// calling 4-byte all-reduces through shared memory back to back the recorder took 0.9-1.3 µs a
// call with those reads and 0.5-0.9 µs without (BENCHMARKS.md, "Inline calls, layer by layer"). A
// collective that runs inline in a native call (shared memory, the fast TCP links) is timed by
// that call instead, which reads CLOCK_MONOTONIC in about 30 ns: it writes the call's start and end
// into the record's span (OpExecutor.runNow), and the record converts them to its own clock.
// A record is begun without a start when its operation may run so (begin's `timedByCall`); if it
// then goes another way, started() stamps it; if the executor leaves the span empty (a refusal
// before the native call, a group of one), the record reads the clock where it ends.
import { hostname } from "node:os";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENV } from "../rendezvous/worker-env.js";
import { FLIGHT_DUMP_HOOK } from "./flight-hook.js";
import { OP_DISPLAY_NAMES, type OpName } from "../collectives/ops.js";

export type FlightState = "running" | "completed" | "failed";

/** One operation as the flight recorder keeps it (and writes it: times in ms since the epoch). */
export interface FlightRecord {
  /** The group (Note [flight sequence numbers]): "world#0", "[1, 3]#0". */
  group: string;
  /** This process's job rank. */
  rank: number;
  /** The engine's number for it (Note [flight sequence numbers]); -1 for a receive-any. */
  seq: number;
  /** "all-reduce", "all-gather", "send", ... */
  op: string;
  /** Floats this rank passed (all-gather and reduce-scatter: the input). */
  count: number;
  /** How it travelled: "ring", "recursive-doubling", "shared-memory", "in-process", ... once known. */
  algorithm: string;
  /** Job ranks taking part: every member of the group for a collective, the peer for send/recv. */
  peers: readonly number[];
  start: number;
  end?: number;
  state: FlightState;
  error?: string;
  /** Job rank -> ms this rank waited for it to arrive (collectives, when the transport can tell). */
  waited_ms?: Record<string, number>;
}

/** What flight-<rank>.json holds. */
export interface FlightFile {
  rank: number;
  pid: number;
  host: string;
  /** What made this process write it: "SIGUSR1", "exit with code 1", "failure: <the error>". */
  reason: string;
  /** The first operation failure this process saw, if any. */
  first_failure?: string;
  written_at: number;
  /** Records the ring holds at most, and how many older ones it dropped. */
  capacity: number;
  dropped: number;
  records: FlightRecord[];
}

/** The file name of a rank's record in the run folder. */
export const flightFileName = (rank: number | string): string => `flight-${rank}.json`;

/** Records kept by default; WEFT_FLIGHT_RECORDS changes it (0 turns recording off). */
const DEFAULT_CAPACITY = 2000;

/** Epoch ms with sub-millisecond resolution, from one monotonic clock (timeOrigin is a getter: read once). */
const ORIGIN = performance.timeOrigin;
const nowMs = (): number => ORIGIN + performance.now();

/**
 * CLOCK_MONOTONIC ms (process.hrtime's clock, and native calls') less performance.now(). Each
 * read takes hrtime first, so it falls short by the time until performance.now() answered (1 ms
 * for the first call of a process): the largest of a few reads is the closest.
 */
const MONOTONIC_OFFSET = ((): number => {
  let best = -Infinity;
  for (let i = 0; i < 16; i++) {
    const [s, ns] = process.hrtime();
    best = Math.max(best, s * 1e3 + ns / 1e6 - performance.now());
  }
  return best;
})();

/** A native call's CLOCK_MONOTONIC ms as the records' epoch ms (Note [native call spans]). */
const fromMonotonic = (ms: number): number => ORIGIN + (ms - MONOTONIC_OFFSET);

/** How a group's executor ran an operation of this kind and size ("ring", "shared-memory"), asked only when records are written. */
export type AlgorithmOf = (op: OpName, count: number) => string;

/**
 * A slot of the ring. Slots are made once and reused, their waits array too, so that recording
 * costs a collective of a few microseconds (4 KiB through shared memory) no allocation: the
 * measure was 1.6 µs without the recorder, 3.3 µs with an object and an array per operation.
 */
interface Entry {
  group: string;
  rank: number;
  seq: number;
  op: OpName;
  count: number;
  algorithmOf: AlgorithmOf;
  peers: readonly number[];
  start: number;
  end: number;
  state: FlightState;
  error: string | undefined;
  /** Filled by the executor (Note [per-peer waits] in collectives/ops.ts), indexed by group rank; valid once completed. */
  waits: Float64Array | undefined;
  /** Start and end as a native call measured them, NaN until then (Note [native call spans]). */
  readonly span: Float64Array;
  /** Job rank of each group rank, to name the waits. */
  names: readonly number[];
}

export class FlightRecorder {
  private readonly ring: Entry[] = [];
  private next = 0;
  private total = 0;
  private firstFailure: string | undefined;
  /** ms waited for each job rank since the last takeWaits(), and whether it was met meanwhile. */
  private waitSums = new Float64Array(8);
  private waitSeen = new Uint8Array(8);
  private readonly groupsMade = new Map<string, number>();
  private hooksInstalled = false;
  /** `total` when the ring was last written: an exit right after a failure's dump keeps its reason. */
  private dumpedAt = -1;

  constructor(readonly capacity: number) {}

  /** The name of a new group of these job ranks (Note [flight sequence numbers]). */
  nameGroup(globalRanks: readonly number[], topLevel: boolean): string {
    const members = topLevel ? "world" : `[${globalRanks.join(", ")}]`;
    const made = this.groupsMade.get(members) ?? 0;
    this.groupsMade.set(members, made + 1);
    this.installHooks();
    return `${members}#${made}`;
  }

  /**
   * Starts a record, in the next slot of the ring; returns it (undefined when recording is off)
   * for end() or fail(), and for a collective the array its executor should fill with the waits.
   */
  begin(
    group: string, rank: number, seq: number, op: OpName, count: number, algorithmOf: AlgorithmOf, peers: readonly number[], names: readonly number[],
    timedByCall = false,
  ): Entry | undefined {
    if (this.capacity === 0) return undefined;
    let e = this.ring[this.next];
    const collective = seq >= 0 && op !== "send" && op !== "recv";
    if (!e) {
      e = { group, rank, seq, op, count, algorithmOf, peers, start: 0, end: 0, state: "running", error: undefined, waits: undefined, span: new Float64Array(2), names };
      this.ring[this.next] = e;
    }
    e.group = group;
    e.rank = rank;
    e.seq = seq;
    e.op = op;
    e.count = count;
    e.algorithmOf = algorithmOf;
    e.peers = peers;
    e.names = names;
    e.state = "running";
    e.error = undefined;
    e.end = 0;
    if (collective) {
      // Every executor writes every element of it (its own rank: 0) once the operation succeeded.
      if (e.waits?.length !== names.length) e.waits = new Float64Array(names.length);
    } else {
      e.waits = undefined;
    }
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    this.total++;
    e.span[0] = NaN;
    e.span[1] = NaN;
    e.start = timedByCall ? NaN : nowMs();
    return e;
  }

  /** A record begun `timedByCall` whose operation went another way: it starts now (Note [native call spans]). */
  started(e: Entry | undefined): void {
    if (e && Number.isNaN(e.start)) e.start = nowMs();
  }

  /** Sets the record's start and end: from its span if a native call filled it, else from the clock (Note [native call spans]). */
  private close(e: Entry): void {
    const span = e.span;
    if (!Number.isNaN(span[0]!)) {
      e.start = fromMonotonic(span[0]!);
      e.end = fromMonotonic(span[1]!);
      return;
    }
    e.end = nowMs();
    if (Number.isNaN(e.start)) e.start = e.end;
  }

  /** The operation completed; its waits add to the step's (takeWaits). */
  end(e: Entry | undefined): void {
    if (!e) return;
    this.close(e);
    e.state = "completed";
    const w = e.waits;
    if (!w) return;
    for (let r = 0; r < w.length; r++) {
      const name = e.names[r]!;
      if (name === e.rank) continue;
      if (name >= this.waitSums.length) this.growSums(name + 1);
      this.waitSums[name] += w[r]!;
      this.waitSeen[name] = 1;
    }
  }

  private growSums(n: number): void {
    const size = Math.max(n, 2 * this.waitSums.length);
    const sums = new Float64Array(size);
    sums.set(this.waitSums);
    const seen = new Uint8Array(size);
    seen.set(this.waitSeen);
    this.waitSums = sums;
    this.waitSeen = seen;
  }

  /** The operation failed: recorded, and the ring written (Note [flight record triggers]). */
  fail(e: Entry | undefined, err: Error): void {
    const message = `${err.name}: ${err.message}`;
    this.firstFailure ??= message;
    if (e) {
      this.close(e);
      e.state = "failed";
      e.error = message;
    }
    if (process.env[ENV.runDir] !== undefined) this.tryDump(`failure: ${message}`);
  }

  /**
   * ms this process waited for each job rank in collectives since the last call (every peer met
   * is listed, 0 included), and starts a new interval: the training loop's `wait_for` of a step.
   */
  takeWaits(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let r = 0; r < this.waitSums.length; r++) {
      if (this.waitSeen[r] === 0) continue;
      out[String(r)] = round3(this.waitSums[r]!);
    }
    this.waitSums.fill(0);
    this.waitSeen.fill(0);
    return out;
  }

  /** The records held, oldest first, as they are written. */
  records(): FlightRecord[] {
    const n = Math.min(this.total, this.capacity);
    const out: FlightRecord[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.ring[(this.next - n + i + this.capacity) % this.capacity]!;
      const rec: FlightRecord = {
        group: e.group, rank: e.rank, seq: e.seq, op: OP_DISPLAY_NAMES[e.op], count: e.count, algorithm: e.algorithmOf(e.op, e.count),
        peers: [...e.peers], start: round3(e.start), state: e.state,
      };
      if (e.state !== "running") rec.end = round3(e.end);
      if (e.error !== undefined) rec.error = e.error;
      if (e.waits && e.state === "completed") {
        const w: Record<string, number> = {};
        for (let r = 0; r < e.waits.length; r++) if (e.names[r] !== e.rank) w[String(e.names[r])] = round3(e.waits[r]!);
        rec.waited_ms = w;
      }
      out.push(rec);
    }
    return out;
  }

  /**
   * Writes flight-<rank>.json into `dir` (default WEFT_RUN_DIR) and returns its path, or
   * undefined when there is no folder to write to.
   */
  dump(reason: string, dir = process.env[ENV.runDir]): string | undefined {
    if (dir === undefined) return undefined;
    const rank = Number(process.env[ENV.rank] ?? 0);
    const file: FlightFile = {
      rank, pid: process.pid, host: hostname(), reason, ...(this.firstFailure ? { first_failure: this.firstFailure } : {}),
      written_at: round3(nowMs()), capacity: this.capacity, dropped: Math.max(0, this.total - this.capacity), records: this.records(),
    };
    mkdirSync(dir, { recursive: true });
    const path = join(dir, flightFileName(rank));
    this.dumpedAt = this.total;
    // Whole or not at all: a reader (weft diagnose) never sees half a file.
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, `${JSON.stringify(file)}\n`);
    renameSync(partial, path);
    return path;
  }

  /** dump() from a failure path or a signal: a full disk must not turn into a second error. */
  private tryDump(reason: string): void {
    try {
      this.dump(reason);
    } catch (err) {
      process.stderr.write(`weft: could not write the flight record: ${(err as Error).message}\n`);
    }
  }

  /** Once, under a launcher: SIGUSR1 and a failed exit write the ring (Note [flight record triggers]). */
  private installHooks(): void {
    if (this.hooksInstalled || process.env[ENV.runDir] === undefined) return;
    this.hooksInstalled = true;
    // The launcher's preload (launch/worker-preload.ts) owns SIGUSR1 in its workers, so that a
    // signal before any group exists does not start Node's inspector; it calls this hook.
    (globalThis as Record<symbol, unknown>)[FLIGHT_DUMP_HOOK] = (reason: string) => this.tryDump(reason);
    if (process.listenerCount("SIGUSR1") === 0) process.on("SIGUSR1", () => this.tryDump("SIGUSR1"));
    process.on("exit", (code) => {
      if (code !== 0 && this.total > 0 && this.dumpedAt !== this.total) this.tryDump(`exit with code ${code}`);
    });
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function capacityFromEnv(): number {
  const v = process.env.WEFT_FLIGHT_RECORDS;
  if (v === undefined || v === "") return DEFAULT_CAPACITY;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`WEFT_FLIGHT_RECORDS=${v}: give the number of operations to keep (0 turns the flight recorder off)`);
  return n;
}

/** This process's recorder: every process group records into it. */
export const flightRecorder = new FlightRecorder(capacityFromEnv());

/**
 * Writes this process's flight record now, into `dir` (default: the job's run folder), and
 * returns the file's path, or undefined without a folder. `weft diagnose` reads it.
 *
 * @example The last operations of this process, written where asked
 * ```ts
 * import { createInProcessGroups, dumpFlightRecord } from "weft";
 * import { mkdtempSync, readFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const [a, b] = createInProcessGroups(2);
 * await Promise.all([a!.allReduce(new Float32Array(8)), b!.allReduce(new Float32Array(8))]);
 * const path = dumpFlightRecord("asked", mkdtempSync(join(tmpdir(), "flight-")))!;
 * const last = JSON.parse(readFileSync(path, "utf8")).records.at(-1);
 * assert.equal(last.op, "all-reduce");
 * assert.equal(last.state, "completed");
 * await Promise.all([a!.destroy(), b!.destroy()]);
 * ```
 */
export function dumpFlightRecord(reason: string, dir?: string): string | undefined {
  return flightRecorder.dump(reason, dir);
}
