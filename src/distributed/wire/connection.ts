// An authenticated, framed TCP connection: the handshake (auth.ts) runs first, then every byte is
// parsed as frames (frame-reader.ts). Used by the peer links and by the store.
//
// Dialed sockets read with `onread`, so frame payloads can land straight in the receiver's
// buffers; accepted sockets read 'data' chunks (Node offers `onread` only on sockets it dials,
// which is why peer links are dialed by the side that receives on them; see
// transport/tcp-transport.ts).
import net from "node:net";
import { Handshake, HandshakeDeadlineError, type AuthRole } from "./auth.js";
import { ByteStream } from "./byte-consumer.js";
import { AuthError } from "../base/errors.js";
import { ClosedDuringHandshakeError } from "../base/retry.js";
import { encodeHeader, FRAME_HEADER_BYTES, isUpkeep, type FrameHeader, type FrameLimits } from "./frame.js";
import { FrameReader, type FrameSink } from "./frame-reader.js";
import type { Logger } from "../base/log.js";
import type { TrafficCounter } from "../base/traffic-counter.js";

export interface ConnectionOptions {
  /** HMAC key of the job secret (secret.ts: secretKey). */
  secret: Buffer;
  limits: FrameLimits;
  /** The whole challenge-response must finish within this time. */
  handshakeTimeoutMs: number;
  /**
   * Makes the receiver of the frames that follow the handshake. Called with the connection before
   * any byte is read, since the first frame may arrive in the same read as the end of the handshake.
   */
  sink: (conn: FramedConnection) => FrameSink;
  log: Logger;
  /**
   * Counts the bytes of every frame sent and received on this connection, headers included
   * (Note [traffic counters] in base/traffic-counter.ts). The authentication handshake before
   * the first frame (72 bytes each way) is not counted, so a stranger that fails it counts
   * nothing; nor are heartbeats (Note [heartbeats are not traffic] in frame.ts). Peer links pass
   * their group's counter; the store's connections pass none.
   */
  traffic?: TrafficCounter | undefined;
}

/** Payloads up to this size are copied next to their header and sent in one write. */
const COALESCE_BYTES = 16 << 10;

export class FramedConnection {
  /** Called once when the socket closes, with the reason (error message or "closed by peer"). */
  onClose: (reason: string) => void = () => {};
  private closedReason: string | undefined;
  private closing = false;
  private sink: FrameSink | undefined;
  private stages: Stages | undefined;
  /**
   * performance.now() of the last read from the socket, of any size: a byte of a 64 MiB frame
   * still arriving is news from the peer as much as a whole frame (transport/link-watch.ts).
   */
  lastReadMs = performance.now();

  private constructor(
    readonly socket: net.Socket,
    readonly remote: string,
    private readonly log: Logger,
    private readonly traffic: TrafficCounter | undefined,
  ) {}

