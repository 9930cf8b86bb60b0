// Liveness of a group's links (src/distributed/transport/link-watch.ts): heartbeats on the comm
// thread, so that a frozen (SIGSTOP) or cut-off rank is the one named, never a live neighbour
// waiting on it. First the link watch on real sockets in this process, then the engine's rules
// in-process (hub.freeze), the options, and last real processes over TCP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TcpTransport } from "../../src/distributed/transport/tcp-transport.js";
import { checkHeartbeat, type HeartbeatOptions } from "../../src/distributed/transport/link-watch.js";
import type { PeerLoss, TransportHandlers } from "../../src/distributed/transport/transport.js";
import { InProcessHub } from "../../src/distributed/transport/in-process-transport.js";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { createTcpProcessGroup } from "../../src/distributed/group/tcp-group.js";
import { initProcessGroup } from "../../src/distributed/group/init.js";
import { PeerLostError, StoreTimeoutError } from "../../src/distributed/base/errors.js";
import { TrafficCounter } from "../../src/distributed/base/traffic-counter.js";
import { DEFAULT_FRAME_LIMITS, FRAME_HEADER_BYTES, FrameType, type FrameType as FrameTypeT } from "../../src/distributed/wire/frame.js";
import type { Traffic } from "../../src/distributed/base/traffic-counter.js";
import { HOLD_FRAME, type FrameSink } from "../../src/distributed/wire/frame-reader.js";
import { generateSecret, secretKey } from "../../src/distributed/wire/secret.js";
import type { AddressBook } from "../../src/distributed/rendezvous/address-book.js";
import { runFreeze } from "./helpers/freeze-run.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { assertRanksExitedCleanly, checks } from "./helpers/rank-checks.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the link watch, on real sockets in this process --------------------------------------------

/** An address book in memory, for transports made in one process. */
function memoryBook(): AddressBook {
  const addresses = new Map<number, string>();
  return {
    publish: async (rank, address) => void addresses.set(rank, address),
    lookup: async (rank, timeoutMs) => {
      const end = Date.now() + timeoutMs;
      while (!addresses.has(rank)) {
        if (Date.now() > end) throw new StoreTimeoutError(`rank ${rank} published no address`);
        await sleep(5);
      }
      return addresses.get(rank)!;
    },
  };
}

/** Handlers that record what reaches the engine; `hold` makes Data frames wait (Note [hold, don't buffer]). */
class Recorder implements TransportHandlers {
  readonly frames: { peer: number; type: FrameTypeT }[] = [];
  readonly lost: { peer: number; reason: string; how: PeerLoss }[] = [];
  hold = false;
  resume: () => void = () => {};

  sinkFor(peer: number): FrameSink {
    return {
      destinationFor: (h) => (this.hold && h.type === FrameType.Data ? HOLD_FRAME : undefined),
      onFrame: (h) => void this.frames.push({ peer, type: h.type }),
      attachResume: (resume) => (this.resume = resume),
    };
  }

  onPeerLost(peer: number, reason: string, how: PeerLoss): void {
    this.lost.push({ peer, reason, how });
  }
}

async function mesh(heartbeats: HeartbeatOptions[]): Promise<{ transports: TcpTransport[]; recorders: Recorder[]; counters: TrafficCounter[] }> {
  const addresses = memoryBook();
  const secret = secretKey(generateSecret());
  const recorders = heartbeats.map(() => new Recorder());
  const counters = heartbeats.map(() => new TrafficCounter());
  const transports = await Promise.all(heartbeats.map((heartbeat, rank) => TcpTransport.create({
    rank, worldSize: heartbeats.length, secret, addresses, groupName: "heartbeat-test", listenHost: "127.0.0.1",
    connectTimeoutMs: 30_000, handshakeTimeoutMs: 10_000, limits: DEFAULT_FRAME_LIMITS, handlers: recorders[rank]!,
    log: () => {}, heartbeat, traffic: counters[rank],
  })));
  return { transports, recorders, counters };
}

const FAST: HeartbeatOptions = { intervalMs: 10, silenceMs: 300 };
/** A rank that never heartbeats within a test: its first heartbeat is a minute away. */
const MUTE: HeartbeatOptions = { intervalMs: 60_000, silenceMs: 120_000 };

