// A real embedded store on loopback for one test: `connect()` makes as many clients as the test
// wants (one per simulated worker); all of them and the server are closed when `fn` ends.
import { StoreClient } from "../../../src/distributed/rendezvous/store-client.js";
import { StoreServer } from "../../../src/distributed/rendezvous/store-server.js";
import { secretKey } from "../../../src/distributed/wire/secret.js";

export async function withStore<T>(fn: (connect: () => Promise<StoreClient>) => Promise<T>): Promise<T> {
  const secret = secretKey("with-store-test-secret-0123456789");
  const server = await StoreServer.listen({ secret, log: () => {} });
  const clients: StoreClient[] = [];
  try {
    return await fn(async () => {
      const c = await StoreClient.connect({ host: "127.0.0.1", port: server.port, secret, timeoutMs: 10_000 });
      clients.push(c);
      return c;
    });
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}