  /** Dials host:port, authenticates as the client and resolves once both sides are proven. */
  static dial(host: string, port: number, options: ConnectionOptions): Promise<FramedConnection> {
    let conn: FramedConnection | undefined;
    const stages = new Stages("client", options, () => conn!, (bytes) => conn?.socket.write(bytes));
    // Node asks for the first read buffer inside net.connect, so the stages exist before it.
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => stages.stream.nextBuffer(),
        callback: (n: number) => {
          if (conn) conn.lastReadMs = performance.now();
          try {
            // false pauses the socket: a frame is held (Note [hold, don't buffer]).
            return stages.stream.advance(n);
          } catch (err) {
            conn?.fail(err);
            return false;
          }
        },
      },
    });
    conn = new FramedConnection(socket, `${host}:${port}`, options.log, options.traffic);
    conn.attach(options, stages);
    return conn.authenticate(stages, options.handshakeTimeoutMs);
  }

  /**
   * Authenticates an accepted socket as the server. `firstChunk`: bytes already read from it
   * (the listener reads the first chunk itself, so that a silent stranger costs no connection
   * state; Note [pending connections] in listener.ts).
   */
  static accept(socket: net.Socket, options: ConnectionOptions, firstChunk?: Buffer): Promise<FramedConnection> {
    socket.setNoDelay(true);
    const conn = new FramedConnection(socket, `${socket.remoteAddress}:${socket.remotePort}`, options.log, options.traffic);
    const stages = new Stages("server", options, () => conn, (bytes) => socket.write(bytes));
    conn.attach(options, stages);
    const feed = (chunk: Buffer): void => {
      conn.lastReadMs = performance.now();
      try {
        stages.stream.feedChunk(chunk);
      } catch (err) {
        conn.fail(err);
      }
    };
    socket.on("data", feed);
    const authenticated = conn.authenticate(stages, options.handshakeTimeoutMs);
    if (firstChunk) feed(firstChunk);
    return authenticated;
  }

  private authenticate(stages: Stages, timeoutMs: number): Promise<FramedConnection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          this.closing = true;
          this.socket.destroy();
          reject(err);
        } else {
          resolve(this);
        }
      };
      const timer = setTimeout(
        () => settle(new HandshakeDeadlineError(`authentication with ${this.remote} did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      stages.onDone = settle;
      // A connection closed after it was established is worth dialing again (a full listener
      // closes newcomers: Note [pending connections] in listener.ts); a connect that failed is not
      // this error, so base/retry.ts decides on it from its code (ECONNREFUSED) as before.
      let established = stages.role === "server";
      this.socket.on("error", (err) => {
        this.closedReason ??= err.message;
      });
      this.socket.on("close", () => {
        const reason = this.closedReason ?? "closed by peer";
        this.closedReason = reason;
        if (!settled) {
          // A client whose connect never succeeded was not authenticating: say it could not connect.
          if (established) settle(new ClosedDuringHandshakeError(`connection with ${this.remote} closed during authentication (${reason})`));
          else settle(new AuthError(`could not connect to ${this.remote} (${reason})`));
        } else if (!this.closing) this.onClose(reason);
      });
      if (stages.role === "client") {
        this.socket.once("connect", () => {
          established = true;
          stages.handshake.start();
        });
      } else stages.handshake.start();
    });
  }

  private attach(options: ConnectionOptions, stages: Stages): void {
    this.stages = stages;
    this.sink = options.sink(this);
    this.sink.attachResume?.(() => this.resumeReading());
  }

  /** Restarts reading after a held frame got its place (Note [hold, don't buffer]). */
  private resumeReading(): void {
    const reader = this.stages?.reader;
    if (!reader?.holding || !this.open) return;
    try {
      if (reader.resume()) this.socket.resume();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Whether reading is stopped on a held frame (Note [hold, don't buffer]): we are not listening, by choice. */
  get holding(): boolean {
    return this.stages?.reader?.holding ?? false;
  }

  /** The frame sink made for this connection. */
  sinkOf(): FrameSink {
    return this.sink!;
  }

  /** Whether the socket is still open. */
  get open(): boolean {
    return this.closedReason === undefined && !this.closing;
  }

  /**
   * Sends one frame. `payload` must stay unchanged until `onWritten` runs (the bytes are handed to
   * the kernel without a copy). Returns false when the socket's buffer is above its high-water mark.
   */
  send(header: Omit<FrameHeader, "payloadBytes">, payload?: Uint8Array, onWritten?: (err?: Error | null) => void): boolean {
    const bytes = payload?.length ?? 0;
    const full = { ...header, payloadBytes: bytes };
    if (!isUpkeep(header.type)) this.traffic?.addSent(FRAME_HEADER_BYTES + bytes);
    if (bytes <= COALESCE_BYTES) {
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes);
      encodeHeader(full, out, 0);
      if (payload) out.set(payload, FRAME_HEADER_BYTES);
      return this.socket.write(out, onWritten);
    }
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    encodeHeader(full, head, 0);
    this.socket.cork();
    this.socket.write(head);
    const ok = this.socket.write(payload!, onWritten);
    this.socket.uncork();
    return ok;
  }

  /** Closes on a protocol error (a malformed or unexpected frame): logs it and destroys the socket. */
  fail(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (this.closedReason === undefined && !this.closing) this.log(`closed the connection with ${this.remote}: ${reason}`);
    this.closedReason ??= reason;
    this.socket.destroy();
  }

  /**
   * Graceful close: FIN after pending writes; no onClose callback. A peer that does not close its
   * side within `lingerMs` (frozen, or not reading our pending writes) has the socket destroyed.
   */
  close(lingerMs = 1000): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), lingerMs);
    this.socket.once("close", () => clearTimeout(timer));
  }
}

/**
 * The byte stream of one connection: the handshake first, then the frame reader.
 *
 * Until the handshake is done the socket reads only into the handshake's own buffer, exactly the
 * bytes of the message it expects (40 or 72); the frame reader and its 64 KiB staging buffer are
 * made only once the peer has proven the secret, so a stranger costs a few hundred bytes, not
 * 64 KiB (issue 12, item 7). The reader is made inside the handshake's last step, before the
 * bytes after it (perhaps the first frame, in the same read) are handed on.
 */
class Stages {
  readonly handshake: Handshake;
  readonly stream: ByteStream;
  reader: FrameReader | undefined;
  onDone: (err?: Error) => void = () => {};

  constructor(
    readonly role: AuthRole,
    options: ConnectionOptions,
    conn: () => FramedConnection,
    write: (bytes: Buffer) => void,
  ) {
    this.handshake = new Handshake(role, options.secret, write, (err) => {
      if (!err) {
        this.reader = new FrameReader({ limits: options.limits, traffic: options.traffic, sink: { destinationFor: (h) => conn().sinkOf().destinationFor(h), onFrame: (h, p) => conn().sinkOf().onFrame(h, p) } });
        this.stream.switchTo(this.reader);
      }
      this.onDone(err);
    });
    this.stream = new ByteStream(this.handshake);
  }
}
