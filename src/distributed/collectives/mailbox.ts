// Matching of incoming Data and P2P frames to the receives the running operation posted, for one
// peer. A frame is keyed by (type, seq, tag). When its receive is already posted the frame reader
// writes the payload straight into the posted destination; a frame that arrives first (its peer is
// ahead of us) is kept as an "unexpected" frame and copied when the receive is posted, the way
// MPI's eager protocol does. Over TCP early frames are held in the socket instead
// (Note [hold, don't buffer] in frame-reader.ts); the in-process transport uses the eager path.
import type { FrameHeader } from "../wire/frame.js";
import { HOLD_FRAME } from "../wire/frame-reader.js";

export interface PostedReceive {
  dest: Uint8Array;
  /** The frame is in `dest` (or, on a length mismatch, in `payload`, and dest is untouched). */
  onFrame(header: FrameHeader, payload: Uint8Array): void;
  /**
   * Receive-any only (recv-any.ts): asked when a frame matches, before anything is written into
   * `dest`; true takes the frame (and claims the receive for this peer), false leaves it where it
   * is, for a later receive, as if nothing were posted. Must answer true again for the frame it took.
   */
  claim?(header: FrameHeader): boolean;
}

function key(type: number, seq: number, tag: number): string {
  return `${type}:${seq}:${tag}`;
}

export class Mailbox {
  private readonly posted = new Map<string, PostedReceive>();
  private readonly unexpected = new Map<string, { header: FrameHeader; payload: Uint8Array }>();
  /** Called after each post, so a reader holding a frame can ask again (set by the link). */
  onPost: () => void = () => {};

  /** Posts a receive; if the frame is already here it is delivered before this returns. */
  post(type: number, seq: number, tag: number, receive: PostedReceive): void {
    const k = key(type, seq, tag);
    const early = this.unexpected.get(k);
    if (early && (!receive.claim || receive.claim(early.header))) {
      this.unexpected.delete(k);
      if (early.payload.length === receive.dest.length) receive.dest.set(early.payload);
      receive.onFrame(early.header, early.payload);
      return;
    }
    this.posted.set(k, receive);
    this.onPost();
  }

  /**
   * The posted destination for a frame; HOLD_FRAME while its receive is not posted yet; undefined
   * (allocate, so the receive sees the wrong length) when the lengths differ.
   */
  destinationFor(h: FrameHeader): Uint8Array | undefined | typeof HOLD_FRAME {
    const p = this.posted.get(key(h.type, h.seq, h.tag));
    if (!p || (p.claim && !p.claim(h))) return HOLD_FRAME;
    return p.dest.length === h.payloadBytes ? p.dest : undefined;
  }

  deliver(h: FrameHeader, payload: Uint8Array): void {
    const k = key(h.type, h.seq, h.tag);
    const p = this.posted.get(k);
    if (!p || (p.claim && !p.claim(h))) {
      this.unexpected.set(k, { header: h, payload });
      return;
    }
    this.posted.delete(k);
    if (payload !== p.dest && payload.length === p.dest.length) p.dest.set(payload);
    p.onFrame(h, payload);
  }

  /** Takes back `receive` if it is still posted (receive-any, once another peer claimed it). */
  withdraw(type: number, seq: number, tag: number, receive: PostedReceive): void {
    const k = key(type, seq, tag);
    if (this.posted.get(k) === receive) this.posted.delete(k);
  }

  /** Drops everything (the group failed; late frames must not land in user buffers). */
  clear(): void {
    this.posted.clear();
    this.unexpected.clear();
  }

  /** Number of receives still waiting. */
  get waiting(): number {
    return this.posted.size;
  }
}
