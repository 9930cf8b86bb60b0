// A rank of the collective tests between processes (spawned by test/distributed/collectives-tcp.test.ts
// and, with WEFT_LOCAL_WORLD_SIZE set so that collectives go through shared memory, by
// collectives-shm.test.ts). Runs one scenario and prints JSON lines: {"check":name,"ok":bool,
// "transport":...} or {"error":class,...}.
import { createHash } from "node:crypto";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import { CollectiveError } from "../../../src/distributed/base/errors.js";
import {
  bitwiseEqual, compressedRingReference, orderSensitiveInputs, rankOrderReference, recursiveDoublingReference, ringReference, wireErrorRatio,
} from "../helpers/reference-sum.js";
import type { Wire16 } from "../helpers/wire-rounding.js";

const scenario = process.argv[2];
const SMALL = 32; // smallMessageBytes used by these tests: 1 and 3 floats go by recursive doubling, 17 and up by the ring
// "window": tiny segments and a 4-segment staging window, so most reduce-scatter segments arrive
// before their receive is posted and must wait in the socket.
const pg = await initProcessGroup(
  scenario === "window"
    ? { smallMessageBytes: SMALL, segmentBytes: 4096, stagingBytes: 16384, timeoutMs: 10_000, shmChunkBytes: 4096 }
    : { smallMessageBytes: SMALL, segmentBytes: 64 << 10, timeoutMs: 10_000, shmChunkBytes: 4096 },
);
const { rank, worldSize: w } = pg;
const shm = pg.transport === "shared-memory";
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, transport: pg.transport, ...o })}\n`);
const hash = (a: Float32Array): string => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex").slice(0, 16);

function shared(a: Float32Array): Float32Array {
  const s = sharedFloat32Array(a.length);
  s.set(a);
  return s;
}

async function reportError(what: string, p: Promise<unknown>, t0 = performance.now()): Promise<void> {
  try {
    await p;
    out({ check: what, error: null });
  } catch (err) {
    const e = err as CollectiveError;
    out({ check: what, error: e.constructor.name, message: e.message, ranks: e.ranks, seq: e.seq, op: e.op, ms: Math.round(performance.now() - t0) });
  }
}

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

    const t0 = Date.now();
    if (rank === 0) await new Promise((r) => setTimeout(r, 300));
    await pg.barrier();
    out({ check: "barrier", ok: Date.now() - t0 >= 250 });

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
    // Rank 0 blocks its main thread for a second right after starting an all-reduce; its comm
    // thread keeps the sockets going, so rank 1 finishes long before rank 0's main thread is free.
    const buf = sharedFloat32Array(4 << 20).fill(1);
    await pg.barrier();
    const t0 = performance.now();
    const work = pg.allReduceAsync(buf);
    if (rank === 0) {
      const until = Date.now() + 1000;
      while (Date.now() < until) {
        // a long synchronous kernel
      }
    }
    await work.wait();
    out({ check: "overlap", ms: Math.round(performance.now() - t0), ok: buf.every((v) => v === w) });
    break;
  }
  case "wire": {
    // bf16 and f16 on the wire (Note [compressed ring]): 17 floats take the ring in one segment per
    // chunk, 300007 several (64 KiB segments hold 32768 wire elements); 3 go by recursive
    // doubling, which stays float32. f16 inputs stay below 50 so that sums stay finite.
    for (const wire of ["bf16", "f16"] as Wire16[]) {
      for (const count of [3, 17, 300007]) {
        const inputs = orderSensitiveInputs(w, count, count + 31, wire === "f16" ? 5 : 8);
        for (const avg of [false, true]) {
          const buf = count % 2 ? shared(inputs[rank]!) : Float32Array.from(inputs[rank]!);
          await pg.allReduce(buf, { op: avg ? "avg" : "sum", wire });
          const ring = count * 4 > SMALL && count >= w;
          const expected = shm ? rankOrderReference(inputs, avg) : ring ? compressedRingReference(inputs, avg, wire) : recursiveDoublingReference(inputs, avg);
          const errorRatio = ring && !shm ? wireErrorRatio(buf, inputs, avg, wire) : 0;
          out({ check: `wire ${wire} ${count} ${avg ? "avg" : "sum"}`, ok: bitwiseEqual(buf, expected) && errorRatio <= 1, errorRatio, hash: hash(buf) });
        }
      }
    }
    break;
  }
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
    const t0 = performance.now();
    await reportError(scenario, pg.allReduce(sharedFloat32Array(100_000), { timeoutMs: 1500 }), t0);
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
