// Public entry of Weft's communication layer (docs/distributed.md walks through it).
//
// Process groups and collectives
export { ProcessGroup, Work, type CallOptions, type ReduceOptions, type P2POptions, type OpExecutor } from "./process-group.js";
export { createTcpProcessGroup, type TcpGroupOptions } from "./tcp-group.js";
export { createInProcessGroups, type InProcessGroupOptions } from "./in-process-group.js";
export { InProcessHub } from "./transport/in-process-transport.js";
export { initWorker, initProcessGroup, type WorkerInfo, type InitProcessGroupOptions } from "./init.js";
export { sharedFloat32Array, isShared } from "./shared-buffer.js";
export { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from "./engine.js";
export type { ReduceOp } from "./ops.js";
export type { WireDtype } from "./wire/wire-dtype.js";
// Errors
export * from "./errors.js";
// Rendezvous store and secrets
export { StoreServer, type StoreServerOptions } from "./store/store-server.js";
export { StoreClient, type StoreClientOptions } from "./store/store-client.js";
export { generateSecret, readSecretFile, secretKey } from "./secret.js";
// Launcher, metrics, benchmark
export { runLaunch } from "./launch/run-launch.js";
export { launchJob, type LaunchOptions, type JobResult } from "./launch/launcher.js";
export { parseLaunchArgs, LAUNCH_USAGE } from "./launch/launch-args.js";
export { ENV as WEFT_ENV } from "./launch/env.js";
export { MetricsWriter, type StepMetrics, type MetricsWriterOptions } from "./metrics/metrics-writer.js";
export { runAllreduceBench, ALLREDUCE_BENCH_SIZES } from "./bench/allreduce-bench.js";
export { DistributedDataParallel, DEFAULT_BUCKET_BYTES, type DdpOptions, type DdpStepTiming } from "./strategies/ddp.js";
