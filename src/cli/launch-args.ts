// Command line of `weft launch` (launcher options, then the script and its own arguments).
import { readSecretFile, generateSecret } from "../distributed/wire/secret.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import type { LaunchOptions } from "../distributed/launch/launcher.js";

export const LAUNCH_USAGE = `usage: weft launch [options] script.js [script args...]

Starts the workers of a distributed job on this machine, like torchrun.

options:
  --nproc N            workers on this machine (default 1; alias --nproc-per-node)
  --nnodes M           machines in the job (default 1)
  --node-rank K        this machine's index, 0..M-1 (default 0); node 0 serves the store
  --rdzv HOST:PORT     address of node 0's store (default 127.0.0.1 and a free port; required,
                       with a port, when --nnodes > 1: use node 0's address on the job's network)
  --rdzv-timeout S     how long nodes 1.. wait for node 0's store (default 60)
  --secret-file PATH   read the job secret from PATH (first line); otherwise WEFT_JOB_SECRET is
                       used, and a single-machine job without either gets a random secret
  --run-dir DIR        where workers write metrics (default runs/<job-id>)
  --grace-ms MS        SIGTERM-to-SIGKILL delay when stopping workers (default 5000)
  --cpu-bind MODE      cores (default): each worker gets its own share of the CPUs; none: the OS
                       places them
  --no-metrics         do not print the live per-step summary
  -h, --help           show this help

Workers find WEFT_RANK, WEFT_WORLD_SIZE, WEFT_LOCAL_RANK, WEFT_MASTER_ADDR, WEFT_MASTER_PORT,
WEFT_JOB_SECRET and WEFT_RUN_DIR in their environment; initProcessGroup() reads them.
A TypeScript script must be compiled first (npx tsc) and the .js file launched.`;

export class LaunchUsageError extends Error {
  override name = "LaunchUsageError";
}

function positiveInt(flag: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new LaunchUsageError(`${flag} needs an integer >= ${min}, got ${v ?? "nothing"}`);
  return n;
}

/** Parses argv (after `launch`); returns undefined for --help. Throws LaunchUsageError on bad input. */
export function parseLaunchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, warn: (m: string) => void = () => {}): LaunchOptions | undefined {
  let nproc = 1;
  let nnodes = 1;
  let nodeRank = 0;
  let rdzv: string | undefined;
  let secretFile: string | undefined;
  let runDir: string | undefined;
  let graceMs = 5000;
  let liveMetrics = true;
  let cpuBind: "cores" | "none" = "cores";
  let rdzvTimeoutMs: number | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) break;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new LaunchUsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return undefined;
      case "--nproc":
      case "--nproc-per-node":
        nproc = positiveInt(flag, value(), 1);
        break;
      case "--nnodes":
        nnodes = positiveInt(flag, value(), 1);
        break;
      case "--node-rank":
        nodeRank = positiveInt(flag, value(), 0);
        break;
      case "--rdzv":
        rdzv = value();
        break;
      case "--rdzv-timeout":
        rdzvTimeoutMs = positiveInt(flag, value(), 1) * 1000;
        break;
      case "--secret-file":
        secretFile = value();
        break;
      case "--run-dir":
        runDir = value();
        break;
      case "--grace-ms":
        graceMs = positiveInt(flag, value(), 0);
        break;
      case "--cpu-bind": {
        const v = value();
        if (v !== "cores" && v !== "none") throw new LaunchUsageError(`--cpu-bind must be cores or none, got ${v}`);
        cpuBind = v;
        break;
      }
      case "--no-metrics":
        liveMetrics = false;
        break;
      case "--":
        i++;
        break;
      default:
        throw new LaunchUsageError(`unknown option ${flag}`);
    }
    if (flag === "--") break;
  }
  const script = argv[i];
  if (script === undefined) throw new LaunchUsageError("no script to launch");
  if (nodeRank >= nnodes) throw new LaunchUsageError(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);

  let rdzvHost = "127.0.0.1";
  let rdzvPort = 0;
  if (rdzv !== undefined) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(rdzv);
    if (!m) throw new LaunchUsageError(`--rdzv must be HOST:PORT, got ${rdzv}`);
    rdzvHost = m[1]!;
    rdzvPort = Number(m[2]);
  }
  if (nnodes > 1 && (rdzv === undefined || rdzvPort === 0)) {
    throw new LaunchUsageError("--nnodes > 1 needs --rdzv HOST:PORT with node 0's address and a fixed port");
  }
  if (rdzvHost === "0.0.0.0" || rdzvHost === "::") {
    throw new LaunchUsageError(`--rdzv needs node 0's actual address, not ${rdzvHost}: workers also listen on the interface they reach it through`);
  }

  let secret: string;
  if (secretFile !== undefined) secret = readSecretFile(secretFile, warn);
  else if (env[ENV.secret]) secret = env[ENV.secret]!;
  else if (nnodes === 1) secret = generateSecret();
  else throw new LaunchUsageError(`a job on several machines needs a shared secret: set ${ENV.secret} on every node or pass --secret-file`);

  return {
    nproc,
    nnodes,
    nodeRank,
    rdzvHost,
    rdzvPort,
    secret,
    script,
    args: argv.slice(i + 1),
    ...(runDir === undefined ? {} : { runDir }),
    graceMs,
    liveMetrics,
    cpuBind,
    ...(rdzvTimeoutMs === undefined ? {} : { rdzvTimeoutMs }),
  };
}
