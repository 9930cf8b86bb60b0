// Entry of `weft launch ...` for the CLI: parse (a bad command line is a UsageError, one line and
// exit 2 from main.ts), check the script is there, run the job. The job's own failures are
// reported by the launcher as they happen, so what reaches here is the exit status, or a job that
// could not start at all (the store's port taken, node 0 unreachable): one line, exit 1.
import { launchJob } from "../distributed/launch/launcher.js";
import { checkScript, LAUNCH_USAGE, parseLaunchArgs } from "./launch-args.js";
import { openDashboard } from "./dashboard-flag.js";

/** Runs `weft launch <argv>` and returns the process exit code. */
export async function runLaunch(argv: string[]): Promise<number> {
  const say = (m: string): void => void process.stderr.write(`weft launch: ${m}\n`);
  const options = parseLaunchArgs(argv, process.env, say);
  if (!options) {
    process.stdout.write(`${LAUNCH_USAGE}\n`);
    return 0;
  }
  checkScript(options.script);
  const { dashboard: flags, ...launch } = options;
  let dashboard: Awaited<ReturnType<typeof openDashboard>> | undefined;
  try {
    dashboard = flags ? await openDashboard(flags, "weft launch") : undefined;
    return (await launchJob({ ...launch, ...(dashboard ? { observer: dashboard.observer } : {}) })).exitCode;
  } catch (err) {
    // Written to be read (launcher.ts says what to check); the stack would add nothing.
    say((err as Error).message.replace(/\s*\n\s*/g, " "));
    return 1;
  } finally {
    await dashboard?.close();
  }
}
