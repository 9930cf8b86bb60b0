// A rank of the traffic tests between processes (test/distributed/group/traffic.test.ts). Runs one
// scenario and prints JSON lines {"check":name,"transport":...,...byte counts}; the test holds the
// counts against the ring's payload, the shared-memory formula and each other.
//   allreduce: one float32 and one bf16 all-reduce of ALLREDUCE_FLOATS_PER_RANK × worldSize floats;
//   p2p:       rank 0 sends P2P_FLOATS to rank 1, then a barrier, then each rank's totals;
//   subgroup:  the parent's totals around a subgroup of both ranks, live and destroyed;
//   shm:       each collective through shared memory, and a send that takes the TCP links.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import type { Traffic } from "../../../src/distributed/group/process-group.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";

// Sizes are reported with the counts, so the test computes its bounds from what ran.
const SEGMENT_BYTES = 16384;
/** 48 KiB per rank: three segments per ring chunk. */
const ALLREDUCE_FLOATS_PER_RANK = 12288;
/** Three P2P frames of SEGMENT_BYTES or less. */
const P2P_FLOATS = 10_000;
/** Floats of each shared-memory collective (several 4 KiB chunks). */
const SHM_FLOATS = 3000;

const scenario = process.argv[2];
const pg = await initProcessGroup({ smallMessageBytes: 4096, segmentBytes: SEGMENT_BYTES, timeoutMs: 60_000, shmChunkBytes: 4096 });
const { rank, worldSize: w } = pg;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, transport: pg.transport, ...o })}\n`);
const minus = (b: Traffic, a: Traffic): Traffic => ({ sent: b.sent - a.sent, received: b.received - a.received });

/**
 * The bytes of `op` on this rank. The barrier between the first reading and `op` makes every
 * peer's frames of `op` arrive after that reading (a peer starts `op` only once we have read);
 * the readings may also take in the descriptors of the two barriers next to `op` ((w-1) frames
 * each way for each barrier), and nothing else.
 */
async function measured(op: () => Promise<unknown>): Promise<Traffic> {
  await pg.barrier();
  const before = pg.traffic();
  await pg.barrier();
  await op();
  const after = pg.traffic();
  await pg.barrier();
  return minus(after, before);
}

switch (scenario) {
  case "allreduce": {
    const buf = sharedFloat32Array(ALLREDUCE_FLOATS_PER_RANK * w).fill(rank);
    const f32 = await measured(() => pg.allReduce(buf));
    const bf16 = await measured(() => pg.allReduce(buf, { wire: "bf16" }));
    const once = (w * (w - 1)) / 2; // the sum of the ranks; the second all-reduce sums w copies of it
    out({ check: "allreduce", worldSize: w, floats: buf.length, segmentBytes: SEGMENT_BYTES, ok: buf.every((v) => v === w * once), f32, bf16 });
    break;
  }
  case "p2p": {
    const buf = sharedFloat32Array(P2P_FLOATS).fill(7);
    if (rank === 0) await pg.send(buf, 1);
    if (rank === 1) await pg.recv(buf.fill(0), 0);
    // After the last barrier nothing more is sent, and each rank has what the other sent it.
    await pg.barrier();
    out({ check: "p2p", floats: P2P_FLOATS, segmentBytes: SEGMENT_BYTES, ok: buf.every((v) => v === 7), total: pg.traffic() });
    break;
  }
  case "subgroup": {
    const before = pg.traffic();
    const sub = (await pg.newGroup([0, 1]))!;
    const buf = sharedFloat32Array(ALLREDUCE_FLOATS_PER_RANK * 2).fill(rank + 1);
    await sub.allReduce(buf);
    await sub.barrier(); // the subgroup's links are quiet after it (its peer sends nothing more)
    const live = { parent: minus(pg.traffic(), before), sub: sub.traffic() };
    await sub.destroy();
    const destroyed = { parent: minus(pg.traffic(), before), sub: sub.traffic() };
    out({ check: "subgroup", ok: buf.every((v) => v === 3), subTransport: sub.transport, floats: buf.length, live, destroyed });
    break;
  }
  case "shm": {
    // Shared-memory collectives and barriers run inline with the TCP links idle, so these counts
    // are exact. Rank-dependent inputs; the sums are not what is checked here.
    const n = SHM_FLOATS;
    const a = sharedFloat32Array(n).fill(rank);
    const big = sharedFloat32Array(n * w).fill(rank);
    const gathered = sharedFloat32Array(n * w);
    const counts = {
      allReduce: await measured(() => pg.allReduce(a)),
      reduceScatter: await measured(() => pg.reduceScatter(big, a)),
      allGather: await measured(() => pg.allGather(a, gathered)),
      broadcast: await measured(() => pg.broadcast(a, 1)),
      barrier: await measured(() => pg.barrier()),
      send: await measured(() => (rank === 0 ? pg.send(a, 1) : rank === 1 ? pg.recv(a, 0) : Promise.resolve())),
    };
    out({ check: "shm", worldSize: w, floats: n, segmentBytes: SEGMENT_BYTES, ok: true, ...counts });
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