test("heartbeats keep idle links alive, never reach the engine, and are not counted as traffic", async () => {
  const { transports, recorders, counters } = await mesh([FAST, FAST, FAST]);
  try {
    const before = counters.map((c) => c.read());
    // Twice the silence limit with nothing but heartbeats (a hundred per link): had they not
    // arrived, every rank would have named both peers silent by now.
    await sleep(2 * FAST.silenceMs);
    assert.deepEqual(recorders.map((r) => r.lost), [[], [], []]);
    assert.deepEqual(recorders.map((r) => r.frames), [[], [], []], "the engine saw no frame");
    assert.deepEqual(counters.map((c) => c.read()), before, "heartbeats are not traffic");
  } finally {
    for (const t of transports) t.close();
  }
});

test("a peer that sends nothing is named silent after silenceMs, and finds its links closed", async () => {
  const { transports, recorders } = await mesh([FAST, MUTE]);
  try {
    const t0 = performance.now();
    while (recorders[0]!.lost.length === 0 && performance.now() - t0 < 10_000) await sleep(5);
    const ms = performance.now() - t0;
    assert.equal(recorders[0]!.lost.length, 1);
    const [loss] = recorders[0]!.lost;
    assert.equal(loss!.peer, 1);
    assert.equal(loss!.how, "silent");
    assert.match(loss!.reason, /^silent for \d+ ms: no frames or heartbeats came on its link \(its process is stopped or hung, or the network between us is cut\)$/);
    assert.ok(ms < 5000, `named after ${Math.round(ms)} ms`);
    // Rank 1 was only quiet, not gone: the link it reads from was closed under it.
    while (recorders[1]!.lost.length === 0 && performance.now() - t0 < 10_000) await sleep(5);
    assert.deepEqual(recorders[1]!.lost.map((l) => [l.peer, l.how]), [[0, "closed"]]);
  } finally {
    for (const t of transports) t.close();
  }
});

test("a link held on a frame that has no place yet is not silence (its heartbeats wait behind the frame)", async () => {
  const { transports, recorders } = await mesh([FAST, FAST]);
  try {
    recorders[0]!.hold = true;
    const payload = new Uint8Array(256 << 10);
    transports[1]!.send(0, { type: FrameType.Data, flags: 0, seq: 0, tag: 0, aux0: 0, aux1: 0, aux2: 0 }, payload);
    await sleep(3 * FAST.silenceMs);
    assert.deepEqual(recorders[0]!.frames, [], "the frame is held");
    recorders[0]!.hold = false;
    recorders[0]!.resume();
    await sleep(FAST.silenceMs);
    assert.deepEqual(recorders[0]!.frames, [{ peer: 1, type: FrameType.Data }]);
    assert.deepEqual(recorders.map((r) => r.lost), [[], []]);
  } finally {
    for (const t of transports) t.close();
  }
});

test("a listener whose own thread stalled does not blame its peers for the bytes it did not read", async () => {
  const { transports, recorders } = await mesh([FAST, FAST]);
  try {
    // This whole thread sleeps (as a stopped process would): nothing is read or sent meanwhile,
    // and after it timers run before the reads of what arrived.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4 * FAST.silenceMs);
    await sleep(2 * FAST.silenceMs);
    assert.deepEqual(recorders.map((r) => r.lost), [[], []]);
  } finally {
    for (const t of transports) t.close();
  }
});

// ---- the engine's rules, in-process -------------------------------------------------------------

