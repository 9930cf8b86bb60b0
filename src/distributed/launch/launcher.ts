// `weft launch`: start N workers on this machine and supervise them, like torchrun.
//
//  - Node 0 serves the rendezvous store (loopback for one machine, --rdzv HOST:PORT for several);
//    every worker gets its rank, the store's address and the job secret in its environment.
//  - Each output line of a worker is printed with a `[rank]` prefix and kept in the run
//    directory's rank-<r>.log (worker-output.ts).
//  - If a worker fails, the job stops promptly: the others get SIGTERM, then SIGKILL after a grace
//    period, and what they print meanwhile goes to their logs only. The launcher exits with the
//    failed worker's status. A worker that died of an uncaught error is summed up in one line (the
//    error, where it was thrown, which log has the rest: Note [one line per failed job]); one that
//    exited non-zero by itself gets its last lines printed.
//  - Per-step metrics the workers write (MetricsWriter) are summarised live and at the end.
//  - What the launcher itself sees (workers started and ended, the job stopping) goes to
//    launcher-<node>.jsonl and to an observer, if one is given (Note [launcher events]).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { isStopped } from "./process-state.js";
import { join, resolve } from "node:path";
import { constants } from "node:os";
import { allowedCpus, planCpuShares } from "../base/cpu-binding.js";
import { MetricsSummary } from "../metrics/metrics-summary.js";
import type { StragglerScore } from "../metrics/straggler.js";
import { secretKey } from "../wire/secret.js";
import { StoreClient } from "../rendezvous/store-client.js";
import { StoreServer } from "../rendezvous/store-server.js";
import { connectRendezvousStore } from "../rendezvous/connect-store.js";
import { JOB_FINISHED_KEY } from "../rendezvous/job-finished.js";
import { StoreTimeoutError } from "../base/errors.js";
import { ENV } from "../rendezvous/worker-env.js";
import { nodeFlagsFor, workerCommand } from "./worker-command.js";
import { WorkerOutput } from "./worker-output.js";
import { CheckpointRequester } from "./checkpoint-request.js";
import { LauncherEventLog, type JobObserver, type RunningJob } from "./job-observer.js";

export interface LaunchOptions {
  /** Workers on this machine. */
  nproc: number;
  /** Machines in the job (each runs one launcher with the same nproc). */
  nnodes: number;
  /** This machine's index, 0..nnodes-1; node 0 serves the store. */
  nodeRank: number;
  /** Address and port of the store (node 0 binds it; port 0 picks one, single machine only). */
  rdzvHost: string;
  rdzvPort: number;
  /** The job secret (checked for length); every node must use the same. */
  secret: string;
  /** Worker program: .js/.mjs/.cjs run with this Node, .ts/.mts/.cts with Node and tsx; anything else is executed directly. */
  script: string;
  args: string[];
  /** Default runs/<job-id>. */
  runDir?: string;
  /** Time between SIGTERM and SIGKILL when stopping workers. */
  graceMs: number;
  /** Print the live per-step summary from the workers' metrics files. */
  liveMetrics: boolean;
  /**
   * Meet through an etcd cluster instead of a store node 0 serves (docs/rendezvous.md): every
   * node connects to the same endpoints with the same job id, and no node is special, so the job
   * outlives any one machine. rdzvHost/rdzvPort are then unused.
   */
  etcd?: { endpoints: string[]; jobId: string };
  /** How long nodes other than 0 wait for node 0's store (default DEFAULT_RDZV_TIMEOUT_MS). */
  rdzvTimeoutMs?: number;
  /** "cores" (default): give each worker its own share of this machine's CPUs (Note [CPU binding]); "none": leave placement to the OS. */
  cpuBind?: "cores" | "none";
  /** Environment for the workers (default process.env); WEFT_* are added. */
  env?: NodeJS.ProcessEnv;
  /** Where worker lines go (default: stdout/stderr with a `[rank] ` prefix). */
  onLine?: (rank: number, stream: "stdout" | "stderr", line: string) => void;
  /** The launcher's own messages (default: stderr, `weft launch: ` prefix). */
  log?: (message: string) => void;
  /**
   * An elastic job (Note [elastic supervision]): a worker that fails does not stop the others,
   * which re-form without it; the launcher starts a replacement while the job has fewer than
   * `max` workers and restarts are left.
   */
  elastic?: { min: number; max: number; maxRestarts: number };
  /**
   * Join a running elastic job (`weft launch --join`) instead of starting one: this launcher's
   * workers enter it at a step boundary, like replacements. Its nodeRank is not node 0's, and it
   * serves no store.
   */
  join?: boolean;
  /** Follows the job: its events (Note [launcher events] in job-observer.ts) and its end; the dashboard is one. */
  observer?: JobObserver;
}

