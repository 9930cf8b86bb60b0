// How an etcd call keeps its deadline while members come and go (Note [etcd attempts]).
//
// Note [etcd attempts]: one store call is a series of attempts, each sent to one member and each
// with its own gRPC deadline, until one answers or the call's deadline passes. A member that is
// gone fails its attempt at once (connection refused) or at the attempt's deadline (a machine
// that froze or vanished from the network, or a write handed to a leader that just died, which
// etcd holds for seconds), and that member is passed over for a while (MemberHealth), so the next
// attempt goes to another. The first attempt gets FIRST_ATTEMPT_MS and each retry twice the last,
// up to MAX_ATTEMPT_MS: a dead leader costs one short attempt, while a cluster that is merely
// slow (a loaded machine) still gets attempts long enough to finish. Between attempts we back off
// from 20 to 500 ms, which rides out an election (about a second) without spinning. When the
// deadline passes with nobody having answered, the error names every endpoint: the question the
// user has is "which etcd, and is it up?". etcd3's own retry (three tries, then a five-second
// circuit breaker per host) is replaced by this: its breaker would keep a restarted member out
// for five seconds even when it is the only one, and its retries know nothing of our deadline.
import { isRecoverableError, type IOptions } from "etcd3";
import { StoreError } from "../base/errors.js";

/** The first attempt's deadline: a healthy member answers in milliseconds; a write held for a dead leader is moved on from. */
const FIRST_ATTEMPT_MS = 1000;
/** The longest attempt: ample for a loaded member to commit a write. */
export const MAX_ATTEMPT_MS = 4000;
/** How long a member that failed an attempt is passed over, doubling while it keeps failing up to MAX_SKIP_MS. */
const SKIP_MS = 1000;
const MAX_SKIP_MS = 8000;

type FaultHandling = NonNullable<IOptions["faultHandling"]>;
type Policy = NonNullable<FaultHandling["global"]>;
type PolicyContext = Parameters<Parameters<Policy["execute"]>[0]>[0];
type Backoff = NonNullable<FaultHandling["watchBackoff"]>;

/** An attempt we gave up on ourselves (gRPC should have, at its deadline). */
class AttemptTimeout extends Error {}

/** A member passed over because it failed recently (etcd3 then tries the next member); carries that failure. */
class MemberSkipped extends Error {}

/** Worth another attempt: the member was unreachable, busy, electing a leader, or we gave up on it. */
export function isRetryable(err: unknown): boolean {
  return err instanceof AttemptTimeout || err instanceof MemberSkipped || (err instanceof Error && isRecoverableError(err));
}

/** The error text on one line (gRPC's can hold newlines, and may end in an empty "Resolution note:"). */
export function oneLine(message: string): string {
  return message.replace(/\s+/g, " ").replace(/\s*Resolution note:\s*$/, "").trim();
}

/** "etcd at A, B did not answer within N ms (last error: ...): check ..." */
export function unreachableMessage(endpoints: readonly string[], waitedMs: number, last: unknown): string {
  const why = last instanceof Error ? ` (last error: ${oneLine(last.message)})` : "";
  return `etcd at ${endpoints.join(", ")} did not answer within ${waitedMs} ms${why}: check the etcd members are running and reachable`;
}

export interface AttemptContext {
  /** The etcd endpoints, for the error. */
  readonly endpoints: readonly string[];
  /** The call's deadline (ms epoch) and how long that was, for the error. */
  readonly deadline: number;
  readonly timeoutMs: number;
  /** "store set a/b": the start of every error message. */
  readonly what: string;
  /** Checked before each attempt: a closed store fails at once instead of at its deadline. */
  readonly closed: () => boolean;
}

/**
 * Runs `attempt(attemptDeadline)` until it resolves, retrying what isRetryable until the call's
 * deadline; throws StoreError naming every endpoint if none answered, or at once (also a
 * StoreError) for an answer that retrying cannot change (a refused request).
 */
