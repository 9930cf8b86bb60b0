// Elastic membership: which workers form the job's process group, under a generation number that
// grows by one each time the group is re-formed. It lives in the rendezvous store (any
// RendezvousStore: the embedded one or etcd), written and read by the workers themselves; there
// is no coordinator process to lose.
//
// Note [forming a generation]
// Generation 0 is the launcher's: ranks as started. Generation g+1 is formed when g failed (a
// worker was lost: its links closed, or it fell silent) or was aborted at a step boundary because
// a worker asked to join. Every worker that wants to be in g+1 writes a candidacy: its member id,
// the step its state has reached, and the members of g it found lost. The first candidate (an
// atomic counter decides) is the decider. It waits until every member of g is a candidate or is
// suspected by one, or until the join window closes, then picks the members:
//  - a candidate suspected by another is left out if keeping it would keep a pair that cannot
//    talk to each other: candidates are taken greedily, least suspected first (then in the old
//    rank order), skipping any that suspects or is suspected by one already taken. A worker cut
//    off from everyone is suspected by all and suspects all, so it goes; a live neighbour that
//    merely waited on it is suspected by nobody and stays;
//  - at most `max` are taken; fewer than `min` stops the job (the generation says why), and so
//    does a set of joiners alone, which hold no state to go on from;
//  - the member whose state is furthest along (the highest step, then the old rank order) comes
//    first: rank 0 of the new group, whose parameters, optimizer state and data position everyone
//    takes (state-sync.ts). A worker whose all-reduce completed before the loss stepped; one
//    whose all-reduce failed did not: starting from the one that stepped loses nothing that any
//    rank acknowledged.
// Everyone else waits for the decision. A candidate not in it was excluded: it may ask to join
// the next generation, as any new worker does.
//
// Note [joining]
// A new worker (a replacement the launcher started, a `weft launch --join`, a frozen worker that
// woke up excluded) writes its candidacy for latest+1 and then bumps `joins/<latest>`. Rank 0 of
// the current generation polls that counter between steps and aborts the generation when it
// moves, so the members re-form at once with the joiner among the candidates, which the decider
// reads when it starts.
import { StoreTimeoutError } from "../base/errors.js";
import type { RendezvousStore } from "../rendezvous/rendezvous-store.js";
import { JOB_FINISHED_KEY } from "../rendezvous/job-finished.js";

export interface Generation {
  number: number;
  /** Member ids in rank order: members[r] is rank r. */
  members: string[];
  /** Members of the previous generation not in this one. */
  lost: string[];
  /** Members new in this one. */
  joined: string[];
  /** Set when the job cannot go on (fewer than --min workers): why, naming who is left. */
  stopped?: string;
}

export interface Candidacy {
  id: string;
  /** Steps this candidate's state has taken (-1 for a joiner, which has none to offer). */
  step: number;
  /** Members of the previous generation it found lost. */
  suspects: string[];
  /** Its longest recent step, ms: how late a busy member may notice a re-formation (Note [the join window]). */
  stepMs?: number;
}

export interface MembershipLimits {
  min: number;
  max: number;
  /** How long the decider waits for the members it expects and nobody suspects (default: joinWindowMs of the candidates). */
  joinWindowMs?: number;
  /** How long a candidate waits for the decision before trying the next generation (default 10 s). */
  decisionTimeoutMs?: number;
}

const KEYS = {
  generation: (g: number) => `elastic/gen/${g}`,
  count: (g: number) => `elastic/gen/${g}/count`,
  candidate: (g: number, n: number) => `elastic/gen/${g}/candidate/${n}`,
  decider: (g: number) => `elastic/gen/${g}/decider`,
  latest: "elastic/latest",
  joins: (g: number) => `elastic/joins/${g}`,
  finished: JOB_FINISHED_KEY,
};

// Note [the join window]
// The decider waits for the members of the previous generation that nobody suspects. A lost or
// silent member is suspected by everyone who needed it; one nobody suspects is usually alive and
// only late: it notices the re-formation when its training thread next waits on a collective,
// up to one step after the others. So the window is a base plus twice the longest recent step
// any candidate reports: about 2 s for MNIST's 30-100 ms steps, longer for a model whose steps
// take seconds. (A member that died while nobody needed it, during a re-formation started by a
// join, is waited for that long, then left out.) A candidate waits for the decision a little
// longer than the window before it moves on to the next generation (the decider may have died).
const BASE_JOIN_WINDOW_MS = 2000;
const BASE_DECISION_TIMEOUT_MS = 6000;