// Note [elastic supervision]
// In an elastic job the workers decide membership among themselves (elastic/membership.ts); the
// launcher only watches processes. A worker that exits non-zero is logged and left out, and while
// restarts remain (--max-restarts) and fewer than --max of this node's share are running, a
// replacement is started under a new member id with WEFT_JOIN=1, which joins the running job at
// a step boundary. The job ends when every worker has exited: successfully if one of them did
// (the final generation's members exit 0 once the result is written) and none died of an
// uncaught error (a bug, which the others going on must not hide; deaths by signal and workers
// left out are the faults an elastic job absorbs), the first failure's status otherwise. After the first clean exit the others get the grace period to finish, then are
// stopped: a worker frozen by SIGSTOP and left out would otherwise keep the job open for ever.

export interface JobResult {
  /** 0, or the first failed worker's exit code (128 + signal number when it was killed). */
  exitCode: number;
  jobId: string;
  runDir: string;
  /** The first worker that failed, with its last output lines (for an uncaught error, Node's report of it). */
  failed?: {
    rank: number;
    pid: number | undefined;
    exitCode: number;
    tail: string[];
    /** The uncaught error that ended it, on one line (`Error: boom`), when it was one. */
    error?: string;
    /** Its whole output. */
    logPath: string;
  };
  /** The rank this node's workers waited for most, when one stood out (Note [straggler score] in metrics/straggler.ts). */
  straggler?: StragglerScore;
}

interface Worker {
  rank: number;
  localRank: number;
  child: ChildProcess;
  output: WorkerOutput;
  exited: Promise<void>;
}

function newJobId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${t}-${randomBytes(3).toString("hex")}`;
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/** Each local worker's CPUs, or null when workers are not bound (one worker, --cpu-bind none, too few CPUs). */
function cpuSharesFor(o: LaunchOptions, log: (m: string) => void): number[][] | null {
  if ((o.cpuBind ?? "cores") === "none" || o.nproc === 1) return null;
  const cpus = allowedCpus();
  if (cpus === null) return null;
  const shares = planCpuShares(cpus, o.nproc);
  if (shares === null) log(`not binding workers to CPUs: ${o.nproc} workers share ${cpus.length} CPUs`);
  return shares;
}

/** Node 0 publishes the job id in its store; the other nodes read it (waiting for node 0 as long as --rdzv-timeout). */
async function shareJobId(o: LaunchOptions, key: Buffer, storePort: number, store: StoreServer | undefined, jobId: string, log: (m: string) => void): Promise<string> {
  const rdzvTimeoutMs = o.rdzvTimeoutMs ?? DEFAULT_RDZV_TIMEOUT_MS;
  const reads = o.nodeRank !== 0 || o.join === true;
  const waitingNote = !reads ? undefined : setTimeout(() => log(`waiting for node 0's store at ${o.rdzvHost}:${storePort} (up to ${rdzvTimeoutMs / 1000} s)`), 2000);
  try {
    const client = await StoreClient.connect({ host: o.rdzvHost, port: storePort, secret: key, connectTimeoutMs: rdzvTimeoutMs }).catch((err: Error) => {
      throw !reads
        ? err
        : new Error(`${err.message}; is the launcher of node 0 (--node-rank 0) running with the same --rdzv, and is the port open between the machines?`);
    });
    try {
      if (!reads) await client.set("launch/job-id", jobId);
      else return await client.getString("launch/job-id", rdzvTimeoutMs);
      return jobId;
    } finally {
      client.close();
    }
  } catch (err) {
    // Without this the listening store would keep the launcher alive after the error.
    await store?.close();
    throw err;
  } finally {
    clearTimeout(waitingNote);
  }
}

/** Waits (until a signal stops the launcher) for the elastic job to set JOB_FINISHED_KEY in node 0's store. */
async function serveUntilFinished(store: StoreServer, key: Buffer, log: (m: string) => void, interrupted: () => boolean): Promise<void> {
  const client = await StoreClient.connect({ host: store.host, port: store.port, secret: key });
  try {
    log("this node's workers are done; serving the job's store until the other machines finish");
    while (!interrupted()) {
      try {
        await client.get(JOB_FINISHED_KEY, 1000);
        return;
      } catch (err) {
        if (!(err instanceof StoreTimeoutError)) return;
      }
    }
  } finally {
    client.close();
  }
}

