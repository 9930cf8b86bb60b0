// One pipeline stage running its op list for a step (pipeline-schedule.ts): the forward of a
// micro-batch through the stage's layers, on the batch (stage 0) or on the activation received
// from the previous stage, sent on to the next (or, on the last stage, the micro-batch's loss);
// the backward from the gradient received from the next stage (or from the loss, scaled by 1/M),
// whose input gradient goes back to the previous stage. Gradients of the stage's parameters add
// up over the micro-batches as backward folds each into `.grad`.
//
// It also keeps the books of Note [measuring the bubble]: time computing and time blocked on a
// receive, and the micro-batches (and their activation bytes) held between forward and backward.
import type { LayerStack } from "../../nn/index.js";
import { activationBytes, Tensor } from "../../tensor/index.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import type { PipelineOp } from "./pipeline-schedule.js";
import { recvActivation, recvGradient, sendActivation, sendGradient } from "./pipeline-wire.js";

/** What the stage holds of a micro-batch between its forward and its backward. */
interface LiveMicroBatch {
  /** The received activation (a leaf requiring a gradient); undefined on stage 0. */
  input: Tensor | undefined;
  /** The stage's output (sent on), or on the last stage the micro-batch's loss. */
  output: Tensor;
  /** Bytes the forward added to the autograd graph (Note [counting activation bytes]). */
  bytes: number;
}

/** A step of one stage, in milliseconds and bytes. */
export interface StageStep {
  /** The last stage: the sum of its micro-batches' losses (0 elsewhere). */
  lossSum: number;
  /** Forward and backward compute. */
  computeMs: number;
  /** Blocked on receiving an activation or a gradient: the stage's share of the bubble. */
  recvWaitMs: number;
  /** Blocked until this step's sends were handed to the network (eager: short). */
  sendWaitMs: number;
  /** The most micro-batches held at once in this step, and their activation bytes. */
  livePeak: number;
  liveBytesPeak: number;
}

export interface StageLayout {
  stack: LayerStack<unknown>;
  /** The stage's layers are stack.layers[from, to). */
  from: number;
  to: number;
  /** The stage's index, which is its rank in `group`, the pipeline's group. */
  stage: number;
  stages: number;
  group: ProcessGroup;
}

export class PipelineStage {
  private readonly live = new Map<number, LiveMicroBatch>();

  constructor(readonly layout: StageLayout) {}

  get isFirst(): boolean {
    return this.layout.stage === 0;
  }

  get isLast(): boolean {
    return this.layout.stage === this.layout.stages - 1;
  }

  /** Runs `ops` on `microBatches` (the step's batch, split); returns the step's books. */
  async run(ops: readonly PipelineOp[], microBatches: readonly unknown[]): Promise<StageStep> {
    const out: StageStep = { lossSum: 0, computeMs: 0, recvWaitMs: 0, sendWaitMs: 0, livePeak: 0, liveBytesPeak: 0 };
    let liveBytes = 0;
    for (const op of ops) {
      const mb = microBatches[op.microBatch];
      if (op.kind === "forward") {
        const entry = await this.forward(mb, out);
        this.live.set(op.microBatch, entry);
        liveBytes += entry.bytes;
        out.livePeak = Math.max(out.livePeak, this.live.size);
        out.liveBytesPeak = Math.max(out.liveBytesPeak, liveBytes);
      } else {
        const entry = this.live.get(op.microBatch);
        if (!entry) throw new Error(`pipeline: stage ${this.layout.stage} was asked for the backward of micro-batch ${op.microBatch} before its forward`);
        this.live.delete(op.microBatch);
        liveBytes -= entry.bytes;
        await this.backward(entry, microBatches.length, out);
      }
    }
    return out;
  }

  /**
   * Waits until the sends are handed to the network before computing on. They are eager, so this
   * is short; without it a send can sit in the comm thread's queue while this thread computes the
   * next micro-batch, and where the launcher binds a worker to one core (`--cpu-bind cores`) the
   * comm thread only gets the core back at the scheduler's next turn: milliseconds a neighbour
   * then spends waiting (measured: 10 to 25 ms per gradient with MNIST-sized stages, which turned a
   * 0.2 bubble into 0.5).
   */
  private async handOver(sends: Work[], out: StageStep): Promise<void> {
    const t = performance.now();
    await Promise.all(sends.map((w) => w.wait()));
    out.sendWaitMs += performance.now() - t;
  }

  private async forward(mb: unknown, out: StageStep): Promise<LiveMicroBatch> {
    const { stack, from, to, stage, group } = this.layout;
    let input: Tensor | undefined;
    if (!this.isFirst) {
      const t = performance.now();
      input = await recvActivation(group, stage - 1);
      out.recvWaitMs += performance.now() - t;
    }
    const t = performance.now();
    const before = activationBytes();
    let x = input;
    for (let i = from; i < to; i++) x = stack.layers[i]!.forward(x, mb);
    let output = x!;
    if (this.isLast) {
      output = stack.loss(output, mb);
      out.lossSum += output.item();
    }
    // Synchronous from `before` to here, so the difference is this forward's alone even with
    // other ranks of an in-process group in the same thread.
    const bytes = activationBytes() - before;
    out.computeMs += performance.now() - t;
    if (!this.isLast) await this.handOver(sendActivation(group, output, stage + 1), out);
    return { input, output, bytes };
  }

  private async backward(entry: LiveMicroBatch, microBatches: number, out: StageStep): Promise<void> {
    const { stage, group } = this.layout;
    let grad: Tensor;
    if (this.isLast) {
      // The step's loss is the mean over the micro-batches: each one's gradient is scaled by 1/M.
      grad = new Tensor(new Float32Array(entry.output.size).fill(1 / microBatches), entry.output.shape);
    } else {
      const t = performance.now();
      grad = await recvGradient(group, entry.output.shape, stage + 1);
      out.recvWaitMs += performance.now() - t;
    }
    const t = performance.now();
    // A stage whose output depends on no parameter and no input (a first stage of parameter-free
    // layers) has nothing to run; it still took the gradient, which keeps the messages in order.
    if (entry.output.requiresGrad) entry.output.backward(grad);
    out.computeMs += performance.now() - t;
    if (!this.isFirst) {
      const input = entry.input!;
      await this.handOver([sendGradient(group, input.grad ? input.grad.dense() : new Float32Array(input.size), stage - 1)], out);
    }
  }
}
