// The dashboard as the launcher's observer (JobObserver, job-observer.ts): when the job starts,
// the server shows its run folder; when it ends, browsers still following get its last lines
// and the server closes. The launcher's events need no handing over: it writes them to
// launcher-<node>.jsonl, which the server reads like the workers' files, so a live job and a
// finished one are shown by the same code.
import type { JobObserver } from "../distributed/launch/job-observer.js";
import { controlRoute } from "./control-route.js";
import type { DashboardServer } from "./server.js";

/** How long browsers following the job get after it ended to receive its last lines. */
const LAST_WORDS_MS = 1500;

/** Follows the launched job on `server`, and closes the server once the job has ended. */
export function dashboardObserver(server: DashboardServer, log: (message: string) => void): JobObserver {
  return {
    jobStarted(job) {
      server.showRun(job.runDir, `weft job ${job.jobId}`, controlRoute(job, log));
      // Printed only now: a browser or a script that reads it finds the job there, control included.
      log(`dashboard at ${server.url}`);
    },
    event() {},
    async jobEnded() {
      server.flush();
      if (server.following() > 0) await new Promise((resolve) => setTimeout(resolve, LAST_WORDS_MS));
      await server.close();
    },
  };
}
