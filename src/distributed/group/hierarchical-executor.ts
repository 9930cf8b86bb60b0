// Where a hierarchical group's operations run (hierarchical-group.ts builds it): an all-reduce
// goes through the machine's shared memory and, for one rank per machine (its leader), over TCP
// between machines; every other operation runs on the job's flat TCP group, where a hierarchy
// would not pay (broadcast, all-gather and reduce-scatter already send each byte across a
// machine's link about once) or cannot apply (send and recv).
//
// One all-reduce, step by step, on a machine whose ranks are m0 (the leader), m1, ...:
//  1. every rank of the machine sums the buffers through shared memory, in local-rank order
//     ((x_m0 + x_m1) + ...), which leaves the machine's sum on each of them (Note [shm chunk
//     protocol] in native/dist/shm-group.h);
//  2. the leaders all-reduce their machines' sums over TCP, as a flat group of one rank per
//     machine does (ring, or recursive doubling for small messages; the wire type applies here);
//     for "avg" the leader then divides by the job's world size;
//  3. the leader tells each rank of its machine, by a message over the machine's TCP links, that
//     the result is ready, and broadcasts it through shared memory.
// The message of step 3 is what keeps the other ranks of a machine off the shared memory while
// the leader works between machines: a rank waiting in shared memory blocks its thread (its
// backward pass would stop), and nothing but the leader's arrival could wake it if the leader's
// step 2 failed. Waiting for a message, it stays free, and the leader's failure reaches it.
//
// Note [hierarchical failures]: a rank that fails a step aborts the machine's group and the
// leaders' group (the other ranks waiting there fail at once instead of at their deadline), and
// then takes part in one barrier on the job's flat group, the roll call. Every rank has a link of
// its own to every other rank there, with heartbeats: if a rank was lost, the roll call fails on
// every survivor with the PeerLostError naming it (or the CollectiveTimeoutError naming who never
// came), and every survivor reports that error's kind and ranks, whichever level it failed in
// and however it heard. When nobody was lost (ranks called different collectives, or one aborted
// the group) the roll call completes, and each rank reports its own error. The group stays
// failed afterwards (Note [a failed group stays failed] in collectives/engine.ts).
import {
  CollectiveError, CollectiveTimeoutError, GroupAbortedError, PeerLostError, ranksText, withMessage, type CollectiveErrorDetails,
} from "../base/errors.js";
import { divideInPlace } from "../base/reduce.js";
import type { Traffic } from "../base/traffic-counter.js";
import { OP_DISPLAY_NAMES, type OpRequest, type OpResult, type WaitsOut } from "../collectives/ops.js";
import { validateRequest } from "../collectives/request.js";
import type { OpExecutor } from "../executors/op-executor.js";
import type { ProcessGroup } from "./process-group.js";

export interface HierarchyParts {
  /** Every rank of the job over TCP: the other collectives, send/recv, and the roll call. */
  world: ProcessGroup;
  /** The ranks of this machine, through shared memory; its rank 0 is the leader. */
  machine: ProcessGroup;
  /** The leader of every machine over TCP (group rank m: machine m); null on the other ranks. */
  leaders: ProcessGroup | null;
  /** This machine's index (its place in `machines`). */
  machineIndex: number;
  /** The job ranks of each machine, in local-rank order. */
  machines: readonly (readonly number[])[];
  /** Default deadline of an operation, ms. */
  timeoutMs: number;
}

type AllReduceRequest = Extract<OpRequest, { op: "allReduce" }>;

/** A step of the all-reduce, for messages. */
type Step = "machine" | "between" | "leader" | "broadcast";

/** The message of step 3: it carries nothing but its arrival. */
const READY = new Float32Array(0);

export class HierarchicalExecutor implements OpExecutor {
  /** The next collective's number, as the group counts them (Note [flight sequence numbers]). */
  private seq = 0;
  private inFlight = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private broken: CollectiveError | undefined;
  private closed = false;

  constructor(
    /** This process's job rank. */
    private readonly rank: number,
    private readonly worldSize: number,
    private readonly parts: HierarchyParts,
  ) {}

  submit(req: OpRequest, waitedMs?: WaitsOut): Promise<OpResult> {
    // The parts record their own waits (group/flight-recorder.ts), which count once there.
    waitedMs?.fill(0);
    const start = (): Promise<OpResult> => this.run(req);
    // Operations run one at a time in submission order, across the parts as within each.
    const started = this.inFlight === 0 ? start() : this.tail.then(start, start);
    this.inFlight++;
    const done = started.finally(() => this.inFlight--);
    this.tail = done.catch(() => undefined);
    return done;
  }

  private async run(req: OpRequest): Promise<OpResult> {
    const display = OP_DISPLAY_NAMES[req.op];
    if (this.closed) throw new Error(`${display}: the process group was destroyed`);
    if (this.broken) throw withMessage(this.broken, `${display} not started: the group failed earlier and must be re-formed (${this.broken.message})`);
    validateRequest(req, this.rank, this.worldSize);
    if (req.op === "allReduce") return this.allReduce(req, this.seq++);
    const p2p = req.op === "send" || req.op === "recv" || req.op === "recvAny";
    if (!p2p) this.seq++;
    try {
      return await this.onWorld(req);
    } catch (err) {
      if (err instanceof CollectiveError) this.fail(err, `${display} failed: ${err.message}`);
      throw err;
    }
  }

