// A throwaway etcd cluster for tests: N members on loopback, each on two free ports (client and
// peer) with its data in one temporary folder. `close()` kills every member and removes the
// folder; call it in a `finally` or an `after` hook so a failing test leaves nothing behind, and a
// process-exit hook kills any member a crashed test runner forgot.
//
// Raft is tuned for tests: a 50 ms heartbeat and a 500 ms election timeout make a new leader
// appear within about a second of killing the old one (the defaults, 100 / 1000 ms, take twice as
// long). On a loaded machine that can cause an extra election now and then, which only costs a
// retry: the store under test must ride out elections anyway.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Why etcd tests cannot run here (a reason for t.skip), or undefined when the `etcd` binary is on
 * PATH. Under CI a missing etcd throws instead: .ci/run installs it, so a skip there would hide a
 * broken install step behind a green run.
 */
export function etcdMissing(): string | undefined {
  const probe = spawnSync("etcd", ["--version"], { encoding: "utf8" });
  if (probe.error === undefined && probe.status === 0) return undefined;
  const reason = "the etcd binary is not on PATH (apt-get install etcd-server; .ci/run installs it)";
  if (process.env["CI"] === "true") throw new Error(`etcd tests under CI: ${reason}: check .ci/run's install step`);
  return reason;
}

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
}

/** Every cluster not yet closed, so a process exit can still kill its members. */
const live = new Set<EtcdCluster>();
process.on("exit", () => {
  for (const c of live) c.killAllNow();
});

export class EtcdCluster {
  private constructor(
    private readonly dir: string,
    private readonly members: Member[],
  ) {}

  /** Starts `size` members as one new cluster and waits until every member reports healthy. */
  static async start(size: number, opts: { readyTimeoutMs?: number } = {}): Promise<EtcdCluster> {
    const dir = mkdtempSync(join(tmpdir(), "weft-etcd-"));
    const ports = await freePorts(2 * size);
    const members: Member[] = Array.from({ length: size }, (_, i) => ({
      name: `m${i}`,
      clientPort: ports[2 * i]!,
      peerPort: ports[2 * i + 1]!,
      dataDir: join(dir, `m${i}`),
      logFile: join(dir, `m${i}.log`),
      child: undefined,
    }));
    const cluster = new EtcdCluster(dir, members);
    live.add(cluster);
    try {
      for (let i = 0; i < size; i++) cluster.spawnMember(i);
      await Promise.all(members.map((_, i) => cluster.waitHealthy(i, opts.readyTimeoutMs ?? 20_000)));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** "127.0.0.1:PORT" of each member's client URL, in member order. */
  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  get size(): number {
    return this.members.length;
  }

  private spawnMember(i: number): void {
    const m = this.members[i]!;
    const peers = this.members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(",");
    const log = openSync(m.logFile, "a");
    try {
      m.child = spawn(
        "etcd",
        [
          "--name", m.name,
          "--data-dir", m.dataDir,
          "--listen-client-urls", `http://127.0.0.1:${m.clientPort}`,
          "--advertise-client-urls", `http://127.0.0.1:${m.clientPort}`,
          "--listen-peer-urls", `http://127.0.0.1:${m.peerPort}`,
          "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peerPort}`,
          "--initial-cluster", peers,
          "--initial-cluster-state", "new",
          "--initial-cluster-token", `weft-test-${process.pid}`,
          "--heartbeat-interval", "50",
          "--election-timeout", "500",
          "--logger", "zap",
          "--log-level", "warn",
        ],
        { stdio: ["ignore", log, log] },
      );
    } finally {
      closeSync(log);
    }
  }

  /** Waits until member `i` answers /health with a leader behind it; the error carries its log's tail. */
  async waitHealthy(i: number, timeoutMs = 20_000): Promise<void> {
    const m = this.members[i]!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (m.child === undefined || m.child.exitCode !== null || m.child.signalCode !== null) {
        throw new Error(`etcd member ${m.name} is not running (exit ${m.child?.exitCode ?? m.child?.signalCode}); its log ends:\n${this.logTail(i)}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${m.clientPort}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (res.ok && body.health === "true") return;
      } catch {
        // Not listening yet, or no leader yet: ask again below.
      }
      if (Date.now() > deadline) throw new Error(`etcd member ${m.name} was not healthy within ${timeoutMs} ms; its log ends:\n${this.logTail(i)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills member `i` (SIGKILL unless told otherwise) and waits until it has exited. */
  async kill(i: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.members[i]!.child;
    this.members[i]!.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Freezes member `i` (SIGSTOP): its connections stay open and say nothing, like a machine that hung. */
  freeze(i: number): void {
    this.members[i]!.child?.kill("SIGSTOP");
  }

  /** Lets a frozen member run again (SIGCONT). */
  thaw(i: number): void {
    this.members[i]!.child?.kill("SIGCONT");
  }

  /** Starts member `i` again on its old data folder (it rejoins the cluster) and waits until it is healthy. */
  async restart(i: number, timeoutMs = 20_000): Promise<void> {
    await this.kill(i);
    this.spawnMember(i);
    await this.waitHealthy(i, timeoutMs);
  }

  /** Kills every member; the cluster can be restarted member by member. */
  async killAll(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
  }

  /** Synchronous last resort for process exit: no waiting, no cleanup beyond the signal. */
  killAllNow(): void {
    for (const m of this.members) m.child?.kill("SIGKILL");
  }

  /** Kills every member and removes the data folder. Safe to call twice. */
  async close(): Promise<void> {
    await this.killAll();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private logTail(i: number): string {
    const file = this.members[i]!.logFile;
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "(no log)";
  }
}

/** `count` distinct free TCP ports on loopback: all are held open together so none repeats. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createServer();
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}
