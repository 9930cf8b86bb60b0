// An elastic job's process group as one worker sees it: the group of the current generation, and
// the way to the next one (membership.ts decides who is in it; this file builds the group and
// says what happened). The training loop (src/train/fit.ts) calls reform() when a step fails with
// a collective error, and pollJoins() between steps so a worker waiting to join gets in.
import { CollectiveError, CollectiveMismatchError, StoreError, StoreTimeoutError } from "../base/errors.js";
import type { ProcessGroup } from "../group/process-group.js";
import type { RendezvousStore } from "../rendezvous/rendezvous-store.js";
import {
  formNextGeneration, joinRequests, joinRunningJob, markFinished, publishFirstGeneration,
  type Candidacy, type Generation, type MembershipLimits,
} from "./membership.js";

/** Something that happened to the membership, for the metrics stream and the log. */
export interface MembershipEvent {
  event: "member_lost" | "member_joined" | "generation_formed" | "excluded";
  generation: number;
  members?: string[];
  member?: string;
  /** For generation_formed: ms from the failure (or the abort) to the new group being ready. */
  ms?: number;
}

export interface ElasticGroupOptions extends MembershipLimits {
  store: RendezvousStore;
  /** This worker's id, stable for its life (the launcher's slot and restart count). */
  memberId: string;
  /** Generation 0's members in rank order; absent for a worker that joins a running job. */
  initialMembers?: string[];
  /** Builds the group of a generation (each generation's name is new, so old links cannot reach it). */
  makeGroup(rank: number, worldSize: number, name: string): Promise<ProcessGroup>;
  /** How long a joining worker waits to be taken in (default 300 s). */
  joinTimeoutMs?: number;
  onEvent?(event: MembershipEvent): void;
}

/** The job cannot go on with this worker: too few members left, or it was excluded for good. */
export class ElasticStopError extends Error {
  override name = "ElasticStopError";
  constructor(message: string, readonly excluded: boolean) {
    super(message);
  }
}

export interface Recovery {
  generation: number;
  lost: string[];
  joined: string[];
  workers: number;
  /** From the failure being seen here to the new group being up, ms. */
  ms: number;
}

/** A generation's group could not form: a member lost meanwhile (it never connected, or its links closed). */
function isFormationFailure(err: unknown): boolean {
  return isRecoverable(err) || /did not connect|did not publish|did not answer|could not connect/.test((err as Error).message);
}

/** How long a joiner waits to be taken in before it gives up (the job may be at --max for good). */
const DEFAULT_JOIN_TIMEOUT_MS = 300_000;

/** Collective failures a new generation recovers from; a mismatch is a bug in the program, not a fault. */
export function isRecoverable(err: unknown): err is CollectiveError {
  return err instanceof CollectiveError && !(err instanceof CollectiveMismatchError);
}

export class ElasticGroup {
  private gen!: Generation;
  private pg!: ProcessGroup;
  readonly recoveries: Recovery[] = [];
  private polling: Promise<void> | undefined;
  private requested = false;

  private constructor(private readonly o: ElasticGroupOptions) {}

  /**
   * Joins generation 0 (a worker the launcher started with the job) or the running job (a
   * worker started later); returns undefined when the job finished before a joiner got in.
   */
  static async start(o: ElasticGroupOptions): Promise<ElasticGroup | undefined> {
    const eg = new ElasticGroup(o);
    if (o.initialMembers) {
      const rank = o.initialMembers.indexOf(o.memberId);
      if (rank < 0) throw new Error(`elastic start: member ${o.memberId} is not among generation 0's (${o.initialMembers.join(", ")})`);
      eg.gen = rank === 0 ? await publishFirstGeneration(o.store, o.initialMembers) : { number: 0, members: o.initialMembers, lost: [], joined: [] };
      eg.pg = await o.makeGroup(rank, o.initialMembers.length, "elastic-g0");
      return eg;
    }
    const started = performance.now();
    return (await eg.joinUntilIn(-1, started, undefined)) ? eg : undefined;
  }

