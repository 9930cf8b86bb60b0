// A rank of the collective tests between processes (spawned by test/distributed/collectives-tcp.test.ts
// and, with WEFT_LOCAL_WORLD_SIZE set so that collectives go through shared memory, by
// collectives-shm.test.ts). Runs one scenario and prints JSON lines: {"check":name,"ok":bool,
// "transport":...} or {"error":class,...}.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import {
  bitwiseEqual, compressedRingReference, orderSensitiveInputs, rankOrderReference, recursiveDoublingReference, ringReference, wireErrorRatio,
} from "../helpers/reference-sum.js";
import type { Wire16 } from "../helpers/wire-rounding.js";
import { reportError as report } from "../helpers/report-error.js";

const scenario = process.argv[2];
// Deadlines of the fault scenarios (the fault tests name them in what they expect).
const FREEZE_DEADLINE_MS = 5000;
const KILL_DEADLINE_MS = 30_000;
const SMALL = 32; // smallMessageBytes used by these tests: 1 and 3 floats go by recursive doubling, 17 and up by the ring
// "window": tiny segments and a 4-segment staging window, so most reduce-scatter segments arrive
// before their receive is posted and must wait in the socket.
// The group's deadline is not what these scenarios test (the fault scenarios pass their own), so it
// is far above what any operation takes on a loaded machine: a spurious timeout is then a hang.
const GROUP_TIMEOUT_MS = 60_000;
const pg = await initProcessGroup(
  scenario === "window"
    ? { smallMessageBytes: SMALL, segmentBytes: 4096, stagingBytes: 16384, timeoutMs: GROUP_TIMEOUT_MS, shmChunkBytes: 4096 }
    : scenario === "halves-threshold"
    ? // Rank 0 runs 64 KiB all-reduces in halves, rank 1 by recursive doubling (its default, 1 MiB, for two ranks).
      { smallMessageBytes: SMALL, timeoutMs: GROUP_TIMEOUT_MS, ...(process.env.WEFT_RANK === "0" ? { fastMessageBytes: 32 << 10 } : {}) }
    : { smallMessageBytes: SMALL, segmentBytes: 64 << 10, timeoutMs: GROUP_TIMEOUT_MS, shmChunkBytes: 4096 },
);
const { rank, worldSize: w } = pg;
const shm = pg.transport === "shared-memory";
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, transport: pg.transport, ...o })}\n`);
const hash = (a: Float32Array): string => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex").slice(0, 16);

/** Names under /dev/shm that this process has mapped (from /proc/self/maps; " (deleted)" once unlinked). */
function mappedShmSegments(): string[] {
  const names = readFileSync("/proc/self/maps", "utf8").split("\n").flatMap((l) => /\/dev\/shm\/(\S+)/.exec(l)?.[1] ?? []);
  return [...new Set(names)];
}

function shared(a: Float32Array): Float32Array {
  const s = sharedFloat32Array(a.length);
  s.set(a);
  return s;
}

const reportError = (what: string, p: Promise<unknown>, t0?: number): Promise<void> => report(out, what, p, t0);

switch (scenario) {
  case "allreduce": {
    for (const count of [1, 3, 17, 64, 1000003]) {
      const inputs = orderSensitiveInputs(w, count, count);
      for (const avg of [false, true]) {
        // Half the sizes use ordinary (non-shared) arrays, which the comm thread sees as copies.
        const buf = count % 2 ? shared(inputs[rank]!) : Float32Array.from(inputs[rank]!);
        await pg.allReduce(buf, { op: avg ? "avg" : "sum" });
        const ring = count * 4 > SMALL && count >= w;
        const expected = shm ? rankOrderReference(inputs, avg) : ring ? ringReference(inputs, avg) : recursiveDoublingReference(inputs, avg);
        out({ check: `allreduce ${count} ${avg ? "avg" : "sum"}`, ok: bitwiseEqual(buf, expected), hash: hash(buf) });
      }
    }
    // The shared-memory segments this process has mapped, whatever their names: the unlink test
    // checks that each is gone once the job is (and no other job's segment can be mistaken for one).
    if (shm) out({ check: "mapped", segments: mappedShmSegments() });
    break;
  }
  case "collectives": {
    const m = 1001;
    const inputs = orderSensitiveInputs(w, w * m, 11);
    const rsOut = sharedFloat32Array(m);
    await pg.reduceScatter(shared(inputs[rank]!), rsOut);
    const rsExpected = shm ? rankOrderReference(inputs, false) : ringReference(inputs, false);
    out({ check: "reduce-scatter", ok: bitwiseEqual(rsOut, rsExpected.subarray(rank * m, rank * m + m)) });

    const agIn = orderSensitiveInputs(w, 3 * m, 12);
    const agOut = sharedFloat32Array(w * 3 * m);
    await pg.allGather(shared(agIn[rank]!), agOut);
    const agExpected = new Float32Array(w * 3 * m);
    agIn.forEach((x, r) => agExpected.set(x, r * 3 * m));
    out({ check: "all-gather", ok: bitwiseEqual(agOut, agExpected) });

    const root = w - 1;
    const bc = shared(orderSensitiveInputs(w, 5000, 13)[rank]!);
    await pg.broadcast(bc, root);
    out({ check: "broadcast", ok: bitwiseEqual(bc, orderSensitiveInputs(w, 5000, 13)[root]!) });

    // Rank 0 arrives late. The test checks, across ranks, that nobody left before the last one
    // arrived: Date.now() is one clock for all processes on this machine, so the order of these
    // stamps is the order of the events, however long each rank took to get here.
    if (rank === 0) await new Promise((r) => setTimeout(r, 300));
    const arrivedMs = Date.now();
    await pg.barrier();
    out({ check: "barrier", arrivedMs, leftMs: Date.now() });

    // A ring of messages: each rank sends to rank+1 and receives from rank-1.
    const msg = Float32Array.from({ length: 3000 }, (_, i) => rank * 10000 + i);
    const got = new Float32Array(3000);
    await Promise.all([pg.send(msg, (rank + 1) % w, { tag: 7 }), pg.recv(got, (rank - 1 + w) % w, { tag: 7 })]);
    const from = (rank - 1 + w) % w;
    out({ check: "send-recv", ok: got.every((v, i) => v === from * 10000 + i) });

    // Several operations in flight at once (as DDP starts one per bucket), waited for later.
    const bufs = [1, 2, 3, 4].map((k) => sharedFloat32Array(50_000 * k).fill(rank + k));
    const works = bufs.map((b) => pg.allReduceAsync(b));
    await Promise.all(works.map((wk) => wk.wait()));
    const expect = (k: number): number => (w * (w - 1)) / 2 + w * k;
    out({ check: "async", ok: works.every((wk) => wk.isCompleted()) && bufs.every((b, i) => b.every((v) => v === expect(i + 1))) });
    break;
  }
  case "window": {
    for (const count of [200_003, 5000]) {
      const inputs = orderSensitiveInputs(w, count, 21);
      const buf = shared(inputs[rank]!);
      await pg.allReduce(buf);
      out({ check: `window ${count}`, ok: bitwiseEqual(buf, (shm ? rankOrderReference : ringReference)(inputs, false)), hash: hash(buf) });
    }
    break;
  }
  case "overlap": {
    // Rank 0 starts an all-reduce, then blocks its main thread in a synchronous loop that ends only
    // when rank 1 has finished the same all-reduce, which rank 1 announces with a file (seeing it
    // needs no event loop). Rank 1 cannot finish without rank 0's share of 16 MB passing both ways
    // through rank 0's sockets, so if the file appears while rank 0's main thread is still blocked,
    // rank 0's comm thread did that work. Events, not durations: on a loaded machine the block may
    // take any time, and only the order matters. If the comm thread does not progress, the loop
    // gives up after BLOCK_LIMIT_MS and rank 0 reports it.
    const BLOCK_LIMIT_MS = 60_000;
    const peerDone = join(process.argv[3]!, "rank-1-finished");
    const buf = sharedFloat32Array(4 << 20).fill(1);
    await pg.barrier();
    const work = pg.allReduceAsync(buf);
    if (rank === 0) {
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const t0 = Date.now();
      let peerFinishedWhileBlocked = false;
      while (Date.now() - t0 < BLOCK_LIMIT_MS) {
        if (existsSync(peerDone)) {
          peerFinishedWhileBlocked = true;
          break;
        }
        Atomics.wait(nap, 0, 0, 2); // still synchronous: the main thread sleeps, its event loop does not run
      }
      const blockedMs = Date.now() - t0;
      await work.wait();
      out({ check: "overlap", peerFinishedWhileBlocked, blockedMs, ok: buf.every((v) => v === w) });
    } else {
      await work.wait();
      writeFileSync(peerDone, "");
      out({ check: "overlap", ok: buf.every((v) => v === w) });
    }
    break;
  }
  case "wire": {
    // bf16 and f16 on the wire (Note [compressed ring]): 17 floats take the ring in one segment per
    // chunk, 300007 several (64 KiB segments hold 32768 wire elements); 3 go by recursive
    // doubling, packed too (Note [compressed recursive doubling]). f16 inputs stay below 50 so
    // that sums stay finite.
    for (const wire of ["bf16", "f16"] as Wire16[]) {
      for (const count of [3, 17, 300007]) {
        const inputs = orderSensitiveInputs(w, count, count + 31, wire === "f16" ? 5 : 8);
        for (const avg of [false, true]) {
          const buf = count % 2 ? shared(inputs[rank]!) : Float32Array.from(inputs[rank]!);
          await pg.allReduce(buf, { op: avg ? "avg" : "sum", wire });
          const ring = count * 4 > SMALL && count >= w;
          const expected = shm ? rankOrderReference(inputs, avg) : ring ? compressedRingReference(inputs, avg, wire) : recursiveDoublingReference(inputs, avg, wire);
          const errorRatio = shm ? 0 : wireErrorRatio(buf, inputs, avg, wire);
          out({ check: `wire ${wire} ${count} ${avg ? "avg" : "sum"}`, ok: bitwiseEqual(buf, expected) && errorRatio <= 1, errorRatio, hash: hash(buf) });
        }
      }
    }
    break;
  }
  case "fast": {
    // Over TCP these go by the calling thread's links (executors/fast-executor.ts): recursive
    // doubling, so the same bits as the comm thread's, and a traffic of one 16-byte header and
    // the payload per message, which no comm-thread frame has.
    const p = 2 ** Math.floor(Math.log2(w));
    const messages = rank >= p ? 1 : Math.log2(p) + (rank < w - p ? 1 : 0);
    for (const count of w === 2 ? [1, 3, 1000, 262_144] : [1, 3, 8]) {
      const inputs = orderSensitiveInputs(w, count, count + 5);
      for (const avg of [false, true]) {
        const buf = count % 2 ? shared(inputs[rank]!) : Float32Array.from(inputs[rank]!);
        const before = pg.traffic();
        await pg.allReduce(buf, { op: avg ? "avg" : "sum" });
        const after = pg.traffic();
        const frames = messages * (16 + 4 * count);
        out({
          check: `fast ${count} ${avg ? "avg" : "sum"}`, ok: bitwiseEqual(buf, recursiveDoublingReference(inputs, avg)), hash: hash(buf),
          fastFrames: after.sent - before.sent === frames && after.received - before.received === frames,
        });
      }
    }
    // A barrier, then a 2 MiB all-reduce (on the comm thread; between two ranks in halves): one
    // numbering across the paths, so the mismatch after them is the group's collective
    // #(all-reduces above + 2) on any. A ring rank can still be waiting for the 2 MiB one's last
    // piece when a rank that finished it finds the mismatch and fails the group: that rank then
    // learns the same mismatch there, so both calls report under one name.
    await pg.barrier();
    await reportError("fast numbering", pg.allReduce(sharedFloat32Array(1 << 19)).then(() => pg.allReduce(sharedFloat32Array(rank === w - 1 ? 5 : 4))));
    break;
  }
  case "halves": {
    // Two ranks, past the calling thread's 1 MiB: in halves on the fast links (Note [all-reduce in
    // halves] in native/dist/tcp-fast.h), off the calling thread. Recursive doubling's bits (between
    // two ranks, every element is a + b, as in the ring); one header and the whole buffer each way;
    // the thread goes on with other work while it runs.
    for (const count of [262_145, 1_000_001, 4 << 20]) {
      const inputs = orderSensitiveInputs(w, count, count + 7);
      for (const avg of [false, true]) {
        const buf = count % 2 ? shared(inputs[rank]!) : Float32Array.from(inputs[rank]!);
        const before = pg.traffic();
        // Timer callbacks run only while the all-reduce runs elsewhere: a call that blocked would
        // return it settled, and the await would resume before any timer.
        let ticks = 0;
        const timer = setInterval(() => ticks++, 1);
        await pg.allReduce(buf, { op: avg ? "avg" : "sum" });
        clearInterval(timer);
        const after = pg.traffic();
        const frame = 16 + 4 * count;
        out({
          check: `halves ${count} ${avg ? "avg" : "sum"}`, ok: bitwiseEqual(buf, recursiveDoublingReference(inputs, avg)), hash: hash(buf),
          fastFrames: after.sent - before.sent === frame && after.received - before.received === frame, ticks,
        });
      }
    }
    break;
  }
  case "halves-threshold":
    await reportError("halves-threshold", pg.allReduce(sharedFloat32Array(16 << 10), { timeoutMs: 2000 }));
    break;
  case "fast-cross":
    // The last rank's all-reduce is too large for the fast path, the others' are not.
    await reportError("fast-cross", pg.allReduce(sharedFloat32Array(rank === w - 1 ? 1 << 19 : 3), { timeoutMs: 2000 }));
    break;
  case "wire-mismatch":
    await reportError("wire-mismatch", pg.allReduce(sharedFloat32Array(1000), { wire: rank === w - 1 ? "f16" : "bf16" }));
    break;
  case "mismatch":
    await reportError("mismatch", pg.allReduce(sharedFloat32Array(rank === w - 1 ? 999 : 1000)));
    break;
  case "kill":
  case "freeze": {
    await pg.barrier();
    if (rank === w - 1) process.kill(process.pid, scenario === "kill" ? "SIGKILL" : "SIGSTOP");
    // Timed from before the call: through shared memory the call itself blocks until the outcome.
    // Through shared memory a freeze is found by the deadline, so the deadline is what that test
    // measures; over TCP it is found by the links' silence (1 s, transport/link-watch.ts), well
    // before it. A kill is found by the lost peer, and its long deadline lets the test tell the
    // two apart on a loaded machine (an outcome well before KILL_DEADLINE_MS cannot have been the
    // deadline).
    const t0 = performance.now();
    const timeoutMs = scenario === "kill" ? KILL_DEADLINE_MS : FREEZE_DEADLINE_MS;
    // "big": 16 MiB, which two ranks run in halves off the calling thread (the others on the comm thread).
    const floats = process.argv[3] === "big" ? 4 << 20 : 100_000;
    await reportError(scenario, pg.allReduce(sharedFloat32Array(floats), { timeoutMs }), t0);
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
