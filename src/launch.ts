// The "weft/launch" entry: the pieces `weft launch` is made of, for tools that start and watch
// jobs themselves (a custom launcher, a scheduler integration, a test harness). Training scripts
// need none of this: they import from "weft".
export { launchJob, type LaunchOptions, type JobResult } from "./distributed/launch/launcher.js";
export type { JobObserver, RunningJob, LauncherEvent, JobConfig } from "./distributed/launch/job-observer.js";
export { StoreServer, type StoreServerOptions } from "./distributed/rendezvous/store-server.js";
export { StoreClient, type StoreClientOptions } from "./distributed/rendezvous/store-client.js";
export { ENV as WEFT_ENV } from "./distributed/rendezvous/worker-env.js";
export { readSchedulerEnv, slurmPort, type SchedulerPlace, type WorkerOverrides, type EnvSource } from "./distributed/rendezvous/scheduler-env.js";
export { expandHostList, expandTasksPerNode } from "./distributed/rendezvous/host-list.js";
export { generateSecret, readSecretFile, secretKey } from "./distributed/wire/secret.js";
export { MetricsWriter, type StepMetrics, type MetricsWriterOptions } from "./distributed/metrics/metrics-writer.js";
export { StragglerTracker, type StragglerScore, type StragglerOptions } from "./distributed/metrics/straggler.js";
export { diagnoseRun, formatFlightReport, readFlightFiles, type FlightReport, type StuckCollective, type AbsentRank } from "./distributed/diagnostics/flight-report.js";
