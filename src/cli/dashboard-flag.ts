// `--dashboard [PORT]` and `--dashboard-host HOST`, shared by `weft launch` and `weft train`: the
// flags, the bare form (no port: any free one), and the server they start before the job does,
// so a port in use is one line before any worker runs (docs/dashboard.md).
import type { JobObserver } from "../distributed/launch/job-observer.js";
import { dashboardObserver } from "../dashboard/dashboard-observer.js";
import { DashboardServer } from "../dashboard/server.js";
import type { OptionTable } from "../train/option-spec.js";
import { UsageError } from "./options.js";

export const DASHBOARD_OPTIONS = {
  dashboard: { type: "int", min: 0, max: 65535, help: "serve a live page of the job on this port (0, or no value: any free port; docs/dashboard.md)" },
  "dashboard-host": { type: "string", placeholder: "HOST", help: "the address the dashboard listens on (default 127.0.0.1: this machine only)" },
} as const satisfies OptionTable;

export interface DashboardFlags {
  port: number;
  host: string;
}

/**
 * Gives a bare `--dashboard` (one not followed by a port) the port 0, so the one parser, which
 * knows only options with a value or without, can read it. With `stopAtPositional` (weft launch)
 * it looks no further than the script: the script's own arguments are the script's.
 *
 * @example A bare flag takes any free port; one with a port keeps it
 * ```ts
 * assert.deepEqual(bareDashboardFlag(["--dashboard", "--workers", "2"], {}), ["--dashboard=0", "--workers", "2"]);
 * assert.deepEqual(bareDashboardFlag(["--dashboard", "8080"], {}), ["--dashboard", "8080"]);
 * assert.deepEqual(bareDashboardFlag(["--nproc", "2", "train.js", "--dashboard"], { nproc: { type: "int", help: "" } }, true), ["--nproc", "2", "train.js", "--dashboard"]);
 * ```
 */
export function bareDashboardFlag(argv: readonly string[], table: OptionTable, stopAtPositional = false): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const arg = out[i]!;
    if (arg === "--") break;
    if (arg === "--dashboard") {
      if (/^\d+$/.test(out[i + 1] ?? "")) i++;
      else out[i] = "--dashboard=0";
      continue;
    }
    if (arg.startsWith("--") && !arg.includes("=")) {
      const spec = table[arg.slice(2)];
      if (spec !== undefined && spec.type !== "flag") i++;
      continue;
    }
    if (stopAtPositional && !arg.startsWith("-")) break;
  }
  return out;
}

/** The flags' values, or undefined without --dashboard; --dashboard-host alone is a UsageError. */
export function dashboardFlags(values: { dashboard?: number | undefined; "dashboard-host"?: string | undefined }, command: string): DashboardFlags | undefined {
  if (values.dashboard === undefined) {
    if (values["dashboard-host"] !== undefined) throw new UsageError(`${command}: --dashboard-host says where the dashboard listens: give --dashboard [PORT] too`);
    return undefined;
  }
  return { port: values.dashboard, host: values["dashboard-host"] ?? "127.0.0.1" };
}

/** A listening dashboard and the observer that shows the job on it. */
export interface OpenDashboard {
  observer: JobObserver;
  /** Closes the server if the job never started (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts the server; once the job has started (its run folder exists, its control endpoints
 * answer), the observer prints the address, one line on stderr: `<prefix>: dashboard at http://...`.
 */
export async function openDashboard(flags: DashboardFlags, prefix: string): Promise<OpenDashboard> {
  const log = (m: string): void => void process.stderr.write(`${prefix}: ${m}\n`);
  const server = await DashboardServer.listen({ host: flags.host, port: flags.port, log });
  return { observer: dashboardObserver(server, log), close: () => server.close() };
}
