// Public entry of Weft's communication layer (see docs/distributed.md).
export * from "./errors.js";
export { StoreServer, type StoreServerOptions } from "./store/store-server.js";
export { StoreClient, type StoreClientOptions } from "./store/store-client.js";
export { generateSecret, readSecretFile, secretKey } from "./secret.js";

/** `weft launch ...`: returns the job's exit code. */
export async function runLaunch(argv: string[]): Promise<number> {
  void argv;
  process.stderr.write("weft launch: not available yet in this build\n");
  return 2;
}

/** `weft bench allreduce ...`: prints one JSON line per message size. */
export async function runAllreduceBench(argv: string[]): Promise<void> {
  void argv;
  throw new Error("weft bench allreduce: not available yet in this build");
}
