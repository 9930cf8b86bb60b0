// The thread that encodes and writes training checkpoints for CheckpointWriter: it receives a
// snapshot (its arrays transferred, not copied), hashes and encodes it, and writes it atomically
// (saveCheckpoint), then answers with the outcome. One message at a time: the writer never sends
// a second before the first is answered.
import { parentPort } from "node:worker_threads";
import { saveCheckpoint } from "../checkpoint/index.js";
import type { TrainingSnapshot } from "./training-checkpoint.js";

export interface WriteRequest {
  path: string;
  snapshot: TrainingSnapshot;
}

export type WriteReply = { ok: true } | { ok: false; message: string };

parentPort!.on("message", (request: WriteRequest) => {
  saveCheckpoint(request.path, request.snapshot.tensors, request.snapshot.metadata).then(
    () => parentPort!.postMessage({ ok: true } satisfies WriteReply),
    (error: unknown) => parentPort!.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) } satisfies WriteReply),
  );
});
