// Learning-rate schedules: functions from the step about to be taken (0-based) to a learning rate.
// The training loop sets optimizer.lr = schedule(step) before each step.

export type Schedule = (step: number) => number;

/** Linear warm-up from 0 to `peak` over `warmup` steps, then cosine decay to `floor` at `total`. */
export function warmupCosine(o: { peak: number; warmup: number; total: number; floor?: number }): Schedule {
  const floor = o.floor ?? 0;
  return (step) => {
    if (step < o.warmup) return (o.peak * (step + 1)) / o.warmup;
    const t = Math.min(1, (step - o.warmup) / Math.max(1, o.total - o.warmup));
    return floor + 0.5 * (o.peak - floor) * (1 + Math.cos(Math.PI * t));
  };
}

/** `base`, multiplied by `gamma` every `every` steps (PyTorch's StepLR). */
export function stepDecay(o: { base: number; every: number; gamma: number }): Schedule {
  return (step) => o.base * Math.pow(o.gamma, Math.floor(step / o.every));
}
