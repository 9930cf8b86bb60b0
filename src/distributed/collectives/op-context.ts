// What an algorithm sees of the running operation: its rank and peers, framed send and receive
// keyed by tag, scratch memory, and failure. The engine (engine.ts) owns one OpRun per operation
// and decides when it is complete: every posted receive delivered, every send handed to the
// kernel (so the caller may reuse its buffer), and every peer's descriptor in
// (Note [collective descriptors]).
import { CollectiveMismatchError, PeerLostError, type CollectiveError } from "../base/errors.js";
import { WIRE_FLAG_MASK, type FrameHeader, type FrameType } from "../wire/frame.js";
import type { Mailbox, PostedReceive } from "./mailbox.js";
import type { Transport } from "../transport/transport.js";
import { wireBytes, wireCode, wireOfCode, type WireDtype } from "../compression/wire-dtype.js";

/**
 * The elements of one frame: float32, or 16-bit wire elements (bf16/f16 bits) of a compressed
 * all-reduce. Which of the two a frame holds travels in its flags (frame.ts, WIRE_FLAG_MASK).
 */
export type FrameData = Float32Array | Uint16Array;

export interface OpContext {
  readonly rank: number;
  readonly worldSize: number;
  /** Group-wide sequence number (collectives) or per-peer message number (send/recv). */
  readonly seq: number;
  /** Longest segment in elements (collectives/segments.ts). */
  readonly segmentElems: number;
  /** Elements of receive staging an algorithm may post ahead (EngineOptions.stagingBytes / 4). */
  readonly stagingElems: number;
  /** Operation name and number, for messages: "all-reduce #12". */
  readonly label: string;
  /** Operation name alone, for error fields: "all-reduce". */
  readonly opName: string;
  /** How `rank` (this group's numbering) is named in messages and errors (Note [global rank names] in engine.ts). */
  nameOf(rank: number): number;
  /**
   * Sends `data` to `peer` as frame `tag`; it must not change until the write completes. `wire`
   * (default "f32") names what `data` holds and goes into the frame's flags: a Uint16Array is
   * bf16 or f16 elements.
   */
  send(peer: number, tag: number, data: FrameData, onWritten?: () => void, wire?: WireDtype): void;
  /**
   * Receives frame `tag` from `peer` into `dest` (exactly its size), then calls `onDone`. The
   * frame must carry elements of type `wire` (default "f32"); `check` may reject the frame's header
   * first (with a better message than a length mismatch).
   */
  recv(
    peer: number, tag: number, dest: FrameData, onDone: (header: FrameHeader) => void,
    check?: (header: FrameHeader) => CollectiveError | undefined, wire?: WireDtype,
  ): void;
  /** A reusable float32 buffer of at least `elems` elements, private to the engine (`slot` names it). */
  scratch(slot: string, elems: number): Float32Array;
  /** Ends the operation with an error on this rank (the engine tells the peers). */
  fail(err: CollectiveError): void;
}

export interface OpRunParams {
  rank: number;
  worldSize: number;
  seq: number;
  label: string;
  opName: string;
  segmentElems: number;
  stagingElems: number;
  frameType: FrameType;
  /** Extra header words of every frame this operation sends (p2p: user tag and count). */
  aux: Pick<FrameHeader, "aux0" | "aux1" | "aux2">;
  transport: Transport;
  mailboxes: Mailbox[];
  scratch: (slot: string, elems: number) => Float32Array;
  /** Peers whose descriptor must arrive before the operation can complete. */
  awaitArrivals: Set<number>;
  /** Job-wide rank of each member, for messages (Note [global rank names] in engine.ts); default: the group's own. */
  rankNames?: readonly number[];
}

/** A frame's elements and its wire type must agree (an algorithm's mistake, not a peer's). */
function checkElementType(data: FrameData, wire: WireDtype): void {
  if (data.BYTES_PER_ELEMENT !== wireBytes(wire)) {
    throw new TypeError(`a ${data.constructor.name} cannot hold ${wire} wire elements`);
  }
}

