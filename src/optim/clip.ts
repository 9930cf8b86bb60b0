import { backend } from "../backend/index.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * Scales all gradients together so that their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping; a non-finite norm is
 * returned without touching the gradients, so the caller can skip the step and say why.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let squares = 0;
  for (const p of params) if (p.grad) squares += backend().sumSquares(p.grad.dense(), p.size);
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm)) return norm;
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    for (const p of params) if (p.grad) backend().affine(p.grad.data, p.grad.data, p.size, scale, 0);
  }
  return norm;
}