test("in-process: a rank frozen during an all-reduce is named by every live rank, PeerLostError with ranks [frozen]", async () => {
  const hub = new InProcessHub(3);
  const groups = createInProcessGroups(3, { hub, timeoutMs: 60_000 });
  const live = [0, 1].map((r) => groups[r]!.allReduce(new Float32Array(1000)).then(() => null, (e: unknown) => e));
  void groups[2]!.allReduce(new Float32Array(1000)).catch(() => {});
  // One round of frame deliveries (each goes through setImmediate): the ring's 4 rounds cannot all
  // have run, so rank 2 freezes inside the all-reduce. A timer (sleep(0)) could let a loaded
  // machine finish it first.
  await new Promise((resolve) => setImmediate(resolve));
  hub.freeze(2);
  for (const err of await Promise.all(live)) {
    assert.ok(err instanceof PeerLostError, String(err));
    assert.deepEqual(err.ranks, [2]);
    assert.match(err.message, /all-reduce #0: lost the connection to rank 2 \(silent for 1000 ms: .*\); check that its process is running \(not stopped by SIGSTOP/);
  }
  await Promise.all(groups.map((g) => g.destroy()));
});

test("in-process: a rank told by a peer's Abort names the frozen rank, not the peer that told it", async () => {
  const hub = new InProcessHub(3);
  const groups = createInProcessGroups(3, { hub, timeoutMs: 60_000 });
  const live = [0, 1].map((r) => groups[r]!.allReduce(new Float32Array(1000)).then(() => null, (e: unknown) => e));
  await sleep(0);
  hub.freeze(2, undefined, [0]); // rank 2 never arrived; only rank 0 notices, rank 1 learns from it
  const [direct, told] = await Promise.all(live);
  assert.ok(direct instanceof PeerLostError && told instanceof PeerLostError, `${String(direct)} / ${String(told)}`);
  assert.deepEqual(direct.ranks, [2]);
  assert.deepEqual(told.ranks, [2]);
  assert.match(told.message, /^rank 0 reported: all-reduce #0: lost the connection to rank 2 \(silent/);
  await Promise.all(groups.map((g) => g.destroy()));
});

test("in-process: a silence while no operation runs fails the next one at once with the same error", async () => {
  const hub = new InProcessHub(3);
  const groups = createInProcessGroups(3, { hub, timeoutMs: 60_000 });
  await Promise.all(groups.map((g) => g.barrier()));
  hub.freeze(2, undefined, [0]);
  const t0 = performance.now();
  // Rank 0 refuses at once and tells rank 1, which would otherwise wait for rank 2 until its deadline.
  const errs = await Promise.all([0, 1].map((r) => groups[r]!.allReduce(new Float32Array(10)).then(() => null, (e: unknown) => e)));
  assert.ok(performance.now() - t0 < 5000);
  for (const err of errs) {
    assert.ok(err instanceof PeerLostError, String(err));
    assert.deepEqual(err.ranks, [2]);
  }
  assert.match((errs[0] as Error).message, /^all-reduce not started: the group failed earlier and must be re-formed \(the process group: lost the connection to rank 2 \(silent/);
  await Promise.all(groups.map((g) => g.destroy()));
});

test("in-process: a subgroup names the frozen rank by its job rank", async () => {
  const hub = new InProcessHub(4);
  const groups = createInProcessGroups(4, { hub, timeoutMs: 60_000 });
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 3])));
  const waiting = subs[1]!.allReduce(new Float32Array(10)).then(() => null, (e: unknown) => e);
  await sleep(0);
  hub.freeze(3);
  const err = await waiting;
  assert.ok(err instanceof PeerLostError, String(err));
  assert.deepEqual(err.ranks, [3]);
  assert.match(err.message, /^all-reduce #0 in group \[1, 3\]: lost the connection to rank 3 \(silent/);
  await Promise.all(groups.map((g) => g.destroy()));
});

// ---- options ------------------------------------------------------------------------------------

test("heartbeat options: intervalMs >= 1 and silenceMs >= 2 × intervalMs, else a RangeError naming both", async () => {
  checkHeartbeat({ intervalMs: 100, silenceMs: 200 });
  for (const bad of [{ intervalMs: 0, silenceMs: 1000 }, { intervalMs: 100, silenceMs: 150 }, { intervalMs: Number.NaN, silenceMs: 1000 }]) {
    assert.throws(() => checkHeartbeat(bad), (e: unknown) => e instanceof RangeError && /intervalMs .* and silenceMs .* do not work together; pass intervalMs >= 1 and silenceMs >= 2 × intervalMs/.test(e.message));
  }
  // Checked before anything starts (no store is listening on port 1).
  const options = { rank: 0, worldSize: 2, secret: "x".repeat(16), storeHost: "127.0.0.1", storePort: 1, heartbeat: { intervalMs: 500, silenceMs: 600 } };
  await assert.rejects(createTcpProcessGroup(options), /createTcpProcessGroup heartbeat: intervalMs 500 and silenceMs 600/);
  const env = { WEFT_RANK: "0", WEFT_WORLD_SIZE: "2", WEFT_MASTER_ADDR: "127.0.0.1", WEFT_MASTER_PORT: "1", WEFT_JOB_SECRET: "x".repeat(16) };
  await assert.rejects(initProcessGroup({ env: { ...env, WEFT_HEARTBEAT_MS: "600" } }), /WEFT_HEARTBEAT_MS \/ WEFT_SILENCE_MS: intervalMs 600 and silenceMs 1000/);
  await assert.rejects(initProcessGroup({ env: { ...env, WEFT_SILENCE_MS: "soon" } }), /WEFT_SILENCE_MS=soon is not a positive number of milliseconds/);
});

// ---- between processes over TCP -----------------------------------------------------------------

for (const frozen of [0, 1, 2]) {
  test(`TCP, 16 MiB all-reduces: rank ${frozen} stopped (SIGSTOP) is named by both live ranks, PeerLostError [${frozen}]; continued, it fails too`, async () => {
    const run = await runFreeze({ worldSize: 3, frozen, floats: 4 << 20 });
    assert.equal(run.live.length, 2);
    for (const row of run.live) {
      const detail = JSON.stringify(row);
      assert.equal(row.error, "PeerLostError", detail);
      assert.deepEqual(row.ranks, [frozen], detail);
      // Seen directly, told by the other live rank's Abort, or refused after either.
      assert.match(row.message, new RegExp(`lost the connection to rank ${frozen} \\(silent for \\d+ ms`), detail);
      // About a second (the silence limit) plus a tick; 10 s keeps a loaded 2-core machine from failing it.
      const ms = row.atMs - run.stoppedAtMs;
      assert.ok(ms >= 0 && ms < 10_000, `rank ${row.rank} named rank ${frozen} ${ms} ms after it stopped`);
    }
    // The woken rank finds its peers' links closed (or their Abort frames): a typed error, soon.
    const woken = run.woken;
    assert.ok(woken, `rank ${frozen} reported nothing once continued:\n${run.results[frozen]!.stderr}`);
    assert.ok(woken.error === "PeerLostError" || woken.error === "CollectiveError", JSON.stringify(woken));
    assert.ok(woken.atMs - run.continuedAtMs < 10_000, `rank ${frozen} failed ${woken.atMs - run.continuedAtMs} ms after it was continued`);
    assertRanksExitedCleanly(run.results);
  });
}

test("TCP: a rank whose main thread computes for 3 s between collectives keeps its place (its comm thread heartbeats), and idle heartbeats are not traffic", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "heartbeat-worker.js", args: ["busy"] }));
  const busy = by.get("busy")!;
  assert.equal(busy.length, 3);
  for (const row of busy) {
    assert.equal(row.error, null, JSON.stringify(row));
    assert.equal(row.ok, true, JSON.stringify(row));
    assert.equal(row.transport, "tcp");
  }
  // The others waited for rank 1 through the whole busy spell, three times the silence limit.
  for (const row of busy.filter((r) => r.rank !== 1)) assert.ok((row.ms as number) >= 2000, JSON.stringify(row));
  const idle = by.get("idle-traffic")!;
  assert.equal(idle.length, 3);
  // Counted, a second of 10 ms heartbeats would be some 200 frames each way (6400 bytes); what may
  // come is the next barrier's descriptor from each peer whose second ended first (32 bytes each).
  for (const row of idle) {
    const [before, after] = [row.before as Traffic, row.idle as Traffic];
    assert.equal(after.sent, before.sent, `rank ${row.rank} counted heartbeats it sent`);
    assert.ok(after.received - before.received <= 2 * FRAME_HEADER_BYTES, `rank ${row.rank} counted ${after.received - before.received} bytes received in an idle second`);
  }
});
