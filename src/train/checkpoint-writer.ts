// Writes training checkpoints off the training thread's critical path.
//
// save() costs the training thread one copy of the state (snapshotTrainingState, done by the
// caller) and a message: the copy's arrays are transferred to a worker thread, which computes the
// digests, encodes the file and writes it atomically while training goes on. At most one write is
// in flight: a save() while the previous write is still running waits for it first (training
// then stalls only when checkpoints come faster than the disk takes them), and rethrows its
// failure, so a checkpoint that could not be written stops the run at the next one or at drain().
// `afterWrite` runs once a file is durable (the folder's pruning of older files).
import { Worker } from "node:worker_threads";
import type { TrainingSnapshot } from "./training-checkpoint.js";
import type { WriteReply, WriteRequest } from "./checkpoint-write-worker.js";

export class CheckpointWriter {
  private worker: Worker | undefined;
  /** The write in flight, settled when its file is durable (or failed); never rejects: see `failure`. */
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly afterWrite?: (path: string, step: number) => Promise<void>) {}

  /** Waits for the previous write (rethrowing its failure), then starts writing `snapshot` to `path`. */
  async save(path: string, snapshot: TrainingSnapshot): Promise<void> {
    await this.drain();
    const worker = this.start();
    const buffers = Object.values(snapshot.tensors).map((t) => t.data.buffer as ArrayBuffer);
    this.inFlight = new Promise<void>((resolve) => {
      const settle = (reply: WriteReply): void => {
        worker.off("message", settle);
        worker.off("error", crashed);
        worker.unref();
        if (!reply.ok) {
          this.failure = new Error(reply.message);
          resolve();
          return;
        }
        (this.afterWrite?.(path, snapshot.step) ?? Promise.resolve()).then(resolve, (error: unknown) => {
          this.failure = error as Error;
          resolve();
        });
      };
      const crashed = (error: Error): void => {
        this.worker = undefined; // a thread that threw has exited: the next save starts another
        settle({ ok: false, message: `the checkpoint writer thread failed writing ${path}: ${error.message}` });
      };
      worker.on("message", settle);
      worker.on("error", crashed);
      // Held while a write is in flight, so the process cannot exit with the file unwritten.
      worker.ref();
      worker.postMessage({ path, snapshot } satisfies WriteRequest, buffers);
    });
  }

  /** Waits for the write in flight; throws if it failed. */
  async drain(): Promise<void> {
    await this.inFlight;
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
  }

  /** Waits for the write in flight (ignoring its outcome) and stops the thread. */
  async close(): Promise<void> {
    await this.inFlight;
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private start(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL("./checkpoint-write-worker.js", import.meta.url));
      this.worker.unref();
    }
    return this.worker;
  }
}
