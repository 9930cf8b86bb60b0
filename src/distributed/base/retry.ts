// Dialing a listener that may not be up yet (a store on another node, a peer still starting).

/** Calls `dial` until it succeeds, retrying only "connection refused" with backoff until `deadline` (ms epoch). */
export async function retryWhileRefused<T>(what: string, deadline: number, dial: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await dial();
    } catch (err) {
      const msg = (err as Error).message;
      if (!msg.includes("ECONNREFUSED") || Date.now() > deadline) throw new Error(`could not connect to ${what}: ${msg}`);
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 500)));
    }
  }
}
