// Note [CPU binding]
// `weft launch` gives each local worker its own share of the CPUs it may use (like Open MPI's
// --bind-to core, its default for small jobs) and the worker pins all its threads there. Unbound,
// two workers on two cores each lost 10–30% of a training step: a worker woken from a collective
// wait was often placed on the core of the thread that woke it, next to the other worker, and
// its caches went cold. Bound, each worker keeps its core and a shared-memory wait may spin on
// it without taking time from anyone else. With more workers than CPUs binding is skipped: the
// shares would overlap.
import { distAddon } from "./native-dist.js";

/** Splits `cpus` into `nproc` contiguous, disjoint shares; null when there are fewer CPUs than workers. */
export function planCpuShares(cpus: readonly number[], nproc: number): number[][] | null {
  if (nproc < 1 || cpus.length < nproc) return null;
  return Array.from({ length: nproc }, (_, i) =>
    cpus.slice(Math.floor((i * cpus.length) / nproc), Math.floor(((i + 1) * cpus.length) / nproc)),
  );
}

/** The CPUs this process may run on; null when the addon is missing. */
export function allowedCpus(): number[] | null {
  return distAddon?.cpuAffinity() ?? null;
}

/** Parses "0,1,4" (what the launcher writes in WEFT_CPUS). */
export function parseCpuList(text: string): number[] {
  const cpus = text.split(",").map((s) => Number(s.trim()));
  if (cpus.length === 0 || cpus.some((c) => !Number.isInteger(c) || c < 0)) throw new RangeError(`WEFT_CPUS must list CPU numbers like 0,1 — got "${text}"`);
  return cpus;
}

/** Pins every thread of this process to `cpus`; false when the addon is missing. */
export function bindThisProcess(cpus: readonly number[]): boolean {
  if (!distAddon) return false;
  distAddon.bindProcessToCpus([...cpus]);
  return true;
}
