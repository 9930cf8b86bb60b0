// The dashboard's control endpoints for a running job: the two actions a request may ask for
// (stop the job, write a checkpoint now), each recorded as a `control` event in the launcher's
// events file, behind the handler that checks the job secret (control.ts, Note [dashboard access]
// in server.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RunningJob } from "../distributed/launch/job-observer.js";
import type { ControlRoute } from "./server.js";

/** Answers `POST /control/<action>` for `job`; `log` gets the refusals. */
export function controlRoute(job: RunningJob, log: (line: string) => void): ControlRoute {
  void job;
  void log;
  // Until control.ts (the secret's check) is part of the build, no control request is served.
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" }).end("control endpoints are not available in this build\n");
  };
}
