// Fused optimizer steps, element by element exactly as torch.optim.SGD and torch.optim.Adam /
// AdamW (amsgrad off) update one parameter tensor. The gradient is read, never modified.
import type { Backend } from "../backend.js";

type OptimKernels = Pick<Backend, "sgdStep" | "adamStep">;

export const optimKernels: OptimKernels = {
  sgdStep(param, grad, momentumBuf, n, lr, momentum, dampening, weightDecay, nesterov, firstStep) {
    for (let i = 0; i < n; i++) {
      // Weight decay is skipped, not multiplied by 0, when off: 0 * inf would turn a diverged weight's step into NaN.
      let d = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
      if (momentum !== 0 && momentumBuf) {
        // PyTorch starts the buffer at the first gradient itself, undamped.
        const buf = firstStep ? d : momentum * momentumBuf[i] + (1 - dampening) * d;
        momentumBuf[i] = buf;
        d = nesterov ? d + momentum * momentumBuf[i] : momentumBuf[i];
      }
      param[i] -= lr * d;
    }
  },

  // m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
  adamStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, decoupled, step) {
    const stepSize = lr / (1 - beta1 ** step);
    const bias2Sqrt = Math.sqrt(1 - beta2 ** step);
    const decay = decoupled ? 1 - lr * weightDecay : 1;
    for (let i = 0; i < n; i++) {
      const p = param[i] * decay;
      const g = decoupled || weightDecay === 0 ? grad[i] : grad[i] + weightDecay * param[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      param[i] = p - (stepSize * m[i]) / (Math.sqrt(v[i]) / bias2Sqrt + eps);
    }
  },
};
