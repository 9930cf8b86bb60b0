// The messages between neighbouring pipeline stages: an activation forward (its shape, then its
// elements) and its gradient back (the elements only: the sender of the activation knows the
// shape). Each kind has its own tag, so a schedule bug shows up as a typed mismatch naming both
// ranks (collectives/send-recv.ts) rather than as a tensor read with the wrong meaning.
//
// The shape travels with every activation rather than being derived once: a stage cannot know
// what shape the previous stage's layers produce without running them, and the header is nine
// floats beside thousands, one more eager send per micro-batch.
import { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup, Work } from "../group/process-group.js";

const TAG_SHAPE = 0x7001;
const TAG_ACTIVATION = 0x7002;
const TAG_GRADIENT = 0x7003;
/** Dimensions a header can carry: more than any layer here produces. */
const MAX_RANK = 8;

/** Starts sending `activation` (shape, then elements) to stage rank `dst`; the sends are eager. */
export function sendActivation(pg: ProcessGroup, activation: Tensor, dst: number): Work[] {
  if (activation.rank > MAX_RANK) throw new RangeError(`pipeline: a stage's output has ${activation.rank} dimensions; activations between stages may have at most ${MAX_RANK}`);
  const header = new Float32Array(MAX_RANK + 1);
  header[0] = activation.rank;
  activation.shape.forEach((d, i) => (header[i + 1] = d));
  return [pg.sendAsync(header, dst, { tag: TAG_SHAPE }), pg.sendAsync(activation.dense(), dst, { tag: TAG_ACTIVATION })];
}

/** Receives the next activation from stage rank `src` as a leaf that requires a gradient (the stage's input). */
export async function recvActivation(pg: ProcessGroup, src: number): Promise<Tensor> {
  const header = new Float32Array(MAX_RANK + 1);
  await pg.recv(header, src, { tag: TAG_SHAPE });
  const shape = Array.from(header.subarray(1, 1 + header[0]!));
  const data = sharedFloat32Array(shape.reduce((a, b) => a * b, 1));
  await pg.recv(data, src, { tag: TAG_ACTIVATION });
  return new Tensor(data, shape, undefined, 0, true);
}

/** Starts sending the gradient of a received activation back to stage rank `dst`. */
export function sendGradient(pg: ProcessGroup, grad: Float32Array, dst: number): Work {
  return pg.sendAsync(grad, dst, { tag: TAG_GRADIENT });
}

/** Receives the gradient of the activation this stage sent to stage rank `src`, as a tensor of its shape. */
export async function recvGradient(pg: ProcessGroup, shape: readonly number[], src: number): Promise<Tensor> {
  const data = sharedFloat32Array(shape.reduce((a, b) => a * b, 1));
  await pg.recv(data, src, { tag: TAG_GRADIENT });
  return new Tensor(data, shape);
}
