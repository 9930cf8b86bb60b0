// A rank of the receive-any tests between processes (test/distributed/recv-any.test.ts), 3 ranks.
// Prints JSON lines {"check":name,"ok":bool,"transport":...} or {"check":name,"error":class,...}.
//   server: rank 0 is a parameter server: it takes a gradient from whichever of ranks 1 and 2
//           sends first and replies to that rank; rank 2 sends at a slower pace than rank 1;
//   race:   ranks 1 and 2 both send rank 0 a message of several segments, received with two
//           receive-anys posted after both messages are waiting (10 segments each), then posted
//           before either is sent (~200 segments each, so the senders' frames interleave); then a
//           receive-any that nobody answers, to its deadline.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import type { CollectiveError } from "../../../src/distributed/base/errors.js";

const scenario = process.argv[2];
const pg = await initProcessGroup({ segmentBytes: 4096, timeoutMs: 20_000, shmChunkBytes: 4096 });
const { rank } = pg;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, transport: pg.transport, ...o })}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

switch (scenario) {
  case "server": {
    const K = 20;
    const n = 3000; // 3 segments of 4096 bytes
    if (rank === 0) {
      const grad = sharedFloat32Array(n);
      const params = sharedFloat32Array(n);
      const next = [0, 0, 0];
      let ok = true;
      const sources: number[] = [];
      for (let i = 0; i < 2 * K; i++) {
        const { source } = await pg.recvAny(grad, { tag: 1 });
        sources.push(source);
        // Whole from `source`, and that sender's gradients in the order it sent them.
        ok &&= grad.every((v, j) => v === source * 1000 + next[source]! + j);
        next[source]!++;
        for (let j = 0; j < n; j++) params[j]! += grad[j]!;
        await pg.send(params, source, { tag: 2 });
      }
      out({ check: "server", ok: ok && next[1] === K && next[2] === K, sources: sources.join("") });
    } else {
      const reply = sharedFloat32Array(n);
      let last = -1;
      let ok = true;
      for (let k = 0; k < K; k++) {
        if (rank === 2) await sleep(10);
        await pg.send(sharedFloat32Array(n).map((_, j) => rank * 1000 + k + j), 0, { tag: 1 });
        await pg.recv(reply, 0, { tag: 2 });
        ok &&= reply[0]! > last;
        last = reply[0]!;
      }
      out({ check: "server", ok });
    }
    // A rank that leaves is a lost peer to the others (their group fails): rank 1, done first,
    // waits here while rank 0 still serves rank 2.
    await pg.barrier();
    break;
  }
  case "race": {
    // The two orders are set up through a second group over the same ranks, not by sleeping
    // (under load a sleep can turn one order into the other). It has sockets of its own, so its
    // barrier does not wait behind frames held unread on this group's links (Note [hold, don't
    // buffer] in wire/frame-reader.ts), and an engine of its own, so it runs while a receive-any
    // is pending here (a group runs its operations one at a time).
    const side = (await pg.newGroup([0, 1, 2]))!;
    const message = (n: number): Float32Array => sharedFloat32Array(n).map((_, j) => rank * 1e6 + (j % 1000));
    const check = (when: string, bufs: Float32Array[], got: number[]): void => {
      const whole = bufs.every((b, i) => b.every((v, j) => v === got[i]! * 1e6 + (j % 1000)));
      out({ check: `race posted ${when}`, ok: whole && [...got].sort().join() === "1,2", got });
    };
    {
      // Posted after: each sender's send completes (every frame handed to the kernel), then it
      // meets rank 0 in the side barrier; on loopback what was handed to the kernel is delivered
      // before anything written after it, so when rank 0 posts, both messages are in its sockets.
      // 10 segments (~40 KB) fit in what loopback TCP buffers while rank 0 does not read; a
      // message of 200 would wait for rank 0's receive and never reach the barrier.
      const n = 10_003;
      if (rank === 0) {
        await side.barrier();
        const bufs = [sharedFloat32Array(n), sharedFloat32Array(n)];
        const got = [(await pg.recvAny(bufs[0]!)).source, (await pg.recvAny(bufs[1]!)).source];
        check("after", bufs, got);
      } else {
        await pg.send(message(n), 0);
        await side.barrier();
      }
    }
    {
      // Posted before: rank 0 posts its first receive-any, then releases the senders through the
      // side barrier; they start only once it is done, so their frames of ~200 segments each come
      // to a receive already posted, interleaved frame by frame.
      const n = 200_003;
      if (rank === 0) {
        const bufs = [sharedFloat32Array(n), sharedFloat32Array(n)];
        const first = pg.recvAnyAsync(bufs[0]!);
        await side.barrier();
        const got = [(await first.wait()).source, (await pg.recvAny(bufs[1]!)).source];
        check("before", bufs, got);
      } else {
        await side.barrier();
        await pg.send(message(n), 0);
      }
    }
    await side.destroy();
    await pg.barrier();
    const t0 = performance.now();
    try {
      // Rank 0 waits for a message nobody sends; the others wait for rank 0, whose failure reaches them.
      await (rank === 0 ? pg.recvAny(sharedFloat32Array(8), { tag: 9, timeoutMs: 300 }) : pg.barrier({ timeoutMs: 10_000 }));
      if (rank === 0) out({ check: "timeout", error: null });
    } catch (err) {
      const e = err as CollectiveError;
      if (rank === 0) out({ check: "timeout", error: e.constructor.name, message: e.message, ranks: e.ranks, ms: Math.round(performance.now() - t0) });
    }
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
