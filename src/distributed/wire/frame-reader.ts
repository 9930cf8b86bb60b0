// Incremental frame parser that can land payloads directly in the caller's memory.
//
// Headers (and small payloads) are read into a preallocated staging buffer. Once a header is
// validated the sink is asked for a destination of exactly `payloadBytes`; while a large part of
// that payload is still missing, nextBuffer() lends the destination itself to the socket, so the
// kernel copies the bytes straight into, e.g., the all-reduce's SharedArrayBuffer. Because the
// lent view ends exactly where the payload ends, a read can never spill into the next frame.
//
// Note [hold, don't buffer]: a sink may answer HOLD_FRAME for a frame it has no place for yet (a
// peer running ahead of us). The reader then stops: advance() returns false, the socket is paused,
// and TCP's own flow control makes the sender wait, instead of us allocating and copying every
// early frame. The sink calls resume() (through the connection) once it has posted a place.
import type { ByteConsumer } from "./byte-consumer.js";
import { decodeHeader, FRAME_HEADER_BYTES, isUpkeep, type FrameHeader, type FrameLimits } from "./frame.js";
import { FrameError } from "../base/errors.js";
import type { TrafficCounter } from "../base/traffic-counter.js";

/** What a sink answers for a frame it will have a place for later (Note [hold, don't buffer]). */
export const HOLD_FRAME: unique symbol = Symbol("hold frame");

export interface FrameSink {
  /**
   * A place for the payload of `header`, exactly `header.payloadBytes` long; undefined to have the
   * reader allocate one; or HOLD_FRAME to stop reading until resume(). Called only after the
   * header passed validation, and again for a held header on each resume().
   */
  destinationFor(header: FrameHeader): Uint8Array | undefined | typeof HOLD_FRAME;
  /** A whole frame arrived; `payload` is the destination returned above (or the allocated one). */
  onFrame(header: FrameHeader, payload: Uint8Array): void;
  /** Gives the sink the function that restarts a reader holding a frame. */
  attachResume?(resume: () => void): void;
}

export interface FrameReaderOptions {
  limits: FrameLimits;
  sink: FrameSink;
  /** Staging buffer size: the most bytes one read may take while no payload destination is lent. */
  stagingBytes?: number;
  /** Payload remainders at least this big are read straight into their destination. */
  directReadMinBytes?: number;
  /** Allocator for payloads the sink has no place for (a hook so tests can see it is never reached). */
  allocate?: (bytes: number) => Uint8Array;
  /**
   * Counts the bytes of every frame this reader parses as received, headers included, except
   * heartbeats (a peer link's; Note [traffic counters], Note [heartbeats are not traffic]).
   */
  traffic?: TrafficCounter | undefined;
}

const EMPTY = new Uint8Array(0);

export class FrameReader implements ByteConsumer {
  private readonly limits: FrameLimits;
  private readonly sink: FrameSink;
  private readonly staging: Uint8Array;
  private readonly directReadMinBytes: number;
  private readonly allocate: (bytes: number) => Uint8Array;
  private readonly traffic: TrafficCounter | undefined;
  /** Unparsed bytes live in staging[start, end). */
  private start = 0;
  private end = 0;
  /** The frame whose payload is being received, its destination and how much of it is filled. */
  private header: FrameHeader | undefined;
  private dest: Uint8Array = EMPTY;
  private filled = 0;
  /** Whether the last nextBuffer() lent `dest` rather than staging. */
  private lentDirect = false;
  /** Whether the last frame's payload was read directly (so the next one is likely big too). */
  private lastWasDirect = false;
  private failed: FrameError | undefined;
  /** A validated header whose sink answered HOLD_FRAME; reading is stopped until resume(). */
  private held: FrameHeader | undefined;
  /**
   * Frame bytes parsed since the counter was last written. Bytes are counted as they are parsed,
   * not as they are read, so that a heartbeat whose header spans two reads is never counted in
   * part (the totals only grow); the counter is written once per read, not once per frame.
   */
  private uncounted = 0;