export async function untilDeadline<T>(ctx: AttemptContext, attempt: (attemptDeadline: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let n = 0; ; n++) {
    if (ctx.closed()) throw new StoreError(`${ctx.what}: the etcd store was closed`);
    const left = ctx.deadline - Date.now();
    if (left <= 0) throw new StoreError(`${ctx.what}: ${unreachableMessage(ctx.endpoints, ctx.timeoutMs, last)}`);
    const attemptDeadline = Date.now() + Math.min(left, MAX_ATTEMPT_MS, FIRST_ATTEMPT_MS * 2 ** n);
    try {
      return await withBackstop(attempt(attemptDeadline), attemptDeadline);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      if (!isRetryable(err)) throw new StoreError(`${ctx.what}: etcd refused it: ${oneLine((err as Error).message)}`);
      // "Passed over" says less than the failure that caused it, which an earlier attempt saw.
      if (!(err instanceof MemberSkipped) || last === undefined) last = err;
    }
    const pause = Math.min(20 * 2 ** n, 500, Math.max(0, ctx.deadline - Date.now()));
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** `p`, or AttemptTimeout shortly after `deadline` in case gRPC never reports its own deadline. */
function withBackstop<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`no answer by the attempt's deadline`)), Math.max(0, deadline - Date.now()) + 250);
  });
  // The loser must not become an unhandled rejection.
  p.catch(() => undefined);
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const noEvent = (): { dispose(): void } => ({ dispose: () => undefined });

/** A policy that runs the call once: the retrying is untilDeadline's. */
export function passThroughPolicy(): Policy {
  return {
    _altReturn: undefined as never,
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: <T>(fn: (context: PolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> =>
      Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal })),
  };
}

/**
 * Which members failed lately, shared by their policies (skipFailedMemberPolicy): a member that
 * failed is passed over for SKIP_MS, doubling with each failure in a row up to MAX_SKIP_MS, but
 * only while some other member is not being passed over. So a frozen member stops costing an
 * attempt's deadline on every call, and a cluster whose members are all down (or that has one
 * member) is still asked on every attempt, and found again the moment it is back.
 */
export class MemberHealth {
  private readonly failures = new Map<string, { until: number; strikes: number; why: string }>();

  constructor(private readonly members: readonly string[]) {}

  failed(member: string, why: string): void {
    const strikes = (this.failures.get(member)?.strikes ?? 0) + 1;
    this.failures.set(member, { until: Date.now() + Math.min(SKIP_MS * 2 ** (strikes - 1), MAX_SKIP_MS), strikes, why });
  }

  succeeded(member: string): void {
    this.failures.delete(member);
  }

  /** Why `member` should be passed over now, or undefined to call it. */
  passOver(member: string): string | undefined {
    const now = Date.now();
    const f = this.failures.get(member);
    if (f === undefined || now >= f.until) return undefined;
    const another = this.members.some((m) => m !== member && now >= (this.failures.get(m)?.until ?? 0));
    return another ? f.why : undefined;
  }
}

/** Member `member`'s policy: asks `health` whether to pass it over, and tells it how each call went. */
export function skipFailedMemberPolicy(member: string, health: MemberHealth): Policy {
  return {
    _altReturn: undefined as never,
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async <T>(fn: (context: PolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => {
      const why = health.passOver(member);
      if (why !== undefined) throw new MemberSkipped(`${member.replace(/^https?:\/\//, "")} passed over after it failed: ${why}`);
      try {
        const out = await fn({ signal: signal ?? new AbortController().signal });
        health.succeeded(member);
        return out;
      } catch (err) {
        if (err instanceof Error && isRecoverableError(err)) health.failed(member, oneLine(err.message));
        throw err;
      }
    },
  };
}

/** Watch-stream reconnects: 50 ms doubling to 1 s (etcd3's default grows to 30 s, far past our deadlines). */
export function watchBackoff(ms = 50): Backoff {
  return { duration: ms, next: () => watchBackoff(Math.min(ms * 2, 1000)) };
}
