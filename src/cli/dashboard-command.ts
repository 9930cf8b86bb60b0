// `weft dashboard RUN_DIR`: the live dashboard over a run folder, for a job that ended (or one
// another launcher is running: the page follows the files as they grow), or over a `weft compare`
// report folder, whose page lists its configurations, each linked to its run's own dashboard.
// It serves until Ctrl-C. Control endpoints answer only on a launcher's dashboard: this one
// follows files, not a job it could stop.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { DashboardServer } from "../dashboard/server.js";
import type { Comparison } from "../report/comparison.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";

const COMMAND = "weft dashboard";

const OPTIONS = {
  port: { type: "int", min: 0, max: 65535, default: 0, help: "the port to serve on (0: any free one)" },
  host: { type: "string", placeholder: "HOST", default: "127.0.0.1", help: "the address to listen on (127.0.0.1: this machine only)" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const USAGE = `usage: weft dashboard RUN_DIR [--port P] [--host H]

Serves the dashboard of a run folder (runs/<job id>: a finished job, or one still running), or
of a weft compare report folder (its page links each configuration's run). Ctrl-C stops it.

options:
${describeOptions(OPTIONS)}`;

/** A `weft compare` report folder's runs, or undefined when the folder is not one. */
function compareRuns(dir: string): { title: string; runs: { label: string; dir: string | undefined; note: string }[] } | undefined {
  const file = resolve(dir, "results.json");
  if (!existsSync(file)) return undefined;
  let c: Comparison;
  try {
    c = JSON.parse(readFileSync(file, "utf8")) as Comparison;
  } catch (err) {
    throw new UsageError(`${COMMAND}: ${file} is not a weft compare report's results.json (${(err as Error).message}); give the report folder weft compare wrote`);
  }
  if (!Array.isArray(c.configs)) throw new UsageError(`${COMMAND}: ${file} lists no configurations; give the report folder weft compare wrote`);
  return {
    title: `weft compare ${c.recipe}`,
    runs: c.configs.map((r) => ({
      label: r.label,
      dir: r.run_dir === undefined ? undefined : resolve(dir, r.run_dir),
      note: `${r.status}${r.exit_code === undefined ? "" : `, exit code ${r.exit_code}`}${r.run_dir === undefined ? " (no run folder: one worker, trained in weft train's own process)" : ""}`,
    })),
  };
}

/** Runs `weft dashboard <argv>`; resolves with the exit code once Ctrl-C (or SIGTERM) stops it. */
export async function runDashboardCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS, { command: COMMAND, positionals: ["RUN_DIR"] });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const dir = positionals[0];
  if (dir === undefined) throw new UsageError(`${COMMAND}: which run? give a run folder (runs/<job id>) or a weft compare report folder`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${COMMAND}: ${dir} is not a folder; give a run folder (runs/<job id>) or a weft compare report folder`);
  const compare = compareRuns(dir);
  if (!compare && !readdirSync(dir).some((f) => /^(rank|launcher)-\d+\.jsonl$/.test(f))) {
    throw new UsageError(`${COMMAND}: ${dir} holds no run: no rank-<r>.jsonl, launcher-<n>.jsonl or results.json; give a run folder (runs/<job id>) or a weft compare report folder`);
  }

  const log = (m: string): void => void process.stderr.write(`${COMMAND}: ${m}\n`);
  const server = await DashboardServer.listen({ host: v.host, port: v.port, log });
  if (compare) server.showRuns(compare.title, compare.runs);
  else server.showRun(resolve(dir), `weft run ${resolve(dir)}`);
  log(`serving ${dir} at ${server.url} (Ctrl-C stops)`);
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await server.close();
  return signal === "SIGINT" ? 0 : 128 + 15;
}
