// A cap on the dashboard's open connections that a slow or hostile client cannot use to shut
// out everyone else.
//
// Note [connection cap]
// node:http's own `server.maxConnections` refuses the newcomer once the cap is reached, so a
// client that opens the cap's worth of connections and sends half a request on each (until the
// header deadline closes them) keeps a user's browser out for that long. Here the cap evicts
// instead: when a connection arrives at the cap, the oldest connection with no request in
// progress (half a request, or a kept-alive one between requests) is closed to make room. Only
// when every connection is busy answering (event streams, capped on their own) is the
// newcomer refused.
import type { Server } from "node:http";
import type { Socket } from "node:net";

/** Keeps at most `max` connections open on `server` (Note [connection cap]). */
export function capConnections(server: Server, max: number): void {
  // Insertion order is age order: the first idle entry is the oldest idle connection.
  const busy = new Map<Socket, boolean>();
  server.on("connection", (socket: Socket) => {
    if (busy.size >= max) {
      let evicted = false;
      for (const [s, working] of busy) {
        if (working) continue;
        busy.delete(s);
        s.destroy();
        evicted = true;
        break;
      }
      if (!evicted) return void socket.destroy();
    }
    busy.set(socket, false);
    socket.once("close", () => busy.delete(socket));
  });
  server.on("request", (req, res) => {
    const socket = req.socket;
    if (!busy.has(socket)) return;
    busy.set(socket, true);
    res.once("close", () => {
      if (busy.has(socket)) busy.set(socket, false);
    });
  });
}
