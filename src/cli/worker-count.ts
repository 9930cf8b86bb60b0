// How many workers one machine may start: more than two per CPU is refused unless asked for
// (Open MPI's --oversubscribe), since a thousand processes on two cores is a typo, not a plan.
import { availableParallelism } from "node:os";
import { allowedCpus } from "../distributed/base/cpu-binding.js";
import { UsageError } from "./options.js";

/** Most workers per CPU allowed by default: 4 workers on 2 cores stay allowed (the strategy tests use them). */
export const WORKERS_PER_CPU = 2;

export function checkWorkerCount(n: number, oversubscribe: boolean, flag = "--nproc"): void {
  const cpus = allowedCpus()?.length ?? availableParallelism();
  if (!oversubscribe && n > WORKERS_PER_CPU * cpus) {
    throw new UsageError(`${flag} ${n} is more than ${WORKERS_PER_CPU} workers per CPU (this machine lets us use ${cpus}); pass --oversubscribe if you mean it`);
  }
}
