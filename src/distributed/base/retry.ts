// Dialing a listener that may not be up yet (a store on another node, a peer still starting), or
// that is up but closes newcomers while strangers fill its authenticating slots (Note [pending
// connections] in wire/listener.ts).
import { AuthError } from "./errors.js";

/**
 * The other side closed or reset an established connection before the handshake finished: what a
 * dialer sees from a listener at its cap of unauthenticated connections, or from one restarting.
 * Defined here, beside the loop that retries it, because base/ cannot import wire/ where it is thrown.
 */
export class ClosedDuringHandshakeError extends AuthError {
  override name = "ClosedDuringHandshakeError";
}

// A refused connect (nobody listening yet), or one reset under us (a full listener on another
// machine may answer the hello with RST rather than FIN). Unreachable hosts and a failed proof are
// not retried: waiting would not change them.
const RETRIED = /ECONNREFUSED|ECONNRESET|EPIPE/;

/**
 * Calls `dial` until it succeeds, retrying with backoff until `deadline` (ms epoch) while the
 * connection is refused, reset, or closed before its handshake finished.
 */
export async function retryWhileRefused<T>(what: string, deadline: number, dial: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await dial();
    } catch (err) {
      const msg = (err as Error).message;
      const again = err instanceof ClosedDuringHandshakeError || RETRIED.test(msg);
      if (!again || Date.now() > deadline) {
        const hint = err instanceof ClosedDuringHandshakeError ? `; it kept closing new connections before they authenticated: it is at its cap of unauthenticated connections (strangers are connecting to it) or is not a Weft listener` : "";
        // A dial that never connected says so itself; `what` already names the place, so keep its reason only.
        const reason = msg.replace(/^could not connect to \S+ \((.*)\)$/s, "$1");
        throw new Error(`could not connect to ${what}: ${reason}${hint}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 500)));
    }
  }
}
