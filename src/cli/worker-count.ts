// How many workers one machine may start: more than two per CPU is refused unless asked for
// (Open MPI's --oversubscribe), since a thousand processes on two cores is a typo, not a plan.
// The CPUs counted are those this process may run on (its affinity mask, as `taskset` or a
// container's cpuset leave it), not the machine's: those are the ones the workers will share.
import { availableParallelism } from "node:os";
import { allowedCpus } from "../distributed/base/cpu-binding.js";
import { UsageError } from "./options.js";

/** Most workers per CPU allowed by default: 4 workers on 2 cores stay allowed (the strategy tests use them). */
export const WORKERS_PER_CPU = 2;

/** The CPUs this process may run on (without the native addon the affinity mask is unknown; Node's count honours it too). */
export function cpuCount(): number {
  return allowedCpus()?.length ?? availableParallelism();
}

/**
 * Throws a UsageError naming `flag` when `n` workers are more than WORKERS_PER_CPU per CPU and
 * `oversubscribe` is not set.
 *
 * @example A typo is refused, the same count with --oversubscribe is not
 * ```ts
 * assert.throws(() => checkWorkerCount(100_000, false), /--nproc 100000 is more than 2 workers per CPU .* pass --oversubscribe/);
 * checkWorkerCount(100_000, true);
 * ```
 */
export function checkWorkerCount(n: number, oversubscribe: boolean, flag = "--nproc"): void {
  const cpus = cpuCount();
  if (!oversubscribe && n > WORKERS_PER_CPU * cpus) {
    throw new UsageError(
      `${flag} ${n} is more than ${WORKERS_PER_CPU} workers per CPU (this process may run on ${cpus} CPU${cpus === 1 ? "" : "s"}, ` +
        `so at most ${WORKERS_PER_CPU * cpus}); pass --oversubscribe if you mean it`,
    );
  }
}
