// A backend that times every kernel call of another one: where a training step's time goes, by
// kernel, for `weft bench ... --profile` and BENCHMARKS.md.
import { KERNEL_NAMES, type Backend } from "./backend.js";

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

export class KernelProfile {
  private readonly totals = new Map<string, { calls: number; ms: number }>();

  /** `inner` with each kernel call timed into this profile. */
  wrap(inner: Backend): Backend {
    const timed: Record<string, unknown> = { name: `${inner.name}+profile` };
    for (const name of KERNEL_NAMES) {
      const fn = (inner[name] as (...args: unknown[]) => unknown).bind(inner);
      // Unary/binary/reduce calls are split by operation ("unary:relu"), the useful granularity.
      const byOp = name === "unary" || name === "unaryBackward" || name === "binary" || name === "reduce";
      timed[name] = (...args: unknown[]) => {
        const t = performance.now();
        const result = fn(...args);
        this.add(byOp ? `${name}:${String(args[0])}` : name, performance.now() - t);
        return result;
      };
    }
    return timed as unknown as Backend;
  }

  private add(kernel: string, ms: number): void {
    const e = this.totals.get(kernel) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    this.totals.set(kernel, e);
  }

  reset(): void {
    this.totals.clear();
  }

  /** Kernels by total time, largest first. */
  report(): KernelTime[] {
    return [...this.totals].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
  }
}