  constructor(options: FrameReaderOptions) {
    this.limits = options.limits;
    this.sink = options.sink;
    this.staging = new Uint8Array(Math.max(options.stagingBytes ?? 64 << 10, FRAME_HEADER_BYTES * 2));
    this.directReadMinBytes = options.directReadMinBytes ?? 16 << 10;
    this.allocate = options.allocate ?? ((n) => new Uint8Array(n));
    this.traffic = options.traffic;
  }

  nextBuffer(): Uint8Array {
    if (this.failed) throw this.failed;
    if (this.header && this.dest.length - this.filled >= this.directReadMinBytes) {
      this.lentDirect = true;
      return this.dest.subarray(this.filled);
    }
    this.lentDirect = false;
    if (this.start === this.end) {
      this.start = this.end = 0;
      // After a big payload, read just the next header, so that its payload (probably big too)
      // goes straight to its destination instead of its first ~64 KiB through staging.
      if (this.lastWasDirect && !this.header) return this.staging.subarray(0, FRAME_HEADER_BYTES);
    } else if (this.staging.length - this.end < FRAME_HEADER_BYTES) {
      this.staging.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    return this.staging.subarray(this.end);
  }

  /** Consumes `n` bytes; returns false when a frame is held and reading must stop. */
  advance(n: number): boolean {
    if (this.failed) throw this.failed;
    if (this.lentDirect) {
      this.lastWasDirect = true;
      this.filled += n;
      this.uncounted += n;
      try {
        if (this.filled === this.dest.length) this.finishFrame();
      } finally {
        this.count();
      }
      return this.held === undefined;
    }
    this.end += n;
    return this.parseGuarded();
  }

  /** Whether a frame is held (reading stopped). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Asks again for a held frame's place; returns true when reading may continue. */
  resume(): boolean {
    if (this.held === undefined || this.failed) return false;
    const header = this.held;
    const dest = this.sink.destinationFor(header);
    if (dest === HOLD_FRAME) return false;
    this.held = undefined;
    this.begin(header, dest);
    return this.parseGuarded();
  }

  private parseGuarded(): boolean {
    try {
      this.parse();
    } catch (err) {
      this.failed = err instanceof FrameError ? err : new FrameError(String(err));
      throw err;
    } finally {
      this.count();
    }
    return this.held === undefined;
  }

  private count(): void {
    if (this.uncounted === 0) return;
    this.traffic?.addReceived(this.uncounted);
    this.uncounted = 0;
  }

  private begin(header: FrameHeader, lent: Uint8Array | undefined): void {
    const dest = lent ?? this.allocate(header.payloadBytes);
    if (dest.length !== header.payloadBytes) {
      throw new FrameError(`frame sink lent ${dest.length} bytes for a ${header.payloadBytes}-byte payload`);
    }
    this.header = header;
    this.dest = dest;
    this.filled = 0;
    this.lastWasDirect = false;
    if (dest.length === 0) this.finishFrame();
  }

  private parse(): void {
    while (this.held === undefined) {
      if (this.header) {
        const k = Math.min(this.end - this.start, this.dest.length - this.filled);
        if (k > 0) {
          this.dest.set(this.staging.subarray(this.start, this.start + k), this.filled);
          this.start += k;
          this.filled += k;
          this.uncounted += k;
        }
        if (this.filled < this.dest.length) return;
        this.finishFrame();
        continue;
      }
      if (this.end - this.start < FRAME_HEADER_BYTES) return;
      const header = decodeHeader(this.staging, this.start, this.limits);
      this.start += FRAME_HEADER_BYTES;
      if (!isUpkeep(header.type)) this.uncounted += FRAME_HEADER_BYTES;
      const lent = this.sink.destinationFor(header);
      if (lent === HOLD_FRAME) {
        this.held = header;
        return;
      }
      this.begin(header, lent);
    }
  }

  private finishFrame(): void {
    const header = this.header!;
    const payload = this.dest;
    this.header = undefined;
    this.dest = EMPTY;
    this.filled = 0;
    this.lentDirect = false;
    this.sink.onFrame(header, payload);
  }
}
