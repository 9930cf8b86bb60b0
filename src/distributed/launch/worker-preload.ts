// Loaded into every Node worker the launcher starts (`node --import <this> script`), before the
// script. Its two jobs:
//  - when an error nobody handles is about to end the worker, say so on stderr with a one-line
//    summary the launcher can print instead of N full reports (Note [one line per failed job] in
//    fatal-report.ts). The monitor event does not handle the error, so Node still prints its
//    report and exits with status 1 exactly as without it;
//  - own SIGUSR1, which asks for the flight record (Note [flight record triggers] in
//    group/flight-recorder.ts), from the first line: without a handler Node would open its
//    inspector on it, and a worker that has no process group yet has nothing to write.
import { writeSync } from "node:fs";
import { inspect, types } from "node:util";
import { isMainThread } from "node:worker_threads";
import { ENV } from "../rendezvous/worker-env.js";
import { fatalMarkerLine } from "./fatal-report.js";
import { callFlightDump } from "../group/flight-hook.js";

function summary(err: unknown): string {
  if (!types.isNativeError(err) && !(err instanceof Error)) return `uncaught value ${inspect(err, { breakLength: Infinity, depth: 1 })}`;
  const code = (err as NodeJS.ErrnoException).code;
  return `${err.name}${typeof code === "string" ? ` [${code}]` : ""}: ${err.message}`.replace(/\s*\n\s*/g, " ");
}

// Only the launcher's own child: execArgv (and so this file) is inherited by worker threads,
// whose errors their parent thread handles, and by processes the worker forks, which are not ranks.
const isRank = isMainThread && process.ppid === Number(process.env[ENV.launcherPid]);

if (isRank) {
  process.on("uncaughtExceptionMonitor", (err) => {
    // With a handler (or a domain's capture callback) the worker may well go on: not fatal.
    if (process.listenerCount("uncaughtException") > 0 || process.hasUncaughtExceptionCaptureCallback()) return;
    try {
      // Synchronous, so it is on the pipe before the report Node writes next.
      writeSync(2, fatalMarkerLine({ error: summary(err) }));
    } catch {
      // stderr is gone: the launcher will report the exit status alone.
    }
  });
  process.on("SIGUSR1", () => void callFlightDump("SIGUSR1"));
}