/** After an elastic job's first clean exit, how long the workers still running get to finish (the result's writer may still evaluate). */
const ELASTIC_FINISH_GRACE_MS = 60_000;

/** How long workers get to write their flight records (SIGUSR1) before SIGTERM, when a job fails. */
const FLIGHT_RECORD_GRACE_MS = 500;

/** How long a node waits for node 0's store by default (node 0 may start after the others, as with torchrun). */
export const DEFAULT_RDZV_TIMEOUT_MS = 60_000;

function storeListenHint(err: NodeJS.ErrnoException, host: string, port: number): string {
  if (err.code === "EADDRINUSE") {
    return `port ${port} on ${host} is already in use, so this node cannot serve the job's store: pick another --rdzv port, or stop the process listening there`;
  }
  if (err.code === "EADDRNOTAVAIL") {
    return `${host} is not an address of this machine, so node 0 cannot serve the store there: give --rdzv an address of node 0 itself`;
  }
  return `could not serve the store on ${host}:${port}: ${err.message}`;
}

/** Runs a job to completion on this machine and returns how it ended. */
export async function launchJob(o: LaunchOptions): Promise<JobResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(`weft launch: ${m}\n`));
  const onLine =
    o.onLine ??
    ((rank: number, stream: "stdout" | "stderr", line: string) => (stream === "stdout" ? process.stdout : process.stderr).write(`[${rank}] ${line}\n`));
  const key = secretKey(o.secret);
  const command = workerCommand(o.script);
  const worldSize = o.nproc * o.nnodes;

  // Node 0 serves the store; every node learns the job id from it, so run directories match.
  let store: StoreServer | undefined;
  let storePort = o.rdzvPort;
  let jobId: string;
  const etcdUrl = o.etcd ? `etcd://${o.etcd.endpoints.join(",")}` : undefined;
  if (o.etcd) {
    // No store of our own: check etcd answers before any worker starts, so a wrong endpoint is one line.
    jobId = o.etcd.jobId;
    const client = await connectRendezvousStore(etcdUrl!, { secret: key, jobId, connectTimeoutMs: o.rdzvTimeoutMs ?? DEFAULT_RDZV_TIMEOUT_MS, timeoutMs: 10_000 });
    client.close();
  } else if (o.nodeRank === 0 && !o.join) {
    try {
      store = await StoreServer.listen({ host: o.rdzvHost, port: o.rdzvPort, secret: key, log: (m) => log(m) });
    } catch (err) {
      throw new Error(storeListenHint(err as NodeJS.ErrnoException, o.rdzvHost, o.rdzvPort));
    }
    storePort = store.port;
    jobId = newJobId();
  }
  // With node 0's store, every node learns the job id from it, so run directories match (with
  // etcd, every node was given the id).
  if (!o.etcd) jobId = await shareJobId(o, key, storePort, store, jobId!, log);
  const runDir = resolve(o.runDir ?? `runs/${jobId!}`);

  const workers: Worker[] = [];
  let restarts = 0;
  let cleanExit = false;
  // Joiners take slots past the first generation's, with member ids no other machine can make;
  // replacements take slots past those.
  const joinTag = o.join ? randomBytes(3).toString("hex") : undefined;
  const firstSlot = worldSize + (o.join ? o.nproc : 0);
  let crashed: JobResult["failed"];
  let spawnWorker: (rank: number, localRank: number, memberId: string | undefined) => void = () => {};
  let failed: JobResult["failed"];
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  let events: LauncherEventLog | undefined;
  const alive = (): Worker[] => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  /**
   * Stops every worker still running; `why` (when given) is logged with who is being stopped.
   * With `flightRecords`, Node workers first get SIGUSR1 and a moment to write their flight
   * records (Note [flight record triggers] in group/flight-recorder.ts): after a failure, the
   * ranks that did not fail hold half of what `weft diagnose` needs.
   */
  const stopAll = (why: string | undefined, flightRecords = false): void => {
    if (stopping) return;
    stopping = true;
    events?.record({ event: "job_stopping", why: why ?? (failed ? `rank ${failed.rank} failed (exit code ${failed.exitCode})` : "the job could not be started whole") });
    const running = alive();
    if (why !== undefined && running.length > 0) log(`${why}; stopping ranks ${running.map((w) => w.rank).join(", ")} (SIGTERM, SIGKILL after ${o.graceMs} ms)`);
    const record = flightRecords && command.file === process.execPath;
    if (record) for (const w of running) w.child.kill("SIGUSR1");
    const terminate = (): void => {
      for (const w of running) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
      killTimer = setTimeout(() => {
        for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      }, o.graceMs);
    };
    if (record) killTimer = setTimeout(terminate, FLIGHT_RECORD_GRACE_MS);
    else terminate();
  };

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    stopAll(`received ${signal}`, true);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const checkpoints = new CheckpointRequester({
    runDir, nnodes: o.nnodes, log,
    record: (ok, why) => events?.record({ event: "control", action: "checkpoint", from: "workers", ok, why }),
  });
  /** The job as the observer sees it: what it is, and the two things a control request may ask of it. */
  const runningJob = (): RunningJob => ({
    jobId: jobId!, runDir, secret: o.secret, nproc: o.nproc, nnodes: o.nnodes, worldSize, script: o.script, args: o.args,
    startedAt: Date.now(), ...(o.elastic ? { elastic: o.elastic } : {}),
    stop: (why: string) => {
      // As Ctrl-C would: the job ends with SIGINT's status, not as a success.
      interrupted ??= "SIGINT";
      stopAll(why, true);
    },
    requestCheckpoint: (from: string) => {
      if (!store) return { ok: false, message: "this launcher serves no store (node 0's does, unless the job meets through etcd): ask node 0's dashboard" };
      if (stopping) return { ok: false, message: "the job is stopping" };
      // At one step every worker is told of (Note [checkpoint now] in checkpoint-request.ts).
      return checkpoints.request(from, alive().map((w) => ({ rank: w.rank, pid: w.child.pid, signal: () => void w.child.kill("SIGUSR2") })));
    },
    recordControl: (action: string, from: string, ok: boolean, why: string) => events?.record({ event: "control", action, from, ok, why }),
  });
  /** The job's last event, and the observer's last word (it may serve a moment longer); never throws. */
  const endObserved = async (exitCode: number, error?: string): Promise<void> => {
    checkpoints.close();
    if (!events) return;
    events.record({ event: "job_ended", exit_code: exitCode, ...(error === undefined ? {} : { error }) });
    try {
      await o.observer?.jobEnded(exitCode);
    } catch (err) {
      log(`the job's observer failed at the end: ${(err as Error).message}`);
    }
    events.close();
  };

  const summary = new MetricsSummary(runDir, o.nproc);
  /** The straggler goes into the job's event stream too, once per change of rank. */
  let stragglerNamed: number | undefined;
  const noteStraggler = (): void => {
    const s = summary.straggler;
    if (!s || s.rank === stragglerNamed) return;
    stragglerNamed = s.rank;
    events?.record({ event: "straggler", rank: s.rank, score_ms: Math.round(s.score_ms * 100) / 100, step: summary.newestStep });
  };
  let poller: NodeJS.Timeout | undefined;
  // From here to the end of the job, one try: the store is listening and the signal handlers are
  // installed, so an error anywhere below (an unwritable run dir, a spawn that throws) must still
  // stop the workers started so far, close the store and remove the handlers; otherwise the
  // launcher would print the error and never exit.
  let allExited = false;
  let thrown: Error | undefined;
  try {
    try {
      mkdirSync(runDir, { recursive: true });
    } catch (err) {
      // Node's message ends with ", mkdir '<path>'", which would name the directory twice.
      const why = (err as Error).message.replace(/, mkdir '.*'$/, "");
      throw new Error(`cannot create the run directory ${runDir}: ${why}; give --run-dir a directory this user can create and write`);
    }
    events = new LauncherEventLog(runDir, o.nodeRank, o.observer, log);
    const job = runningJob();
    events.record({
      event: "job_started",
      config: {
        job_id: job.jobId, run_dir: runDir, node_rank: o.nodeRank, nproc: o.nproc, nnodes: o.nnodes, world_size: worldSize,
        script: o.script, args: o.args, ...(o.elastic ? { elastic: o.elastic } : {}),
      },
    });
    events.notify(() => o.observer?.jobStarted(job));

    const cpuShares = cpuSharesFor(o, log);
    spawnWorker = (rank: number, localRank: number, memberId: string | undefined): void => {
      const share = cpuShares?.[localRank];
      const startedAt = Date.now();
      let child: ChildProcess;
      try {
        child = spawn(command.file, [...nodeFlagsFor(command, share), ...command.args, ...o.args], {
          env: {
            ...(o.env ?? process.env),
            [ENV.rank]: String(rank),
            [ENV.worldSize]: String(worldSize),
            [ENV.localRank]: String(localRank),
            [ENV.localWorldSize]: String(o.nproc),
            [ENV.nodeRank]: String(o.nodeRank),
            [ENV.masterAddr]: o.rdzvHost,
            [ENV.masterPort]: String(storePort),
            ...(etcdUrl ? { [ENV.rendezvous]: etcdUrl } : {}),
            [ENV.secret]: o.secret,
            [ENV.runDir]: runDir,
            [ENV.jobId]: jobId!,
            ...(share ? { [ENV.cpus]: share.join(",") } : {}),
            [ENV.launcherPid]: String(process.pid),
            ...(o.elastic ? {
              [ENV.minWorkers]: String(o.elastic.min), [ENV.maxWorkers]: String(o.elastic.max),
              [ENV.memberId]: memberId ?? `w${rank}`, ...(memberId === undefined ? {} : { [ENV.join]: "1" }),
            } : {}),
          },
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (err) {
        // Invalid arguments or environment throw here instead of emitting "error" on the child.
        throw new Error(`could not start rank ${rank} (${command.file} ${[...command.args, ...o.args].join(" ")}): ${(err as Error).message}`);
      }
      events?.record({ event: "worker_started", rank, pid: child.pid, ...(o.elastic ? { member: memberId ?? `w${rank}` } : {}) });
      const output = new WorkerOutput(rank, join(runDir, `rank-${rank}.log`), onLine, log);
      child.stdout!.setEncoding("utf8").on("data", (d: string) => output.push("stdout", d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => output.push("stderr", d));
      const exited = new Promise<void>((resolveExit) => {
        const ended = (status: number, how: string): void => {
          output.flush();
          events?.record({ event: "worker_exited", rank, pid: child.pid, status, how });
          if (o.elastic && !stopping) {
            elasticExit(rank, status, how);
            resolveExit();
            return;
          }
          if (status !== 0 && !failed && !stopping) {
            const fatal = output.fatal;
            failed = { rank, pid: child.pid, exitCode: status, tail: output.tail(), logPath: output.logPath, ...(fatal ? { error: fatal.error } : {}) };
            // The cause is on the terminal (or in the line below); the others' ends are its echo.
            for (const w of workers) if (w.rank !== rank) w.output.mute();
            if (fatal) {
              const others = alive().length > 0 ? "stopping the other ranks; " : "";
              const where = fatal.location ? ` at ${fatal.location}` : "";
              const after = ((Date.now() - startedAt) / 1000).toFixed(1);
              log(`rank ${rank} failed ${after} s after it started: ${fatal.error}${where} (exit code ${status}); ${others}its output is in ${output.logPath}`);
              stopAll(undefined, true);
            } else {
              stopAll(`rank ${rank} (pid ${child.pid ?? "none"}) ${how}`, true);
            }
          }
          resolveExit();
        };
        child.on("error", (err) => {
          // Spawning failed (no such file, not executable): there will be no exit event.
          if (child.pid === undefined) ended(127, `could not start ${o.script}: ${err.message}`);
        });
        child.on("close", (code, signal) => ended(exitStatus(code, signal), `exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
      });
      workers.push({ rank, localRank, child, output, exited });
    };
    /** Note [elastic supervision]. */
    const elasticExit = (rank: number, status: number, how: string): void => {
      const e = o.elastic!;
      if (status === 0) {
        if (!cleanExit) {
          cleanExit = true;
          // The result is being written by the final rank 0, which may still be evaluating: the
          // others get a long grace; only leftovers that cannot finish (stopped) go at once.
          setTimeout(() => stopAll(alive().length > 0 ? "the job finished" : undefined), Math.max(o.graceMs, ELASTIC_FINISH_GRACE_MS)).unref();
        }
        stopIfOnlyStoppedLeft();
        return;
      }
      const w = workers.find((x) => x.rank === rank)!;
      const fatal = w.output.fatal;
      const record = { rank, pid: w.child.pid, exitCode: status, tail: w.output.tail(), logPath: w.output.logPath, ...(fatal ? { error: fatal.error } : {}) };
      failed ??= record;
      // A worker that died of an uncaught error is a bug the job must not hide, even if the others go on.
      if (fatal) {
        crashed ??= record;
        log(`rank ${rank} failed: ${fatal.error}${fatal.location ? ` at ${fatal.location}` : ""} (exit code ${status}); its output is in ${w.output.logPath}`);
      }
      const running = alive().length;
      if (cleanExit) return stopIfOnlyStoppedLeft();
      // A worker that stopped by itself (the job stopped, or it was left out for good) said why; a
      // replacement would meet the same fate. Deaths (a signal, a crash) are what replacements are for.
      const died = status > 128 || fatal !== undefined;
      if (died && restarts < e.maxRestarts && running < Math.min(e.max, o.nproc)) {
        restarts++;
        const slot = firstSlot + (restarts - 1) * o.nnodes + o.nodeRank;
        log(`rank ${rank} ${how}; the others go on without it (elastic), and rank ${slot} starts in its place (restart ${restarts} of ${e.maxRestarts})`);
        events?.record({ event: "worker_replaced", rank, by: slot });
        spawnWorker(slot, w.localRank, `w${rank}r${restarts}${joinTag ? `-${joinTag}` : ""}`);
      } else {
        log(`rank ${rank} ${how}; the others go on without it (elastic: ${running} running here, --min ${e.min})`);
      }
      stopIfOnlyStoppedLeft();
    };
    /** Workers frozen by SIGSTOP cannot finish: once nothing else runs here, they are killed so the job ends. */
    const stopIfOnlyStoppedLeft = (): void => {
      const left = alive();
      if (left.length > 0 && left.every((x) => isStopped(x.child.pid))) {
        log(`stopping ranks ${left.map((x) => x.rank).join(", ")}: stopped (SIGSTOP) with nothing else left running here`);
        for (const x of left) x.child.kill("SIGKILL");
      }
    };
    for (let localRank = 0; localRank < o.nproc; localRank++) {
      if (joinTag) spawnWorker(worldSize + localRank, localRank, `j${joinTag}-${localRank}`);
      else spawnWorker(o.nodeRank * o.nproc + localRank, localRank, undefined);
    }

    // The files are tailed even when nothing is printed: the result names the straggler.
    poller = setInterval(() => {
      summary.poll();
      const line = summary.nextLine();
      if (line && o.liveMetrics) log(line);
      noteStraggler();
    }, 500);

    // Replacements join the list while we wait: wait until every worker, old and new, has exited.
    for (let seen = 0; seen < workers.length; ) {
      const batch = workers.slice(seen);
      seen = workers.length;
      await Promise.all(batch.map((w) => w.exited));
    }
    allExited = true;
    // Node 0 serves the embedded store the whole elastic job meets through: its own workers may be
    // done (or lost) while other machines' still train, so it serves until the job says it is over.
    if (o.elastic && store && o.nnodes > 1 && !stopping) await serveUntilFinished(store, key, log, () => stopping);
  } catch (err) {
    thrown = err as Error;
    throw err;
  } finally {
    if (poller) clearInterval(poller);
    if (!allExited) {
      // The job could not be started whole: the workers already running would outlive us. The
      // error that brought us here is the report, so they are stopped without a line of their own.
      stopAll(undefined);
      await Promise.all(workers.map((w) => w.exited));
    }
    clearTimeout(killTimer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await store?.close();
    await Promise.all(workers.map((w) => w.output.close()));
    if (thrown) await endObserved(1, thrown.message);
  }
  summary.poll();
  noteStraggler();
  if (o.liveMetrics) {
    const line = summary.nextLine();
    if (line) log(line);
    const end = summary.finalSummary();
    if (end) log(`job ${jobId!}: ${end}`);
  }
  const straggler = summary.straggler;
  const result: JobResult = { ...outcome(), ...(straggler ? { straggler } : {}) };
  await endObserved(result.exitCode);
  return result;

  function outcome(): JobResult {
    if (o.elastic && cleanExit && !crashed) return { exitCode: 0, jobId: jobId!, runDir };
    if (o.elastic && crashed) return { exitCode: crashed.exitCode, jobId: jobId!, runDir, failed: crashed };
    if (failed) {
      // An uncaught error was summed up when it happened; a worker that chose its exit status
      // printed its own reason, which its last lines show.
      if (failed.error === undefined) {
        log(`job ${jobId!} failed: rank ${failed.rank} exited with status ${failed.exitCode}; its last lines:\n` + failed.tail.map((l) => `  [${failed!.rank}] ${l}`).join("\n"));
      }
      return { exitCode: failed.exitCode, jobId: jobId!, runDir, failed };
    }
    if (interrupted) return { exitCode: 128 + (constants.signals[interrupted] ?? 0), jobId: jobId!, runDir };
    return { exitCode: 0, jobId: jobId!, runDir };
  }
}