  /**
   * Joins the running job (a new worker, or one left out) until a generation takes it in and its
   * group forms; false when the job finished first. A joiner that was in the job passes the step
   * its state reached: a stale state is still one to carry on from if no member has a newer one.
   */
  private async joinUntilIn(step: number, started: number, leftOutOf: Generation | undefined): Promise<boolean> {
    for (;;) {
      let gen: Generation | undefined;
      try {
        gen = await joinRunningJob(this.o.store, { id: this.o.memberId, step, suspects: [] }, this.o.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        if (err instanceof StoreTimeoutError && !/did not answer|no answer/.test(err.message)) {
          throw new ElasticStopError(`elastic: ${err.message}; the job is at --max, or its members are not re-forming`, true);
        }
        throw new ElasticStopError(`elastic: ${this.o.memberId} cannot reach the rendezvous store at ${this.o.store.endpoint} to join (${err.message}); the job may have ended`, true);
      }
      if (!gen) {
        if (leftOutOf === undefined) return false;
        throw new ElasticStopError(`elastic: ${this.o.memberId} was left out of generation ${leftOutOf.number} (members ${leftOutOf.members.join(", ")}) and the job finished without it`, true);
      }
      if (gen.stopped !== undefined) throw new ElasticStopError(`elastic: the job stops at generation ${gen.number}: ${gen.stopped}`, false);
      try {
        await this.enter(gen, started);
        return true;
      } catch (err) {
        // A member was lost while the generation formed: ask again (Note [forming a generation]).
        if (!isFormationFailure(err)) throw err;
      }
    }
  }

  private readonly recentStepMs: number[] = [];

  /** The training loop reports each step's time: how late this worker may notice a re-formation (Note [the join window]). */
  noteStep(ms: number): void {
    this.recentStepMs.push(ms);
    if (this.recentStepMs.length > 20) this.recentStepMs.shift();
  }

  private longestStepMs(): number {
    return Math.round(Math.max(0, ...this.recentStepMs));
  }

  /** This worker's member id, stable for its life. */
  get memberId(): string {
    return this.o.memberId;
  }

  get group(): ProcessGroup {
    return this.pg;
  }

  get generation(): Generation {
    return this.gen;
  }

  /** This worker's rank in the current generation, and their number. */
  get rank(): number {
    return this.pg.rank;
  }

  get worldSize(): number {
    return this.pg.worldSize;
  }

  /**
   * After `cause` broke the current generation's group: stands for the next generation with this
   * worker's `step`, builds its group, and returns it (rank 0 holds the state to carry on from).
   * Throws ElasticStopError when the job must stop, naming who is left.
   */
  async reform(cause: CollectiveError, step: number): Promise<Generation> {
    try {
      return await this.reformThroughStore(cause, step);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      // Cut off from the store (its network is down, or the store is gone): the others, if they
      // can reach it, go on without this worker.
      throw new ElasticStopError(
        `elastic: ${this.o.memberId} cannot reach the rendezvous store at ${this.o.store.endpoint} to re-form the group (${err.message}); ` +
          "it stops here, and the members that can reach the store go on without it",
        true,
      );
    }
  }

  private async reformThroughStore(cause: CollectiveError, step: number): Promise<Generation> {
    const started = performance.now();
    let suspects = cause.ranks.map((r) => this.gen.members[r]).filter((id): id is string => id !== undefined && id !== this.o.memberId);
    let previous = this.gen;
    for (;;) {
      const me: Candidacy = { id: this.o.memberId, step, suspects, stepMs: this.longestStepMs() };
      const next = await formNextGeneration(this.o.store, previous, me, this.o);
      if (next.stopped !== undefined) throw new ElasticStopError(`elastic: the job stops at generation ${next.number}: ${next.stopped}`, false);
      if (!next.members.includes(this.o.memberId)) {
        this.o.onEvent?.({ event: "excluded", generation: next.number, members: next.members, member: this.o.memberId });
        // Left out (frozen, cut off, or the job is at --max): ask to come back like a new worker.
        await this.joinUntilIn(step, started, next);
        return this.gen;
      }
      try {
        await this.enter(next, started);
        return next;
      } catch (err) {
        // A member of the new generation was lost while it formed (it never connected): stand
        // again; the decider leaves out whoever does not come.
        if (!isFormationFailure(err)) throw err;
        previous = next;
        suspects = isRecoverable(err) ? err.ranks.map((r) => next.members[r]).filter((id): id is string => id !== undefined) : [];
      }
    }
  }

  private async enter(gen: Generation, started: number): Promise<void> {
    const rank = gen.members.indexOf(this.o.memberId);
    const old = this.pg;
    this.pg = await this.o.makeGroup(rank, gen.members.length, `elastic-g${gen.number}`);
    // Note [the old group closes last]: its links stay open until the new group is up. Closing
    // them at once would look, to a survivor that has not yet seen the failure, like the loss of
    // this worker too, and it would stand suspecting us. Once closed, anyone still in the old
    // group (a frozen worker that wakes up) learns it is over. Not awaited: its comm thread may
    // take a moment to go.
    if (old) void old.destroy().catch(() => undefined);
    this.gen = gen;
    this.requested = false;
    this.polling = undefined;
    const ms = Math.round(performance.now() - started);
    this.recoveries.push({ generation: gen.number, lost: gen.lost, joined: gen.joined, workers: gen.members.length, ms });
    for (const member of gen.lost) this.o.onEvent?.({ event: "member_lost", generation: gen.number, member });
    for (const member of gen.joined) this.o.onEvent?.({ event: "member_joined", generation: gen.number, member });
    this.o.onEvent?.({ event: "generation_formed", generation: gen.number, members: gen.members, ms });
  }

  /**
   * Between steps, on rank 0: whether a worker asked to join, read in the background (the answer
   * of the previous call is used, so a step never waits on the store). When one did, the
   * generation is aborted: every member's next collective fails, and they re-form with it.
   */
  pollJoins(): void {
    // At --max a joiner cannot come in: it waits for a generation that loses someone.
    if (this.pg.rank !== 0 || this.requested || this.gen.members.length >= this.o.max) return;
    if (this.polling) return;
    const g = this.gen.number;
    this.polling = joinRequests(this.o.store, g).then(
      (n) => {
        if (g !== this.gen.number || this.pollingStopped) return;
        if (n > 0) {
          this.requested = true;
          this.pg.abort(`${n} worker(s) asked to join generation ${g}`);
        }
        this.polling = undefined;
      },
      () => {
        // The store is unreachable: training goes on; a re-formation would report it.
        this.polling = undefined;
      },
    );
  }

  /**
   * After the last step: a join request answered late must not abort the group while the others
   * finish (an asynchronous strategy's last sync) and this worker has already left the loop.
   */
  stopPolling(): void {
    this.pollingStopped = true;
  }

  private pollingStopped = false;

  /** At the end of training, on the member that writes the result: workers still waiting to join stop. */
  async finish(): Promise<void> {
    try {
      await markFinished(this.o.store);
    } catch (err) {
      // The embedded store went with node 0's launcher, whose workers finished first: the job is
      // over either way, and a joiner still waiting learns so when its own calls fail.
      if (!(err instanceof StoreError)) throw err;
    }
  }

  /** Destroys the current group and closes the store connection. */
  async close(): Promise<void> {
    await this.pg.destroy();
    this.o.store.close();
  }
}
