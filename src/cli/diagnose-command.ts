// `weft diagnose RUN_DIR`: what the ranks of a job that hung or failed were doing, from the flight
// records they left in its run folder (distributed/diagnostics/flight-report.ts). Exit 0 with the
// report; 1 when the folder has no flight record at all (a job that ended well writes none); 2
// for a folder that does not exist or a record that does not parse.
import { diagnoseRun, formatFlightReport } from "../distributed/diagnostics/flight-report.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";

const DIAGNOSE_OPTIONS = {
  json: { type: "flag", help: "print the merged report as one JSON line instead of text" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

/** Runs `weft diagnose <argv>` and returns the exit code. */
export function runDiagnoseCommand(argv: string[]): number {
  const command = "weft diagnose";
  const { values: v, positionals } = parseCommandLine(argv, DIAGNOSE_OPTIONS, { command, positionals: ["run-dir"] });
  if (v.help || positionals.length === 0) {
    console.log(
      `usage: ${command} RUN_DIR [--json]\n\nMerges the flight records (flight-<rank>.json) the ranks of a job wrote into RUN_DIR when it failed,\n` +
        `when it was interrupted, or on SIGUSR1 (kill -USR1 <pid> on a job that seems stuck), and says which collective\nis stuck, who is in it, who never entered it, and what those did last (docs/diagnose.md).\n\noptions:\n${describeOptions(DIAGNOSE_OPTIONS)}`,
    );
    return v.help ? 0 : 2;
  }
  let report: ReturnType<typeof diagnoseRun>;
  try {
    report = diagnoseRun(positionals[0]!);
  } catch (err) {
    // A missing folder or a cut-short file: bad input, said in one line (exit 2).
    throw new UsageError((err as Error).message);
  }
  if (report.files.length === 0) {
    process.stderr.write(
      `weft diagnose: ${positionals[0]} holds no flight record (flight-<rank>.json); the ranks write one when an operation fails, when the launcher stops a failed job, or on SIGUSR1: ` +
        `send \`kill -USR1 <pid>\` to the workers of a job that seems stuck, then run this again\n`,
    );
    return 1;
  }
  console.log(v.json ? JSON.stringify(report) : formatFlightReport(report));
  return 0;
}
