// Runs a worker script as N real child processes around a store served by the test, the way
// `weft launch` would, and collects each rank's output. Always kills the children at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { StoreServer } from "../../../src/distributed/rendezvous/store-server.js";
import { generateSecret, secretKey } from "../../../src/distributed/wire/secret.js";

const DEFAULT_TIMEOUT_MS = 180_000;

export interface RankResult {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Lines of stdout that parse as JSON. */
  json: Record<string, unknown>[];
}

export interface SpawnOptions {
  worldSize: number;
  /** Worker script, relative to dist/test/distributed/workers/. */
  script: string;
  args?: string[];
  /** Node flags for the children (e.g. --cpu-prof). */
  execArgv?: string[];
  env?: Record<string, string>;
  /**
   * Kill everything after this long (the test then fails on the missing results). A safety net for
   * a hung job, not a claim: the default is far above what any job here takes on a loaded machine.
   */
  timeoutMs?: number;
  /** Ranks whose exit ends the run (default all); the others are then killed (e.g. a frozen rank). */
  waitFor?: number[];
  /** Called once the store is up, with what it takes to talk to it. */
  onStore?: (port: number, secret: string) => void;
  /** Called with each child once spawned (e.g. to kill one). */
  onSpawn?: (rank: number, child: ChildProcess) => void;
}

export async function spawnRanks(o: SpawnOptions): Promise<RankResult[]> {
  const secret = generateSecret();
  const store = await StoreServer.listen({ secret: secretKey(secret), log: () => {} });
  const script = fileURLToPath(new URL(`../workers/${o.script}`, import.meta.url));
  const children: ChildProcess[] = [];
  o.onStore?.(store.port, secret);
  try {
    const exits = Array.from({ length: o.worldSize }, (_, rank) => {
        const child = spawn(process.execPath, [...(o.execArgv ?? []), script, ...(o.args ?? [])], {
          env: {
            ...process.env,
            WEFT_RANK: String(rank),
            WEFT_WORLD_SIZE: String(o.worldSize),
            WEFT_LOCAL_RANK: String(rank),
            WEFT_MASTER_ADDR: "127.0.0.1",
            WEFT_MASTER_PORT: String(store.port),
            WEFT_JOB_SECRET: secret,
            ...o.env,
          },
          stdio: ["ignore", "pipe", "pipe"],
        });
        children.push(child);
        o.onSpawn?.(rank, child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        return new Promise<RankResult>((resolve) => {
          child.on("close", (code, signal) => {
            const json = stdout
              .split("\n")
              .filter((l) => l.startsWith("{"))
              .map((l) => JSON.parse(l) as Record<string, unknown>);
            resolve({ rank, code, signal, stdout, stderr, json });
          });
        });
    });
    const waited = o.waitFor ?? exits.map((_, r) => r);
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`ranks did not finish within ${o.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)), o.timeoutMs ?? DEFAULT_TIMEOUT_MS).unref());
    await Promise.race([Promise.all(waited.map((r) => exits[r]!)), deadline]);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    return await Promise.all(exits);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await store.close();
  }
}
