// Endpoints of an etcd cluster as the user writes them ("10.0.0.1:2379", "[fe80::1]:2379"), and
// the local address this host reaches them from.
import { connect } from "node:net";

/** Host and port of "HOST:PORT" or "[IPV6]:PORT" (port `minPort`-65535), or undefined when it is not one. */
export function parseHostPort(text: string, minPort = 1): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < minPort || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * The local address of a TCP connection to the first endpoint that accepts one, trying all of
 * them at once and again with backoff until `deadline` (ms epoch); the last failure if none did.
 * This is the interface peers can dial this host on, as StoreClient's localAddress is for the
 * embedded store: the route to the rendezvous is the route the job's network uses.
 */
export async function probeLocalAddress(endpoints: readonly string[], deadline: number): Promise<string | Error> {
  let last = new Error("no attempt: the deadline had passed");
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const probeMs = Math.max(1, Math.min(1000, deadline - Date.now()));
    try {
      return await Promise.any(endpoints.map((ep) => localAddressTowards(ep, probeMs)));
    } catch (err) {
      // Nobody accepted yet (a cluster still starting refuses): wait a little and try again.
      last = (err as AggregateError).errors.at(-1) ?? last;
      const pause = Math.min(50 * 2 ** attempt, 500, Math.max(0, deadline - Date.now()));
      await new Promise((r) => setTimeout(r, pause));
    }
  }
  return last;
}

function localAddressTowards(endpoint: string, timeoutMs: number): Promise<string> {
  const hp = parseHostPort(endpoint);
  if (hp === undefined) return Promise.reject(new Error(`not HOST:PORT: ${endpoint}`));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hp.host, port: hp.port });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      const local = socket.localAddress;
      socket.destroy();
      if (local === undefined) reject(new Error(`no local address towards ${endpoint}`));
      else resolve(local);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
