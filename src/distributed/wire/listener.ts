// A TCP listener whose connections must authenticate before anything else. Refused connections
// (no secret, wrong secret, silence past the deadline) are logged and closed; the listener and
// every authenticated connection carry on.
import net from "node:net";
import { FramedConnection } from "./connection.js";
import type { FrameLimits } from "./frame.js";
import type { FrameSink } from "./frame-reader.js";
import type { Logger } from "../base/log.js";
import type { TrafficCounter } from "../base/traffic-counter.js";

export interface ListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  secret: Buffer;
  limits: FrameLimits;
  handshakeTimeoutMs: number;
  log: Logger;
  /** Names the listener in log lines, e.g. "store" or "rank 2". */
  label: string;
  /** Counts the frames of accepted connections (connection.ts: ConnectionOptions.traffic). */
  traffic?: TrafficCounter | undefined;
}

/** What the owner provides for accepted sockets: a frame sink per connection, and what to do once it is proven. */
export interface AcceptedConnectionSetup {
  sink(conn: FramedConnection): FrameSink;
  onAuthenticated(conn: FramedConnection): void;
}

export class AuthenticatedListener {
  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static listen(options: ListenerOptions, setup: AcceptedConnectionSetup): Promise<AuthenticatedListener> {
    const server = net.createServer((socket) => {
      FramedConnection.accept(socket, { ...options, sink: (conn) => setup.sink(conn) }).then(
        (conn) => setup.onAuthenticated(conn),
        (err: Error) => options.log(`${options.label}: refused connection from ${socket.remoteAddress}:${socket.remotePort}: ${err.message}`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        const addr = server.address() as net.AddressInfo;
        resolve(new AuthenticatedListener(server, options.host, addr.port));
      });
    });
  }

  /** Stops accepting; existing connections are closed by their owners. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
