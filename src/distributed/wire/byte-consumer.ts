// One interface for the two ways Node hands us socket bytes, so that the handshake and the frame
// parser are written once:
//  - dialed sockets use `onread`: the kernel writes straight into the buffer we return from
//    nextBuffer() (this is how frame payloads land directly in a SharedArrayBuffer), then we are
//    told how many bytes arrived;
//  - accepted sockets get 'data' chunks, which feedChunk() copies through the same two calls.

/** Something that consumes a byte stream by lending out the buffer the next bytes go to. */
export interface ByteConsumer {
  /** Where the next bytes should be written. Never longer than what this consumer may take. */
  nextBuffer(): Uint8Array;
  /**
   * `n` bytes were written at the start of the buffer last returned by nextBuffer(). Returns
   * false when the consumer wants no more bytes until it is resumed (frame-reader.ts).
   */
  advance(n: number): boolean;
}

/** A consumer chain: when a stage (e.g. the handshake) finishes it hands over to the next. */
export class ByteStream implements ByteConsumer {
  constructor(private current: ByteConsumer) {}

  switchTo(next: ByteConsumer): void {
    this.current = next;
  }

  nextBuffer(): Uint8Array {
    return this.current.nextBuffer();
  }

  advance(n: number): boolean {
    return this.current.advance(n);
  }

  /**
   * Pushes a chunk that has already been read (the 'data' event path). Connections read this way
   * carry no frames that can be held, so a consumer that stops with bytes left is an error.
   */
  feedChunk(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const dst = this.current.nextBuffer();
      const k = Math.min(dst.length, chunk.length - off);
      if (k === 0) throw new Error("byte consumer lent an empty buffer");
      dst.set(chunk.subarray(off, off + k));
      off += k;
      if (!this.current.advance(k) && off < chunk.length) throw new Error("a frame was held on a connection that cannot pause");
    }
  }
}