  /** Runs `req` on the job's flat group; its errors are that group's (its label and numbers). */
  private async onWorld(req: OpRequest): Promise<OpResult> {
    const w = this.parts.world;
    const timeout = req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs };
    switch (req.op) {
      case "allReduce":
        throw new Error("all-reduce runs on the hierarchy");
      case "reduceScatter":
        return w.reduceScatter(req.input, req.output, { op: req.reduceOp, ...(req.wire === undefined ? {} : { wire: req.wire }), ...timeout });
      case "allGather":
        return w.allGather(req.input, req.output, timeout);
      case "broadcast":
        return w.broadcast(req.buffer, req.root, timeout);
      case "barrier":
        return w.barrier(timeout);
      case "send":
        return w.send(req.buffer, req.peer, { tag: req.tag, ...timeout });
      case "recv":
        return w.recv(req.buffer, req.peer, { tag: req.tag, ...timeout });
      case "recvAny":
        return w.recvAny(req.buffer, { tag: req.tag, ...timeout });
    }
  }

  private async allReduce(req: AllReduceRequest, seq: number): Promise<void> {
    const { machine, leaders } = this.parts;
    const deadline = performance.now() + (req.timeoutMs ?? this.parts.timeoutMs);
    // One deadline for the whole operation: each step gets what is left of it.
    const left = (): { timeoutMs: number } => ({ timeoutMs: Math.max(1, Math.ceil(deadline - performance.now())) });
    let step: Step = "machine";
    try {
      await machine.allReduce(req.buffer, left());
      if (machine.rank === 0) {
        step = "between";
        await leaders!.allReduce(req.buffer, { ...(req.wire === undefined ? {} : { wire: req.wire }), ...left() });
        if (req.reduceOp === "avg") divideInPlace(req.buffer, this.worldSize);
        step = "broadcast";
        const told = Array.from({ length: machine.worldSize - 1 }, (_, j) => machine.sendAsync(READY, j + 1, left()));
        await machine.broadcast(req.buffer, 0, left());
        await Promise.all(told.map((t) => t.wait()));
      } else {
        step = "leader";
        await machine.recv(READY, 0, left());
        step = "broadcast";
        await machine.broadcast(req.buffer, 0, left());
      }
    } catch (err) {
      throw await this.failAllReduce(seq, step, err);
    }
  }

  /** Note [hierarchical failures]: the error this rank reports for all-reduce #seq, which failed at `step` with `err`. */
  private async failAllReduce(seq: number, step: Step, err: unknown): Promise<unknown> {
    if (!(err instanceof CollectiveError)) return err; // destroyed while it ran: nothing to tell anyone
    const label = `all-reduce #${seq}`;
    const where = this.where(step);
    this.fail(err, `${label} failed on rank ${this.rank} ${where}: ${err.message}`);
    const named = await this.rollCall();
    const Kind = (named ?? err).constructor as new (message: string, details: CollectiveErrorDetails) => CollectiveError;
    const message = named
      ? `${label} failed: ${ranksText(named.ranks)} lost (the roll call on the job's flat group: ${named.message}); on rank ${this.rank} it failed ${where}: ${err.message}`
      : `${label} failed ${where}: ${err.message}`;
    const final = new Kind(message, { op: OP_DISPLAY_NAMES.allReduce, seq, ranks: named?.ranks ?? err.ranks });
    this.broken = final;
    return final;
  }

  /** Marks the group failed and aborts the hierarchy's parts, so that ranks waiting on this one there fail now. */
  private fail(err: CollectiveError, reason: string): void {
    this.broken ??= err;
    this.parts.leaders?.abort(reason);
    this.parts.machine.abort(reason);
  }

  /** The roll call of Note [hierarchical failures]: the error naming the ranks that were lost or never came, or undefined. */
  private async rollCall(): Promise<CollectiveError | undefined> {
    try {
      await this.parts.world.barrier({ timeoutMs: this.parts.timeoutMs });
      return undefined;
    } catch (e) {
      return (e instanceof PeerLostError || e instanceof CollectiveTimeoutError) && e.ranks.length > 0 ? e : undefined;
    }
  }

  private where(step: Step): string {
    const m = this.parts.machineIndex;
    const members = this.parts.machines[m]!;
    switch (step) {
      case "machine":
        return `inside machine ${m} (${ranksText(members)})`;
      case "between":
        return `between machines (leaders ${this.parts.machines.map((ms) => ms[0]).join(", ")})`;
      case "leader":
        return `waiting for rank ${members[0]}, the leader of machine ${m}, to finish between machines`;
      case "broadcast":
        return `in machine ${m}'s broadcast of the result`;
    }
  }

  abort(reason: string): void {
    if (this.closed) return;
    this.broken ??= new GroupAbortedError(`rank ${this.rank} aborted the process group: ${reason}; build a new group to go on`, { op: "none", seq: this.seq, ranks: [] });
    this.parts.world.abort(reason);
    this.parts.machine.abort(reason);
    this.parts.leaders?.abort(reason);
  }

  failure(): CollectiveError | undefined {
    return this.broken;
  }

  /** The parts' bytes together: the flat group's links, the machine's segment and links, the leaders' links. */
  traffic(): Traffic {
    const parts = [this.parts.world, this.parts.machine, ...(this.parts.leaders ? [this.parts.leaders] : [])].map((g) => g.traffic());
    return { sent: parts.reduce((s, t) => s + t.sent, 0), received: parts.reduce((s, t) => s + t.received, 0) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.parts.leaders?.destroy(), this.parts.machine.destroy(), this.parts.world.destroy()]);
  }
}
