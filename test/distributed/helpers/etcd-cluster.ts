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
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
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

/** PEM files for members that serve clients over TLS and require a client certificate. */
export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate and key the CA signed, for the health check. */
  clientCertFile: string;
  clientKeyFile: string;
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
    private readonly tls: EtcdTlsFiles | undefined,
  ) {}

  /** Starts `size` members as one new cluster and waits until every member reports healthy. */
  static async start(size: number, opts: { readyTimeoutMs?: number; tls?: EtcdTlsFiles } = {}): Promise<EtcdCluster> {
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
    const cluster = new EtcdCluster(dir, members, opts.tls);
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
    const scheme = this.tls === undefined ? "http" : "https";
    const tlsFlags = this.tls === undefined
      ? []
      : ["--cert-file", this.tls.certFile, "--key-file", this.tls.keyFile, "--trusted-ca-file", this.tls.caFile, "--client-cert-auth"];
    const log = openSync(m.logFile, "a");
    try {
      m.child = spawn(
        "etcd",
        [
          "--name", m.name,
          "--data-dir", m.dataDir,
          "--listen-client-urls", `${scheme}://127.0.0.1:${m.clientPort}`,
          "--advertise-client-urls", `${scheme}://127.0.0.1:${m.clientPort}`,
          ...tlsFlags,
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
        if ((await this.health(m.clientPort)) === "true") return;
      } catch {
        // Not listening yet, or no leader yet: ask again below.
      }
      if (Date.now() > deadline) throw new Error(`etcd member ${m.name} was not healthy within ${timeoutMs} ms; its log ends:\n${this.logTail(i)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The member's /health answer ("true" once it has a leader), over TLS when the cluster uses it. */
  private async health(port: number): Promise<string | undefined> {
    if (this.tls === undefined) {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      return ((await res.json()) as { health?: string }).health;
    }
    const tls = this.tls;
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpsGet(
        // No SNI: the server is named by its IP address, which SNI may not carry (RFC 6066).
        { host: "127.0.0.1", servername: "", port, path: "/health", ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile), timeout: 1000 },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(body));
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer within 1000 ms")));
      req.on("error", reject);
    });
    return (JSON.parse(text) as { health?: string }).health;
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

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (CN `clientName`),
 * made with openssl in `dir` (check opensslMissing first). P-256 keys: RSA key generation is slow
 * on a loaded machine.
 */
export function makeTlsFiles(dir: string, clientName = "weft-client"): EtcdTlsFiles {
  const f = (name: string): string => join(dir, name);
  const run = (...args: string[]): void => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...key, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=weft-test-ca");
  const leaf = (name: string, cn: string, ext: string): void => {
    writeFileSync(f(`${name}.ext`), ext);
    run("req", ...key, "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${cn}`);
    run("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial",
      "-out", f(`${name}.crt`), "-days", "2", "-extfile", f(`${name}.ext`));
  };
  leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  leaf("client", clientName, "extendedKeyUsage=clientAuth\n");
  return { caFile: f("ca.crt"), certFile: f("server.crt"), keyFile: f("server.key"), clientCertFile: f("client.crt"), clientKeyFile: f("client.key") };
}

/** Why TLS tests cannot run here, or undefined when openssl is on PATH (under CI, an error: .ci/run installs it). */
export function opensslMissing(): string | undefined {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (probe.error === undefined && probe.status === 0) return undefined;
  const reason = "openssl is not on PATH (apt-get install openssl; .ci/run installs it)";
  if (process.env["CI"] === "true") throw new Error(`etcd TLS tests under CI: ${reason}: check .ci/run's install step`);
  return reason;
}
