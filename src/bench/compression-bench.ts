// `weft bench compression`: what each DDP gradient hook (docs/compression.md) costs and gives where
// the link is slow. For each link and hook, one 2-worker job of a recipe runs across two
// "machines", network namespaces joined by a veth whose two ends are capped with tc's token
// bucket (netns-link.ts): on each machine `weft launch --nnodes 2 --node-rank i --nproc 1
// --rdzv <machine 0>:PORT` starts one worker (compression-worker.ts), which trains the recipe
// through the training loop with DDP and the hook. Each run prints one JSON line (bytes sent per
// step, median step time, wall time, training loss, the recipe's metric: compression-result.ts),
// and the end a table on stderr.
//
// Every run of a repeat trains the same model from the same seed on the same batches for the same
// steps, so the losses differ only by what the hooks do; the times also by the machine's noise,
// which --repeats and the medians of the table are for.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { generateSecret } from "../distributed/wire/secret.js";
import type { CompressionBenchSettings, CompressionWorkerJob } from "./compression-options.js";
import { runLine, summaryTable, type CompressionLine } from "./compression-result.js";
import { createNetnsLink, type NetnsLink } from "./netns-link.js";

/** The store's port on machine 0: every link is a fresh pair of namespaces, so any port is free. */
const RDZV_PORT = 29400;

/** A run that takes longer has hung (a 300-step GPT run over 100 Mbit/s takes about 3 minutes). */
const RUN_TIMEOUT_MS = 60 * 60_000;

/** What the bench prints, for its --help (the options' lines come from the option table). */
export const COMPRESSION_BENCH_ABOUT = `Needs root: it makes two network namespaces per link, joined by a veth, both ends capped with
\`tc qdisc add dev <veth> root tbf rate <link> burst 64kb latency 100ms\`, and removes them after.
Each run is a 2-worker DDP job of the recipe, one worker per namespace, started by weft launch.
Recipe flags after --, e.g. weft bench compression --steps 300 -- --dim 192.
Prints one JSON line per link and hook: {"bench":"compression","link":…,"hook":…,"bytes_per_step":…,
"step_ms_median":…,"wall_s":…,"train_loss":…,"metric":…,"value":…}, then a table on stderr.`;

export interface CompressionBenchRun {
  settings: CompressionBenchSettings;
  /** How to run `weft` (node's arguments before the command: the CLI's entry script). */
  weft: readonly string[];
  /** Receives each line as it is measured (default: printed on stdout). */
  onLine?: (line: CompressionLine) => void;
  /** Progress and failures (default: stderr). */
  log?: (message: string) => void;
}

/**
 * Runs every hook on every link, `repeats` times; resolves with the lines, or throws naming the
 * run that failed and the end of its machines' output, or a BenchInterrupted after SIGINT, SIGTERM
 * or SIGHUP. Links are removed whatever happens (Note [namespaces are removed] in netns-link.ts).
 */
