// Command line of `weft launch`: launcher options, then the script and its own arguments. The
// options are a table for the one parser (options.ts) with stopAtPositional, so everything from the
// script on belongs to the script (`weft launch train.ts --lr 0.1` hands `--lr 0.1` to train.ts).
// Checks that span flags (--node-rank below --nnodes, a secret for several machines) are made here
// too, so a bad command line is one line and exit 2 before anything starts.
import { statSync } from "node:fs";
import { readSecretFile, generateSecret, secretKey } from "../distributed/wire/secret.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { DEFAULT_RDZV_TIMEOUT_MS, type LaunchOptions } from "../distributed/launch/launcher.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";
import { checkWorkerCount } from "./worker-count.js";
import { parseRendezvousUrl } from "../distributed/rendezvous/connect-store.js";
import { randomBytes } from "node:crypto";
import { bareDashboardFlag, DASHBOARD_OPTIONS, dashboardFlags, type DashboardFlags } from "./dashboard-flag.js";

const COMMAND = "weft launch";

export const LAUNCH_OPTIONS = {
  nproc: { type: "int", min: 1, help: "workers on this machine (default 1)" },
  "nproc-per-node": { type: "int", min: 1, help: "the same as --nproc (torchrun's name)" },
  nnodes: { type: "int", min: 1, default: 1, help: "machines in the job" },
  "node-rank": { type: "int", min: 0, default: 0, help: "this machine's index, 0..nnodes-1" },
  rdzv: { type: "string", placeholder: "HOST:PORT", help: "node 0's store (default 127.0.0.1, any port), or etcd://HOST:PORT[,HOST:PORT...] (see below)" },
  "rdzv-id": { type: "string", placeholder: "ID", help: "with an etcd rendezvous: the job's id, the same on every node (its keys live under it)" },
  "rdzv-timeout": { type: "int", min: 1, default: DEFAULT_RDZV_TIMEOUT_MS / 1000, help: "seconds nodes 1.. wait for node 0's store" },
  "secret-file": { type: "string", placeholder: "PATH", help: "the job secret's file (first line); else WEFT_JOB_SECRET" },
  "run-dir": { type: "string", placeholder: "DIR", help: "metrics and rank-<r>.log files (default runs/<job-id>)" },
  "grace-ms": { type: "int", min: 0, default: 5000, help: "SIGTERM-to-SIGKILL delay when stopping workers" },
  "cpu-bind": { type: "choice", choices: ["cores", "none"], default: "cores", help: "cores: a share of the CPUs each; none: the OS decides" },
  oversubscribe: { type: "flag", help: "allow more than 2 workers per CPU" },
  min: { type: "int", min: 1, help: "elastic: a failed worker no longer stops the job while this many are left (docs/elastic.md)" },
  max: { type: "int", min: 1, help: "elastic: the most workers the job takes in (default --nproc x --nnodes)" },
  "max-restarts": { type: "int", min: 0, help: "elastic: replacements this launcher may start for failed workers (default 0)" },
  join: { type: "flag", help: "elastic: add this machine's --nproc workers to a running job (same --rdzv, secret, --min/--max)" },
  "no-metrics": { type: "flag", help: "do not print the live per-step summary" },
  ...DASHBOARD_OPTIONS,
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

export const LAUNCH_USAGE = `usage: weft launch [options] script [script args...]

Starts the workers of a distributed job on this machine, like torchrun. Everything after the
script is the script's own. Node 0 serves the job's store; with --nnodes > 1 every node needs
--rdzv with node 0's address on the job's network and a fixed port, and the same secret.

options:
${describeOptions(LAUNCH_OPTIONS)}

Workers find WEFT_RANK, WEFT_WORLD_SIZE, WEFT_LOCAL_RANK, WEFT_MASTER_ADDR, WEFT_MASTER_PORT,
WEFT_JOB_SECRET and WEFT_RUN_DIR in their environment; initProcessGroup() reads them.
.js/.mjs/.cjs scripts run with this Node, .ts/.mts/.cts ones too through tsx (no build step,
no type check); anything else is executed directly. A single-machine job without a secret gets
a random one. Each worker's output is printed with a [rank] prefix and kept in
<run-dir>/rank-<r>.log; a worker that dies of an uncaught error is summed up in one line.`;

function usage(message: string): UsageError {
  return new UsageError(`${COMMAND}: ${message}`);
}

/** Host and port of --rdzv ("10.0.0.1:29500", "[fe80::1]:29500"). */
function parseRdzv(rdzv: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(rdzv);
  if (!m || Number(m[2]) > 65535) throw usage(`--rdzv must be HOST:PORT with a port up to 65535, got "${rdzv}"`);
  const host = m[1]!;
  if (host === "0.0.0.0" || host === "::") {
    throw usage(`--rdzv needs node 0's actual address, not ${host}: workers also listen on the interface they reach it through`);
  }
  return { host, port: Number(m[2]) };
}

function readSecret(file: string | undefined, nnodes: number, env: NodeJS.ProcessEnv, warn: (m: string) => void): string {
  if (file !== undefined) {
    try {
      return readSecretFile(file, warn);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // A missing or unreadable file, or a secret too short (AuthError): the message says which.
      throw usage(`--secret-file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
    }
  }
  const fromEnv = env[ENV.secret];
  if (fromEnv) {
    try {
      secretKey(fromEnv);
    } catch (err) {
      throw usage(`${ENV.secret}: ${(err as Error).message}`);
    }
    return fromEnv;
  }
  if (nnodes === 1) return generateSecret();
  throw usage(`a job on several machines needs a shared secret: set ${ENV.secret} on every node or pass --secret-file`);
}

/**
 * Parses argv (after `launch`); returns undefined for --help. Throws UsageError on bad input. It
 * does not look for the script (checkScript does, before anything starts).
 *
 * @example Script arguments pass through untouched
 * ```ts
 * const o = parseLaunchArgs(["--nproc", "2", "train.js", "--lr", "0.1"], {})!;
 * assert.deepEqual([o.nproc, o.script, o.args], [2, "train.js", ["--lr", "0.1"]]);
 * ```
 */
export function parseLaunchArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  warn: (m: string) => void = () => {},
): (LaunchOptions & { dashboard?: DashboardFlags }) | undefined {
  const { values: v, rest } = parseCommandLine(bareDashboardFlag(argv, LAUNCH_OPTIONS, true), LAUNCH_OPTIONS, { command: COMMAND, positionals: ["script"], stopAtPositional: true });
  if (v.help) return undefined;
  const [script, ...args] = rest;
  if (script === undefined) throw usage("no script to launch: weft launch [options] script [script args...] (weft launch --help)");
  if (v.nproc !== undefined && v["nproc-per-node"] !== undefined) throw usage("--nproc and --nproc-per-node are the same option: give one");
  const nproc = v.nproc ?? v["nproc-per-node"] ?? 1;
  try {
    checkWorkerCount(nproc, v.oversubscribe, v.nproc === undefined ? "--nproc-per-node" : "--nproc");
  } catch (err) {
    throw err instanceof UsageError ? usage(err.message) : err;
  }
  if (v["node-rank"] >= v.nnodes) throw usage(`--node-rank ${v["node-rank"]} must be below --nnodes ${v.nnodes} (node ranks are 0..${v.nnodes - 1})`);

  const etcd = v.rdzv?.startsWith("etcd://") ? etcdRendezvous(v.rdzv, v["rdzv-id"], v.nnodes) : undefined;
  if (!etcd && v["rdzv-id"] !== undefined) throw usage("--rdzv-id names the job in an etcd rendezvous: give --rdzv etcd://HOST:PORT[,...] too (node 0's store makes the id itself)");
  const { host: rdzvHost, port: rdzvPort } = etcd ? etcdHost(etcd.endpoints[0]!) : v.rdzv === undefined ? { host: "127.0.0.1", port: 0 } : parseRdzv(v.rdzv);
  if (v.join && v.rdzv === undefined) throw usage("--join needs --rdzv with the running job's rendezvous (node 0's HOST:PORT, or etcd://... with --rdzv-id)");
  if ((v.nnodes > 1 || v.join) && !etcd && (v.rdzv === undefined || rdzvPort === 0)) {
    throw usage("--nnodes > 1 needs --rdzv HOST:PORT with node 0's address and a fixed port");
  }
  // A joining launcher needs the running job's secret, as a second machine does.
  const secret = readSecret(v["secret-file"], v.join ? Math.max(2, v.nnodes) : v.nnodes, env, warn);
  const elastic = elasticOptions(v.min, v.max, v["max-restarts"], nproc * v.nnodes);
  if (v.join && !elastic) throw usage("--join adds workers to an elastic job: give the job's --min A (and --max B) too");
  const dashboard = dashboardFlags(v, COMMAND);

  return {
    nproc,
    nnodes: v.nnodes,
    nodeRank: v["node-rank"],
    rdzvHost,
    rdzvPort,
    secret,
    script,
    args,
    ...(v["run-dir"] === undefined ? {} : { runDir: v["run-dir"] }),
    graceMs: v["grace-ms"],
    liveMetrics: !v["no-metrics"],
    cpuBind: v["cpu-bind"] as "cores" | "none",
    rdzvTimeoutMs: v["rdzv-timeout"] * 1000,
    ...(elastic ? { elastic } : {}),
    ...(etcd ? { etcd } : {}),
    ...(v.join ? { join: true } : {}),
    ...(dashboard ? { dashboard } : {}),
  };
}

/** --rdzv etcd://... and --rdzv-id: the endpoints, and the job id every node must share (one node may make one up). */
function etcdRendezvous(rdzv: string, id: string | undefined, nnodes: number): { endpoints: string[]; jobId: string } {
  let endpoints: string[];
  try {
    const parsed = parseRendezvousUrl(rdzv);
    endpoints = parsed.kind === "etcd" ? parsed.endpoints : [];
  } catch (err) {
    throw usage((err as Error).message);
  }
  if (endpoints.some((e) => /^(127\.|localhost|\[?::1\]?:)/.test(e)) && nnodes > 1) {
    throw usage(`--rdzv ${rdzv}: a job on several machines needs etcd addresses every machine can reach, not loopback`);
  }
  if (id === undefined && nnodes > 1) throw usage("--rdzv etcd://... on several machines needs --rdzv-id ID, the same on every node (e.g. the batch job's id)");
  const jobId = id ?? `job-${randomBytes(4).toString("hex")}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(jobId)) throw usage(`--rdzv-id must be 1-64 letters, digits, ".", "_" or "-", got "${jobId}"`);
  return { endpoints, jobId };
}

/** An etcd endpoint's host and port, for the workers' WEFT_MASTER_ADDR (the interface they are reached on follows the route to it). */
function etcdHost(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(":");
  return { host: endpoint.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(endpoint.slice(i + 1)) };
}

/** --min/--max/--max-restarts, checked against the job's size; undefined for a fixed-size job. */
function elasticOptions(min: number | undefined, max: number | undefined, maxRestarts: number | undefined, workers: number): LaunchOptions["elastic"] {
  if (min === undefined && max === undefined) {
    if (maxRestarts !== undefined) throw usage("--max-restarts replaces workers of an elastic job: add --min A (and --max B)");
    return undefined;
  }
  const lo = min ?? 1;
  const hi = max ?? workers;
  if (!(lo <= workers && workers <= hi)) throw usage(`the job's ${workers} worker(s) must lie within --min ${lo} and --max ${hi}`);
  return { min: lo, max: hi, maxRestarts: maxRestarts ?? 0 };
}

/**
 * Refuses a worker script that is not there, before any worker starts: otherwise every worker
 * fails at once, each with its own stack. A bare name without a path or a script extension may
 * be a program on PATH (a non-Node worker), so it is left to the launcher to start or report.
 *
 * @example A missing path is one UsageError
 * ```ts
 * assert.throws(() => checkScript("no/such/train.js"), /weft launch: no such script: no\/such\/train\.js/);
 * ```
 */
export function checkScript(script: string): void {
  if (!script.includes("/") && !/\.(c|m)?[jt]s$/.test(script)) return;
  let stat;
  try {
    stat = statSync(script);
  } catch {
    throw usage(`no such script: ${script}`);
  }
  if (!stat.isFile()) throw usage(`${script} is not a file: give the worker script itself`);
}
