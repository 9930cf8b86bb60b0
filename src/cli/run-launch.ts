// Entry of `weft launch ...` for the CLI.
import { AuthError } from "../distributed/base/errors.js";
import { launchJob } from "../distributed/launch/launcher.js";
import { LAUNCH_USAGE, LaunchUsageError, parseLaunchArgs } from "./launch-args.js";

/** Runs `weft launch <argv>` and returns the process exit code (2 for usage errors). */
export async function runLaunch(argv: string[]): Promise<number> {
  const warn = (m: string): void => void process.stderr.write(`weft launch: ${m}\n`);
  let options;
  try {
    options = parseLaunchArgs(argv, process.env, warn);
  } catch (err) {
    if (err instanceof LaunchUsageError || err instanceof AuthError || (err as NodeJS.ErrnoException).code === "ENOENT") {
      warn(`${(err as Error).message}\n\n${LAUNCH_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (!options) {
    process.stdout.write(`${LAUNCH_USAGE}\n`);
    return 0;
  }
  try {
    return (await launchJob(options)).exitCode;
  } catch (err) {
    warn((err as Error).message);
    return 1;
  }
}
