import { backend, setBackend, type Bf16GemmPath } from "../backend/index.js";
import { autocast, type Precision } from "../tensor/index.js";
import { KernelProfile } from "../backend/profile.js";
import { median } from "./median.js";

export interface BenchOptions {
  batch?: number;
  steps?: number;
  warmup?: number;
  /** Time every kernel and print where each step's time goes (on stderr). */
  profile?: boolean;
  /** The precision of the model's matrix products (default f32), and with bf16 the GEMM's path, for the line. */
  precision?: Precision;
  bf16Path?: Bf16GemmPath;
}

/** With --profile, routes kernels through a timing wrapper; `finish` prints the table and restores the backend. */
function startProfile(o: BenchOptions): { reset(): void; finish(totalMs: number, steps: number): void } | null {
  if (!o.profile) return null;
  const profile = new KernelProfile();
  const inner = backend();
  setBackend(profile.wrap(inner));
  return {
    reset: () => profile.reset(),
    finish: (totalMs, steps) => {
      setBackend(inner);
      const rows = profile.report();
      const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
      process.stderr.write(`per step: ${(totalMs / steps).toFixed(2)} ms, of which kernels ${(kernelMs / steps).toFixed(2)} ms\n`);
      for (const r of rows) {
        process.stderr.write(`${r.kernel.padEnd(28)} ${(r.ms / steps).toFixed(3).padStart(8)} ms  ${((100 * r.ms) / totalMs).toFixed(1).padStart(5)}%  ${(r.calls / steps).toFixed(1)} calls\n`);
      }
    },
  };
}

/** Runs `step` warmup + steps times and times the last `steps` (profiling them with --profile). */
export function timeSteps(o: BenchOptions, warmup: number, steps: number, step: () => void): { totalS: number; medianMs: number } {
  const times: number[] = [];
  const profile = startProfile(o);
  const precision = o.precision ?? "f32";
  for (let i = 0; i < warmup + steps; i++) {
    const t = performance.now();
    autocast(precision, step);
    if (i >= warmup) times.push(performance.now() - t);
    if (i + 1 === warmup) profile?.reset();
  }
  const totalMs = times.reduce((s, v) => s + v, 0);
  profile?.finish(totalMs, steps);
  return { totalS: totalMs / 1000, medianMs: median(times) };
}

/** The line's fields that say what precision the bench multiplied in. */
export function precisionFields(o: BenchOptions): Record<string, string> {
  return { precision: o.precision ?? "f32", ...(o.bf16Path === undefined ? {} : { bf16_path: o.bf16Path }) };
}
