// Averaging a set of parameters' gradients over a group in one all-reduce: what a pipeline stage
// and a tensor-parallel rank do with their copies in the other data-parallel replicas after
// backward (DDP's buckets, ddp.ts, do it for a whole model while backward runs).
import { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup } from "../group/process-group.js";

/**
 * Replaces each parameter's gradient with its average over `group` (a parameter no gradient
 * reached counts as zeros, and gets the average), in one all-reduce that also carries `extra`
 * numbers (e.g. the step's loss); returns those, averaged.
 */
export async function averageGradients(group: ProcessGroup, params: readonly Tensor[], extra: readonly number[] = []): Promise<Float32Array> {
  const total = params.reduce((n, p) => n + p.size, 0);
  const flat = sharedFloat32Array(total + extra.length);
  let at = 0;
  for (const p of params) {
    if (p.grad) flat.set(p.grad.dense(), at);
    at += p.size;
  }
  flat.set(extra, total);
  await group.allReduce(flat, { op: "avg" });
  at = 0;
  for (const p of params) {
    const g = flat.subarray(at, at + p.size);
    if (p.grad) p.grad.data.set(g, p.grad.offset);
    else p.grad = new Tensor(g.slice(), p.shape);
    at += p.size;
  }
  return flat.slice(total);
}
