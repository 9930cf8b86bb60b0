// One frozen-rank run between real processes over TCP, shared by test/distributed/heartbeat.test.ts
// and scripts/bench-freeze-naming.mjs: `worldSize` ranks repeat all-reduces of `floats` floats
// (workers/heartbeat-worker.ts, "freeze"); once the rank to freeze has finished its first one, it
// is stopped (SIGSTOP) a little later, mid-operation most likely. Each live rank reports the error
// it got and when (Date.now(): one clock for every process on this machine), then destroys its
// group and exits. Once they all have, the frozen rank is continued (SIGCONT) and must fail on its
// own, its peers' links being closed. Children are killed however the run ends.
import type { ChildProcess } from "node:child_process";
import { spawnRanks, type RankResult } from "./spawn-ranks.js";

export interface FreezeRunOptions {
  worldSize: number;
  frozen: number;
  /** Floats per all-reduce (4 << 20: 16 MiB). */
  floats: number;
  /** Stop the frozen rank this long after its first all-reduce finished, plus up to as much again at random. */
  delayMs?: number;
  /** A safety net for a hung run: everything is killed after this long. */
  timeoutMs?: number;
}

/** What one rank reported: its error's class, ranks and message, and when it failed. */
export interface FreezeRow {
  rank: number;
  error: string | null;
  ranks: number[];
  message: string;
  atMs: number;
}

export interface FreezeOutcome {
  /** Date.now() when SIGSTOP and SIGCONT were sent. */
  stoppedAtMs: number;
  continuedAtMs: number;
  /** The live ranks' reports, by rank. */
  live: FreezeRow[];
  /** The frozen rank's report after it was continued, if it made one. */
  woken: FreezeRow | undefined;
  results: RankResult[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runFreeze(o: FreezeRunOptions): Promise<FreezeOutcome> {
  const children: ChildProcess[] = [];
  let firstDone!: () => void;
  const running = new Promise<void>((r) => (firstDone = r));
  const exited = Array.from({ length: o.worldSize }, () => {
    let resolve!: () => void;
    return { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
  });
  let stoppedAtMs = 0;
  let continuedAtMs = 0;
  const run = spawnRanks({
    worldSize: o.worldSize,
    script: "heartbeat-worker.js",
    args: ["freeze", String(o.floats)],
    timeoutMs: o.timeoutMs ?? 120_000,
    onSpawn: (rank, child) => {
      children[rank] = child;
      child.once("exit", () => exited[rank]!.resolve());
      if (rank !== o.frozen) return;
      let seen = "";
      child.stdout!.on("data", (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('"check":"running"')) firstDone();
      });
    },
  });
  const conduct = (async (): Promise<void> => {
    await running;
    const delay = o.delayMs ?? 200;
    await sleep(delay + Math.random() * delay);
    stoppedAtMs = Date.now();
    children[o.frozen]?.kill("SIGSTOP");
    await Promise.all(exited.filter((_, r) => r !== o.frozen).map((e) => e.promise));
    continuedAtMs = Date.now();
    children[o.frozen]?.kill("SIGCONT");
  })();
  // A run that ends before the freeze (a rank failed at set-up) lets `conduct` go on at once: its
  // signals then reach processes that are gone, and every exit has happened.
  const results = await run.finally(() => firstDone());
  await conduct;
  const rowOf = (r: RankResult): FreezeRow | undefined => {
    const j = r.json.find((x) => x.check === "failed");
    return j && { rank: r.rank, error: j.error as string | null, ranks: j.ranks as number[], message: j.message as string, atMs: j.atMs as number };
  };
  const live = results.filter((r) => r.rank !== o.frozen).map((r) => rowOf(r) ?? { rank: r.rank, error: "no report", ranks: [], message: r.stderr, atMs: NaN });
  return { stoppedAtMs, continuedAtMs, live, woken: rowOf(results[o.frozen]!), results };
}
