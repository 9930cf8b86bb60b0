// What a training script uses of the distributed layer (docs/distributed.md walks through it).
// The launcher, the rendezvous store and the metrics stream are for tools built on Weft and live
// behind the "weft/launch" entry (src/launch.ts); everything else here is internal.
//
// Process groups and collectives
export {
  ProcessGroup, Work, type CallOptions, type ReduceOptions, type P2POptions, type NewGroupOptions, type GroupTransport,
} from "./group/process-group.js";
export type { CommBuffer } from "./group/tensor-buffers.js";
export { createInProcessGroups, type InProcessGroupOptions } from "./group/in-process-group.js";
export { initWorker, initProcessGroup, type WorkerInfo, type InitProcessGroupOptions } from "./group/init.js";
export { sharedFloat32Array, isShared } from "./base/shared-buffer.js";
export type { ReduceOp } from "./collectives/ops.js";
export type { WireDtype } from "./compression/wire-dtype.js";
// What this process's groups did lately (the flight recorder; weft diagnose reads its files)
export { dumpFlightRecord, type FlightRecord, type FlightFile } from "./group/flight-recorder.js";
export { HierarchicalProcessGroup } from "./group/hierarchical-group.js";
// Errors a script may catch
export {
  CollectiveError, CollectiveTimeoutError, CollectiveMismatchError, PeerLostError, GroupAbortedError, AuthError, StoreError, StoreTimeoutError,
  type CollectiveErrorDetails,
} from "./base/errors.js";
