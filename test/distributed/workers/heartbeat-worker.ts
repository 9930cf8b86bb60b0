// A rank of the liveness and abort tests between processes (test/distributed/heartbeat.test.ts,
// test/distributed/abort.test.ts, scripts/bench-freeze-naming.mjs). Runs one scenario and prints
// JSON lines {"rank":r,"check":name,...}.
//   freeze <floats>: all-reduces of <floats> floats until one fails; "running" after the first, then
//                    "failed" with the error and Date.now() (the test stops one rank; helpers/freeze-run.ts);
//   busy:            rank 1's main thread spins for BUSY_MS between two all-reduces, longer than the
//                    silence limit; then an idle second with fast heartbeats, whose traffic is measured;
//   abort:           rank 0 aborts while the others wait in an all-reduce; then everyone tries a barrier;
//   abort-shm:       the same through shared memory, the others waiting in a TCP receive.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import type { CollectiveError } from "../../../src/distributed/base/errors.js";

const scenario = process.argv[2];
/** Longer than the default silence limit (1 s) several times over. */
const BUSY_MS = 3000;
/** Far above what any operation takes here: an error in these scenarios must come from elsewhere. */
const GROUP_TIMEOUT_MS = 60_000;

const pg = await initProcessGroup({
  sharedMemory: scenario === "abort-shm",
  timeoutMs: GROUP_TIMEOUT_MS,
  // Fast heartbeats, so that an idle second would count a hundred of them if they were traffic.
  ...(scenario === "busy" ? { heartbeat: { intervalMs: 10, silenceMs: 1000 } } : {}),
});
const { rank } = pg;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, transport: pg.transport, ...o })}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The error of `p` as a row (null when it succeeded), stamped with Date.now() and the time it took. */
async function outcome(p: Promise<unknown>): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  try {
    await p;
    return { error: null, ms: Math.round(performance.now() - t0), atMs: Date.now() };
  } catch (err) {
    const e = err as CollectiveError;
    return { error: e.constructor.name, message: e.message, ranks: e.ranks, ms: Math.round(performance.now() - t0), atMs: Date.now() };
  }
}

switch (scenario) {
  case "freeze": {
    const buf = sharedFloat32Array(Number(process.argv[3])).fill(1);
    let first = true;
    const loop = async (): Promise<never> => {
      for (;;) {
        await pg.allReduce(buf, { op: "avg" }); // avg keeps the values at 1, however many rounds
        if (first) out({ check: "running" });
        first = false;
      }
    };
    out({ check: "failed", ...(await outcome(loop())) });
    break;
  }
  case "busy": {
    const buf = sharedFloat32Array(1 << 16);
    await pg.allReduce(buf.fill(1));
    if (rank === 1) {
      const t0 = Date.now();
      while (Date.now() - t0 < BUSY_MS); // synchronous: this thread's event loop does not run
    }
    const after = await outcome(pg.allReduce(buf.fill(1)));
    out({ check: "busy", ...after, ok: buf.every((v) => v === pg.worldSize), busyMs: rank === 1 ? BUSY_MS : 0 });
    // Between two barriers this rank sends nothing but heartbeats (a barrier is done here once
    // every peer's descriptor came, and ours went out before); it may receive the next barrier's
    // descriptors of peers whose second ended first, and nothing else.
    await pg.barrier();
    const before = pg.traffic();
    await sleep(1000);
    const idle = pg.traffic();
    await pg.barrier();
    out({ check: "idle-traffic", before, idle });
    break;
  }
  case "abort": {
    if (rank === 0) {
      // The others are in the all-reduce by then, most likely; if not, they start it after the
      // abort and are refused, which fails them the same way.
      await sleep(500);
      pg.abort("re-forming for a joining worker (test)");
      out({ check: "aborted", ...(await outcome(pg.allReduce(sharedFloat32Array(1 << 16)))) });
    } else {
      out({ check: "aborted", ...(await outcome(pg.allReduce(sharedFloat32Array(1 << 16)))) });
    }
    out({ check: "later", ...(await outcome(pg.barrier())) });
    break;
  }
  case "abort-shm": {
    await pg.barrier();
    if (rank === 0) {
      await sleep(500);
      pg.abort("re-forming for a joining worker (test)");
      out({ check: "aborted", ...(await outcome(pg.allReduce(sharedFloat32Array(1 << 16)))) });
    } else {
      // A receive waits on the comm thread (send/recv stay on TCP), so the abort can reach it.
      out({ check: "aborted", ...(await outcome(pg.recv(sharedFloat32Array(4), 0))) });
    }
    out({ check: "later", ...(await outcome(pg.allReduce(sharedFloat32Array(1 << 16)))) });
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
