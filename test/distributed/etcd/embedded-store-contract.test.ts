// The embedded store (StoreServer + StoreClient) against the RendezvousStore contract that
// EtcdStore is held to in etcd-store.test.ts: one set of assertions, both implementations.
import { StoreServer } from "../../../src/distributed/rendezvous/store-server.js";
import { StoreClient } from "../../../src/distributed/rendezvous/store-client.js";
import { generateSecret, secretKey } from "../../../src/distributed/wire/secret.js";
import { rendezvousStoreContract } from "../helpers/store-contract.js";

rendezvousStoreContract("the embedded store", async () => {
  const secret = secretKey(generateSecret());
  const server = await StoreServer.listen({ secret, log: () => undefined });
  return {
    connect: () => StoreClient.connect({ host: "127.0.0.1", port: server.port, secret }),
    close: () => server.close(),
  };
});