/** The decider's window for these candidates (Note [the join window]). */
export function joinWindowMs(candidates: readonly Candidacy[]): number {
  return BASE_JOIN_WINDOW_MS + 2 * Math.max(0, ...candidates.map((c) => c.stepMs ?? 0));
}
const POLL_MS = 10;

/** Generation 0, the launcher's: members as started. Rank 0 publishes it. */
export async function publishFirstGeneration(store: RendezvousStore, members: string[]): Promise<Generation> {
  const g: Generation = { number: 0, members, lost: [], joined: [] };
  await store.set(KEYS.generation(0), JSON.stringify(g));
  await store.set(KEYS.latest, "0");
  return g;
}

/** Reads generation `g`, or undefined if it was not formed (yet). */
async function readGeneration(store: RendezvousStore, g: number, timeoutMs = 1): Promise<Generation | undefined> {
  try {
    return JSON.parse(await store.getString(KEYS.generation(g), timeoutMs)) as Generation;
  } catch (err) {
    if (err instanceof StoreTimeoutError) return undefined;
    throw err;
  }
}

async function readCandidates(store: RendezvousStore, g: number, from: number, into: Candidacy[]): Promise<void> {
  const count = await store.add(KEYS.count(g), 0);
  for (let n = from + 1; n <= count; n++) {
    // A counted candidate writes its key right after counting itself: wait briefly for it.
    try {
      into.push(JSON.parse(await store.getString(KEYS.candidate(g, n), 2000)) as Candidacy);
    } catch (err) {
      if (!(err instanceof StoreTimeoutError)) throw err;
      into.push({ id: `(candidate ${n} of generation ${g}, which never wrote its candidacy)`, step: -2, suspects: [] });
    }
  }
}

/**
 * The members of the next generation from the candidates (Note [forming a generation]): pure, so
 * every rule is tested without a store.
 */
export function chooseMembers(previous: readonly string[], candidates: readonly Candidacy[], limits: { min: number; max: number }): { members: string[]; stopped?: string } {
  const valid = candidates.filter((c) => c.step >= -1);
  const seen = new Set<string>();
  const unique = valid.filter((c) => !seen.has(c.id) && seen.add(c.id));
  const suspicions = (id: string): number => unique.filter((c) => c.suspects.includes(id)).length;
  const order = (id: string): number => {
    const i = previous.indexOf(id);
    return i >= 0 ? i : previous.length + unique.findIndex((c) => c.id === id);
  };
  const ranked = [...unique].sort((a, b) => suspicions(a.id) - suspicions(b.id) || order(a.id) - order(b.id));
  const taken: Candidacy[] = [];
  for (const c of ranked) {
    if (taken.length >= limits.max) break;
    const conflict = taken.some((t) => t.suspects.includes(c.id) || c.suspects.includes(t.id));
    if (!conflict) taken.push(c);
  }
  // The state to carry on from comes first (the furthest along; then the old rank order); the
  // rest keep their old order, joiners last.
  const source = [...taken].sort((a, b) => b.step - a.step || order(a.id) - order(b.id))[0];
  const members = taken.map((c) => c.id).sort((a, b) => order(a) - order(b));
  if (source) members.splice(members.indexOf(source.id), 1), members.unshift(source.id);
  // Joiners hold no state until it is handed to them: with nobody else, there is none to go on from.
  if (source && source.step < 0) {
    return { members, stopped: `no worker holding the training state is left (${members.join(", ")} joined without any); resume from a checkpoint` };
  }
  if (members.length < limits.min) {
    return {
      members,
      stopped: `${members.length === 0 ? "no worker is" : `only ${members.length} worker(s) are`} left (${members.join(", ") || "none"}), fewer than --min ${limits.min}`,
    };
  }
  return { members };
}

