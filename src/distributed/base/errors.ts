// Typed errors of the communication layer. Every collective failure names the operation, its
// sequence number and the ranks involved, because "which rank never arrived?" is the question
// users of other frameworks wait hours to answer. Messages follow the project rule: the action
// that failed, the values seen, the next step.

/** Fields every collective failure carries (they also survive the trip across the comm thread). */
export interface CollectiveErrorDetails {
  /** The operation that failed, e.g. "all-reduce". */
  readonly op: string;
  /** The group-wide sequence number of the operation (the same on every rank). */
  readonly seq: number;
  /** Ranks that never arrived at the operation (their descriptor never came), or that were lost. */
  readonly ranks: readonly number[];
}

/** "rank 3" or "ranks 1, 2": for messages that name ranks. */
export function ranksText(ranks: readonly number[]): string {
  return `${ranks.length === 1 ? "rank" : "ranks"} ${ranks.join(", ")}`;
}

/** Base class of collective failures; after one of them the group is unusable (see docs/distributed.md). */
export class CollectiveError extends Error implements CollectiveErrorDetails {
  readonly op: string;
  readonly seq: number;
  readonly ranks: readonly number[];
  constructor(message: string, details: CollectiveErrorDetails) {
    super(message);
    this.name = new.target.name;
    this.op = details.op;
    this.seq = details.seq;
    this.ranks = [...details.ranks];
  }
}

/** The operation did not finish before its deadline; `ranks` are those that never arrived or never sent. */
export class CollectiveTimeoutError extends CollectiveError {}

/** Ranks called different operations, sizes, dtypes or roots at the same sequence number. */
export class CollectiveMismatchError extends CollectiveError {}

/**
 * A peer's link closed or failed, or it fell silent (no frames or heartbeats for the silence
 * limit: a stopped process or a cut network); `ranks` are the lost peers.
 */
export class PeerLostError extends CollectiveError {}

/**
 * A rank called ProcessGroup.abort(reason): the operation running then and every later one fail
 * on every rank. `ranks` is empty (nobody was lost); the message names the aborting rank and the
 * reason. Build a new group (a new generation) to go on.
 */
export class GroupAbortedError extends CollectiveError {}

/** A frame header was malformed, of an unknown version, or announced a payload above the limit. */
export class FrameError extends Error {
  override name = "FrameError";
}

/** A connection failed the challenge-response proving that both sides hold the job secret. */
export class AuthError extends Error {
  override name = "AuthError";
}

/** A store request failed or timed out. */
export class StoreError extends Error {
  override name = "StoreError";
}

/** A blocking store call passed its deadline before the keys existed. */
export class StoreTimeoutError extends StoreError {
  override name = "StoreTimeoutError";
}

const COLLECTIVE_ERROR_CLASSES = {
  CollectiveError,
  CollectiveTimeoutError,
  CollectiveMismatchError,
  PeerLostError,
  GroupAbortedError,
} as const;

export type CollectiveErrorKind = keyof typeof COLLECTIVE_ERROR_CLASSES;

/** Errors without details that keep their class across the comm thread (a subgroup's set-up meets through the store). */
const PLAIN_ERROR_CLASSES = { StoreError, StoreTimeoutError, AuthError } as const;

type PlainErrorKind = keyof typeof PLAIN_ERROR_CLASSES;

/** A plain-object form of an error, for postMessage and for ABORT frames. */
export interface SerializedError {
  kind: CollectiveErrorKind | PlainErrorKind | "Error";
  message: string;
  op?: string;
  seq?: number;
  ranks?: number[];
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof CollectiveError) {
    const kind = err.constructor.name as CollectiveErrorKind;
    return {
      kind: kind in COLLECTIVE_ERROR_CLASSES ? kind : "CollectiveError",
      message: err.message,
      op: err.op,
      seq: err.seq,
      ranks: [...err.ranks],
    };
  }
  const plain = err instanceof Error ? (err.constructor.name as PlainErrorKind) : undefined;
  if (plain !== undefined && plain in PLAIN_ERROR_CLASSES) return { kind: plain, message: (err as Error).message };
  return { kind: "Error", message: err instanceof Error ? err.message : String(err) };
}

export function deserializeError(s: SerializedError): Error {
  if (s.kind === "Error") return new Error(s.message);
  if (s.kind in PLAIN_ERROR_CLASSES) return new PLAIN_ERROR_CLASSES[s.kind as PlainErrorKind](s.message);
  const Cls = COLLECTIVE_ERROR_CLASSES[s.kind as CollectiveErrorKind] ?? CollectiveError;
  return new Cls(s.message, { op: s.op ?? "unknown", seq: s.seq ?? -1, ranks: s.ranks ?? [] });
}

/** Rebuilds an error of the same class with a new message, keeping op, seq and ranks. */
export function withMessage(err: CollectiveError, message: string): CollectiveError {
  const Cls = err.constructor as new (m: string, d: CollectiveErrorDetails) => CollectiveError;
  return new Cls(message, err);
}