export class OpRun implements OpContext {
  readonly rank: number;
  readonly worldSize: number;
  /** Fixed at creation, except for receive-any, which takes its source's message number once it knows it. */
  seq: number;
  /** Likewise: receive-any names its source once it knows it. */
  label: string;
  readonly opName: string;
  readonly segmentElems: number;
  readonly stagingElems: number;
  readonly arrivalsMissing: Set<number>;
  /** Receives still outstanding per peer (for the timeout message). */
  readonly waitingOn = new Map<number, number>();
  /** Writes not yet handed to the kernel, per peer: a stopped peer that reads nothing holds them up. */
  readonly writingTo = new Map<number, number>();
  private writesPending = 0;
  private recvsPending = 0;
  private started = false;
  private settled = false;
  private resolveDone!: () => void;
  private rejectDone!: (err: CollectiveError) => void;
  readonly done: Promise<void>;
  /** Called once when the run fails, before its promise rejects (the engine broadcasts an abort). */
  onFail: (err: CollectiveError) => void = () => {};

  constructor(private readonly p: OpRunParams) {
    this.rank = p.rank;
    this.worldSize = p.worldSize;
    this.seq = p.seq;
    this.label = p.label;
    this.opName = p.opName;
    this.segmentElems = p.segmentElems;
    this.stagingElems = p.stagingElems;
    this.arrivalsMissing = p.awaitArrivals;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  get failed(): boolean {
    return this.settled;
  }

  nameOf(rank: number): number {
    return this.p.rankNames?.[rank] ?? rank;
  }

  send(peer: number, tag: number, data: FrameData, onWritten?: () => void, wire: WireDtype = "f32"): void {
    if (this.settled) return;
    checkElementType(data, wire);
    this.writesPending++;
    this.writingTo.set(peer, (this.writingTo.get(peer) ?? 0) + 1);
    const payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const flags = wireCode(wire);
    this.p.transport.send(peer, { type: this.p.frameType, flags, seq: this.seq, tag, ...this.p.aux }, payload, (err) => {
      this.writesPending--;
      const left = this.writingTo.get(peer)! - 1;
      if (left === 0) this.writingTo.delete(peer);
      else this.writingTo.set(peer, left);
      if (this.settled) return;
      if (err) {
        const name = this.nameOf(peer);
        return this.fail(new PeerLostError(`${this.label}: sending to rank ${name} failed (${err.message})`, { op: this.opName, seq: this.seq, ranks: [name] }));
      }
      onWritten?.();
      this.maybeFinish();
    });
  }

  recv(
    peer: number, tag: number, dest: FrameData, onDone: (header: FrameHeader) => void,
    check?: (header: FrameHeader) => CollectiveError | undefined, wire: WireDtype = "f32",
  ): void {
    if (this.settled) return;
    checkElementType(dest, wire);
    this.expect(peer);
    this.p.mailboxes[peer]!.post(this.p.frameType, this.seq, tag, this.receiveInto(peer, tag, dest, onDone, check, wire));
  }

  /**
   * The first frame (`tag`) of a receive-any (recv-any.ts): `dest` is posted at once on every one
   * of `peers`, at that peer's next message number `seqOf(peer)`. The first peer whose frame
   * `accept` takes claims the receive at the moment its frame is matched, before a byte is
   * written (Note [claim on match] in recv-any.ts): the postings on the other peers are withdrawn
   * then and there, this run takes the claimed message's number, and `onClaim` runs. From there it
   * is an ordinary receive from that peer: `check`, the sizes, then `onDone`.
   */
  recvFromAny(
    peers: readonly number[], seqOf: (peer: number) => number, tag: number, dest: Float32Array,
    accept: (header: FrameHeader) => boolean, onClaim: (peer: number) => void,
    onDone: (peer: number, header: FrameHeader) => void, check: (peer: number, header: FrameHeader) => CollectiveError | undefined,
  ): void {
    if (this.settled) return;
    this.recvsPending++;
    for (const p of peers) this.waitingOn.set(p, (this.waitingOn.get(p) ?? 0) + 1);
    const postings = new Map<number, { seq: number; receive: PostedReceive }>();
    let source = -1;
    const claimFor = (peer: number) => (header: FrameHeader): boolean => {
      if (source !== -1) return source === peer;
      if (this.settled || !accept(header)) return false;
      source = peer;
      for (const [p, { seq, receive }] of postings) {
        if (p === peer) continue;
        this.p.mailboxes[p]!.withdraw(this.p.frameType, seq, tag, receive);
        this.unexpect(p);
      }
      this.seq = postings.get(peer)!.seq;
      onClaim(peer);
      return true;
    };
    for (const peer of peers) {
      if (source !== -1) break; // posting on an earlier peer found its frame already there
      const seq = seqOf(peer);
      const receive = this.receiveInto(peer, tag, dest, (h) => onDone(peer, h), (h) => check(peer, h), "f32");
      receive.claim = claimFor(peer);
      postings.set(peer, { seq, receive });
      // Counted for this peer already (above); receiveInto's completion takes one off.
      this.p.mailboxes[peer]!.post(this.p.frameType, seq, tag, receive);
    }
  }

  /** One more receive outstanding from `peer`. */
  private expect(peer: number): void {
    this.recvsPending++;
    this.waitingOn.set(peer, (this.waitingOn.get(peer) ?? 0) + 1);
  }

  /** One receive fewer waited for from `peer` (for the timeout message). */
  private unexpect(peer: number): void {
    const left = this.waitingOn.get(peer)! - 1;
    if (left === 0) this.waitingOn.delete(peer);
    else this.waitingOn.set(peer, left);
  }

  /** The posted receive of frame `tag` from `peer` into `dest`: checks the frame, then `onDone`. */
  private receiveInto(
    peer: number, tag: number, dest: FrameData, onDone: (header: FrameHeader) => void,
    check: ((header: FrameHeader) => CollectiveError | undefined) | undefined, wire: WireDtype,
  ): PostedReceive {
    const bytes = new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength);
    return {
      dest: bytes,
      onFrame: (header, payload) => {
        if (this.settled) return;
        const sent = header.flags & WIRE_FLAG_MASK;
        const name = this.nameOf(peer);
        const me = this.nameOf(this.rank);
        if (sent !== wireCode(wire)) {
          return this.fail(
            new CollectiveMismatchError(
              `${this.label}: rank ${name} sent ${wireOfCode(sent) ?? `element type ${sent}`} elements as frame ${tag} where rank ${me} expected ${wire}; every rank must pass the same wire option`,
              { op: this.opName, seq: this.seq, ranks: [me, name] },
            ),
          );
        }
        const rejected = check?.(header);
        if (rejected) return this.fail(rejected);
        if (payload.length !== bytes.length) {
          return this.fail(
            new CollectiveMismatchError(
              `${this.label}: rank ${name} sent ${payload.length} bytes as frame ${tag} where rank ${me} expected ${bytes.length}; the ranks passed buffers of different sizes`,
              { op: this.opName, seq: this.seq, ranks: [me, name] },
            ),
          );
        }
        onDone(header);
        this.recvsPending--;
        this.unexpect(peer);
        this.maybeFinish();
      },
    };
  }

  scratch(slot: string, elems: number): Float32Array {
    return this.p.scratch(slot, elems);
  }

  /** The algorithm has issued its initial sends and receives; completion may now be detected. */
  start(): void {
    this.started = true;
    this.maybeFinish();
  }

  /** A peer's descriptor arrived (and matched). */
  arrived(peer: number): void {
    this.arrivalsMissing.delete(peer);
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.started || this.settled) return;
    if (this.recvsPending === 0 && this.writesPending === 0 && this.arrivalsMissing.size === 0) {
      this.settled = true;
      this.resolveDone();
    }
  }

  fail(err: CollectiveError): void {
    if (this.settled) return;
    this.settled = true;
    this.onFail(err);
    this.rejectDone(err);
  }
}
