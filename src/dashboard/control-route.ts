// The dashboard's control endpoints for a running job: the two actions a request may ask for
// (stop the job, write a checkpoint now), behind the handler that checks the job secret
// (control.ts, Note [control access]). Every request that acts, and every refusal the handler
// sums up, is recorded as a `control` event in the launcher's events file, so the run folder
// (and the timeline) says who asked for what.
import type { RunningJob } from "../distributed/launch/job-observer.js";
import { controlHandler } from "./control.js";
import type { ControlRoute } from "./server.js";

/** The handler's line for a request it passed on to an action (recorded by the action itself). */
const ACTED = /^dashboard control: (stop|checkpoint) from /;

/** Answers `POST /control/<action>` for `job`; `log` is the launcher's. */
export function controlRoute(job: RunningJob, log: (line: string) => void): ControlRoute {
  return controlHandler({
    secret: job.secret,
    actions: {
      stop: (from) => {
        job.recordControl("stop", from, true, "the job stops as on Ctrl-C");
        job.stop(`stopped from the dashboard (${from})`);
        return { ok: true, message: "stopping the job" };
      },
      checkpoint: (from) => {
        const r = job.requestCheckpoint(from);
        job.recordControl("checkpoint", from, r.ok, r.message);
        return r;
      },
    },
    log: (line) => {
      log(line);
      if (!ACTED.test(line)) job.recordControl("refused", "dashboard", false, line.replace(/^dashboard control: /, ""));
    },
  });
}
