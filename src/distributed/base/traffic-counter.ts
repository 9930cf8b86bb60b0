// Cumulative bytes a group's links have sent and received, kept where the bytes move and read
// from wherever the group is used.
//
// Note [traffic counters]: a TCP group's sockets live on its comm thread, but ProcessGroup.traffic()
// is called on the main thread (by the training loop, every step), so the counts sit in a 24-byte
// SharedArrayBuffer that the comm thread writes and the main thread reads synchronously, with no
// message per read. Bytes are counted in float64 cells (exact up to 2^53, 8 PiB), and the
// ECMAScript memory model lets a plain float64 access to shared memory tear (Atomics take integer
// arrays only), so the cells are guarded by a sequence lock: the one writer makes the sequence
// number odd, adds, and makes it even again; a reader retries until it saw the same even number
// before and after reading the cells. An update costs two Atomics.store and an addition, and
// allocates nothing. Each counter has exactly one writing thread (the comm thread for TCP, the
// main thread in-process and for shared memory); any thread may read.

/** Bytes put on and taken off the wire (payload and frame headers). */
export interface Traffic {
  sent: number;
  received: number;
}

/** Layout of the buffer: two float64 cells, then the int32 sequence number. */
const SENT = 0;
const RECEIVED = 1;
const SEQ_OFFSET = 16;
const BUFFER_BYTES = 24;

export class TrafficCounter {
  /** The shared memory itself: post it to another thread and wrap it there to count from there. */
  readonly buffer: SharedArrayBuffer;
  private readonly cells: Float64Array;
  private readonly seq: Int32Array;

  /** A fresh counter, or (with `buffer`) a view of one made on another thread. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BUFFER_BYTES)) {
    if (buffer.byteLength !== BUFFER_BYTES) throw new RangeError(`a traffic counter needs a ${BUFFER_BYTES}-byte SharedArrayBuffer, got ${buffer.byteLength} bytes`);
    this.buffer = buffer;
    this.cells = new Float64Array(buffer, 0, 2);
    this.seq = new Int32Array(buffer, SEQ_OFFSET, 1);
  }

  /** Counts `bytes` sent. Only the counter's writing thread may call this (Note [traffic counters]). */
  addSent(bytes: number): void {
    this.add(SENT, bytes);
  }

  /** Counts `bytes` received. Only the counter's writing thread may call this. */
  addReceived(bytes: number): void {
    this.add(RECEIVED, bytes);
  }

  private add(cell: number, bytes: number): void {
    // The writer is the only thread that changes seq, so a plain read of it is current.
    const s = this.seq[0]!;
    Atomics.store(this.seq, 0, (s + 1) | 0);
    this.cells[cell] = this.cells[cell]! + bytes;
    Atomics.store(this.seq, 0, (s + 2) | 0);
  }

  /** The totals so far, as one consistent snapshot. */
  read(): Traffic {
    for (;;) {
      const before = Atomics.load(this.seq, 0);
      if ((before & 1) !== 0) continue; // an update is half done: it takes nanoseconds
      const sent = this.cells[SENT]!;
      const received = this.cells[RECEIVED]!;
      if (Atomics.load(this.seq, 0) === before) return { sent, received };
    }
  }
}
