// Note [prefetch on one thread]
// A Weft worker runs its training step on one JavaScript thread (and one core), so "preparing the
// next batch while the current one is consumed" can only use time the consumer spends WAITING:
// awaiting a gradient all-reduce, a checkpoint write, a socket. Prefetching therefore builds batch
// k+1 in a macrotask (setImmediate) scheduled when batch k is handed out: it runs as soon as the
// consumer awaits real I/O, and costs nothing extra if it never does (the batch is then built when
// asked for, exactly once either way). Worker threads could overlap compute too, but would cost a
// core per worker and copies of every batch, against the one-core-per-worker design.

/**
 * Yields the items of `source`, building each next one ahead of time (Note [prefetch on one thread]).
 * Errors thrown while building an item surface when that item is requested.
 */
export async function* prefetch<T>(source: Iterator<T>): AsyncGenerator<T, void, undefined> {
  let step = source.next();
  try {
    while (step.done !== true) {
      const current = step.value;
      const ahead = new Promise<IteratorResult<T>>((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(source.next());
          } catch (error) {
            reject(error);
          }
        });
      });
      // If the consumer stops early, a rejection of the batch it never asked for is not an error.
      ahead.catch(() => undefined);
      yield current;
      step = await ahead;
    }
  } finally {
    source.return?.();
  }
}