/** The decider's side: wait for the expected candidates (or the window), choose, publish. */
async function decide(store: RendezvousStore, g: number, previous: Generation, me: Candidacy, limits: MembershipLimits): Promise<void> {
  const candidates: Candidacy[] = [];
  const started = Date.now();
  for (;;) {
    await readCandidates(store, g, candidates.length, candidates);
    const deadline = started + (limits.joinWindowMs ?? joinWindowMs(candidates));
    const heard = new Set(candidates.map((c) => c.id));
    const suspected = new Set(candidates.flatMap((c) => c.suspects));
    const waitingFor = previous.members.filter((id) => !heard.has(id) && !suspected.has(id));
    if (waitingFor.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  // Members of the previous generation that never came are lost too, whoever noticed.
  const heard = new Set(candidates.map((c) => c.id));
  for (const c of candidates) if (c.id === me.id) c.suspects = [...new Set([...c.suspects, ...previous.members.filter((id) => !heard.has(id))])];
  const { members, stopped } = chooseMembers(previous.members, candidates, limits);
  const next: Generation = {
    number: g, members,
    lost: previous.members.filter((id) => !members.includes(id)),
    joined: members.filter((id) => !previous.members.includes(id)),
    ...(stopped === undefined ? {} : { stopped }),
  };
  await store.set(KEYS.generation(g), JSON.stringify(next));
  // `latest` only moves forward: a decision published late (its decider was slow) must not send
  // joiners back to a generation the others already left.
  if (stopped === undefined && g > Number(await store.getString(KEYS.latest, 1000).catch(() => "-1"))) await store.set(KEYS.latest, String(g));
}

/**
 * Stands as a candidate for the generation after `previous` and returns the one formed (which
 * may leave this worker out, or say the job stopped). A decision that never comes (the decider
 * died deciding) moves on to the generation after.
 */
export async function formNextGeneration(store: RendezvousStore, previous: Generation, me: Candidacy, limits: MembershipLimits): Promise<Generation> {
  for (let g = previous.number + 1; ; g++) {
    const formed = await readGeneration(store, g);
    if (formed) {
      if (formed.members.includes(me.id) || formed.stopped !== undefined) return formed;
      // Formed without us while we were away (frozen, slow): the caller decides to rejoin or stop.
      return formed;
    }
    const n = await store.add(KEYS.count(g), 1);
    await store.set(KEYS.candidate(g, n), JSON.stringify(me));
    if ((await store.add(KEYS.decider(g), 1)) === 1) await decide(store, g, previous, me, limits);
    const decided = await readGeneration(store, g, limits.decisionTimeoutMs ?? BASE_DECISION_TIMEOUT_MS + 4 * (me.stepMs ?? 0));
    if (decided) return decided;
    previous = { ...previous, number: g };
  }
}

/** The newest generation formed, for a worker that joins a running job. */
export async function latestGeneration(store: RendezvousStore, timeoutMs: number): Promise<Generation> {
  const g = Number(await store.getString(KEYS.latest, timeoutMs));
  return (await readGeneration(store, g, timeoutMs))!;
}

/**
 * A new worker's way in (Note [joining]): stands as a candidate for the generation after the
 * newest and asks its members to re-form; returns the generation that takes it in, or the one
 * that says the job stopped, or undefined once the job finished without it. `deadlineMs` bounds
 * the whole wait.
 */
export async function joinRunningJob(store: RendezvousStore, me: Candidacy, deadlineMs: number): Promise<Generation | undefined> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await isFinished(store)) return undefined;
    const latest = await latestGeneration(store, Math.max(1, end - Date.now()));
    const g = latest.number + 1;
    const n = await store.add(KEYS.count(g), 1);
    await store.set(KEYS.candidate(g, n), JSON.stringify(me));
    await store.add(KEYS.joins(latest.number), 1);
    // Poll rather than block: the job may finish, or g may form without us (a failure decided
    // before our candidacy was read), and then we stand again for the one after.
    for (;;) {
      if (Date.now() >= end) throw new StoreTimeoutError(`joining the job: no generation took this worker (${me.id}) within ${deadlineMs} ms`);
      const formed = await readGeneration(store, g, 250);
      if (formed) {
        if (formed.members.includes(me.id) || formed.stopped !== undefined) return formed;
        break;
      }
      if (await isFinished(store)) return undefined;
    }
  }
}

/** How many workers asked to join generation `g` so far (polled by its rank 0 between steps). */
export function joinRequests(store: RendezvousStore, g: number): Promise<number> {
  return store.add(KEYS.joins(g), 0);
}

/** Marks the job finished: workers still trying to join stop trying. */
export async function markFinished(store: RendezvousStore): Promise<void> {
  await store.set(KEYS.finished, "1");
}

async function isFinished(store: RendezvousStore): Promise<boolean> {
  try {
    await store.get(KEYS.finished, 1);
    return true;
  } catch (err) {
    if (err instanceof StoreTimeoutError) return false;
    throw err;
  }
}