export async function runCompressionBench(run: CompressionBenchRun): Promise<CompressionLine[]> {
  const { settings } = run;
  const log = run.log ?? ((m: string) => void process.stderr.write(`weft bench compression: ${m}\n`));
  const onLine = run.onLine ?? ((l: CompressionLine) => void process.stdout.write(`${JSON.stringify(l)}\n`));
  const folder = mkdtempSync(join(tmpdir(), "weft-bench-compression-"));
  const children = new Set<ChildProcess>();
  let stoppedBy: NodeJS.Signals | undefined;
  // A signal stops the running job (its launchers stop their workers) and the bench at the next
  // check; the links go in the finally blocks below, on the way out.
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the runs and removing the links`);
    stoppedBy = signal;
    for (const c of children) c.kill("SIGTERM");
    setTimeout(() => children.forEach((c) => c.kill("SIGKILL")), 5000).unref();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, stopOnSignal);
  const lines: CompressionLine[] = [];
  const total = settings.repeats * settings.links.length * settings.hooks.length;
  try {
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      for (const link of settings.links) {
        const net = createNetnsLink(link.rate);
        try {
          for (const hook of settings.hooks) {
            if (stoppedBy) throw new BenchInterrupted(stoppedBy);
            log(`run ${lines.length + 1}/${total}: ${hook} over ${link.name}${settings.repeats > 1 ? ` (round ${repeat + 1})` : ""}`);
            const runFolder = join(folder, `${repeat}-${link.name}-${hook.replace(":", "_")}`);
            const job: CompressionWorkerJob = { recipe: settings.recipe, settings: settings.settings, hook };
            await runJob(net, runFolder, job, run.weft, children, `${hook} over ${link.name}`);
            const line = runLine([join(runFolder, "node-0"), join(runFolder, "node-1")], { link, hook, repeat });
            lines.push(line);
            onLine(line);
          }
        } catch (err) {
          // The job's failure is then the signal's doing, and its logs tell nothing new.
          if (!stoppedBy) throw err;
          rmSync(folder, { recursive: true, force: true });
          throw new BenchInterrupted(stoppedBy);
        } finally {
          net.remove();
        }
      }
    }
    rmSync(folder, { recursive: true, force: true });
  } finally {
    for (const s of signals) process.off(s, stopOnSignal);
  }
  log(`median over ${settings.repeats} round(s), ${settings.settings.maxSteps} steps each:\n${summaryTable(lines)}`);
  return lines;
}

/** The bench was stopped by a signal; `exitCode` is the shell's for it (130 for SIGINT). */
export class BenchInterrupted extends Error {
  override name = "BenchInterrupted";
  readonly exitCode: number;

  constructor(readonly signal: NodeJS.Signals) {
    super(`weft bench compression: stopped by ${signal}; the links are removed`);
    this.exitCode = 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[signal]!;
  }
}

/** Starts both machines' launchers and waits for them; throws with the end of their output when either fails. */
async function runJob(net: NetnsLink, runFolder: string, job: CompressionWorkerJob, weft: readonly string[], children: Set<ChildProcess>, what: string): Promise<void> {
  const worker = fileURLToPath(new URL("./compression-worker.js", import.meta.url));
  const env = { ...process.env, [ENV.secret]: generateSecret() };
  const mine: ChildProcess[] = [];
  let firstFailed: number | undefined;
  const ends = [0, 1].map((i) => {
    const runDir = join(runFolder, `node-${i}`);
    mkdirSync(runDir, { recursive: true });
    const args = [
      "netns", "exec", net.namespaces[i]!, process.execPath, ...weft, "launch",
      "--nnodes", "2", "--node-rank", String(i), "--nproc", "1", "--rdzv", `${net.addresses[0]}:${RDZV_PORT}`,
      "--run-dir", runDir, "--no-metrics", "--grace-ms", "2000", worker, JSON.stringify(job),
    ];
    const child = spawn("ip", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    mine.push(child);
    let out = "";
    const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-4000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    return new Promise<{ code: number | null; out: string }>((resolve) => {
      child.on("close", (code) => {
        children.delete(child);
        // The other machine would wait for its peer until a deadline: a failed run ends now.
        if (code !== 0 && firstFailed === undefined) {
          firstFailed = i;
          for (const c of mine) if (c !== child) c.kill("SIGTERM");
        }
        resolve({ code, out });
      });
    });
  });
  const timer = setTimeout(() => mine.forEach((c) => c.kill("SIGKILL")), RUN_TIMEOUT_MS);
  const results = await Promise.all(ends).finally(() => clearTimeout(timer));
  const failed = firstFailed;
  if (failed !== undefined) {
    throw new Error(`the run of ${what} failed on machine ${failed} (exit ${results[failed]!.code}; its logs are in ${runFolder}); its output ended:\n${results[failed]!.out.trimEnd()}`);
  }
}
