// Which parameter server owns which parameters. Every process of a parameter-server job (each
// worker and each server) computes the same assignment from the model's parameter list, so no
// one has to send it: the shards are a pure function of the parameters' sizes and the number of
// servers.
//
// Tensors are whole: a tensor is never split between servers, so a server's optimizer state is
// the optimizer's own per-parameter state and a checkpointed shard is a list of named tensors.
// Balance comes from the greedy rule of "largest first onto the least-loaded server" (LPT
// scheduling), which is within 4/3 of the best split and, for a model whose largest tensor
// dominates (the MNIST CNN's fc1 holds 91% of its weights), gives that tensor a server of its own
// and the rest to the others: no split of whole tensors can do better.

/** One server's part of the parameters, and where each of its tensors sits in its flat messages. */
export interface Shard {
  /** The shard's index, 0..servers-1 (served by job rank workers + index). */
  readonly index: number;
  /** Indices into the model's parameter list, ascending. */
  readonly params: readonly number[];
  /** Element offset of each of `params` in the shard's flat buffer. */
  readonly offsets: readonly number[];
  /** Elements in all (the flat buffer's length, without a message header). */
  readonly size: number;
}

/**
 * Splits parameters of the given sizes (in the model's order) among `servers` shards: largest
 * first, each onto the shard with the fewest elements so far (ties: the earlier parameter first,
 * the lower shard first), so the result is the same on every process. Within a shard the
 * parameters keep the model's order. A shard may be empty when there are more servers than
 * tensors; the caller decides whether that is allowed.
 *
 * @example The largest tensor gets a server of its own
 * ```ts
 * const shards = assignShards([10, 1000, 20, 30], 2);
 * assert.deepEqual(shards.map((s) => s.params), [[1], [0, 2, 3]]);
 * assert.deepEqual(shards[1]!.offsets, [0, 10, 30]);
 * assert.deepEqual(shards.map((s) => s.size), [1000, 60]);
 * ```
 */
export function assignShards(sizes: readonly number[], servers: number): Shard[] {
  if (!Number.isInteger(servers) || servers < 1) throw new RangeError(`assignShards: servers must be an integer >= 1, got ${servers}`);
  const bad = sizes.findIndex((n) => !Number.isInteger(n) || n < 0);
  if (bad >= 0) throw new RangeError(`assignShards: parameter ${bad} has size ${sizes[bad]}; sizes are integers >= 0`);
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  const load = new Array<number>(servers).fill(0);
  const owned: number[][] = Array.from({ length: servers }, () => []);
  for (const i of order) {
    let k = 0;
    for (let j = 1; j < servers; j++) if (load[j]! < load[k]!) k = j;
    owned[k]!.push(i);
    load[k]! += sizes[i]!;
  }
  return owned.map((list, index) => {
    const params = list.sort((a, b) => a - b);
    const offsets: number[] = [];
    let size = 0;
    for (const i of params) {
      offsets.push(size);
      size += sizes[i]!;
    }
    return { index, params, offsets, size };
  });
}

/** "shard 1: 20736 parameters in 7 tensors", for messages. */
export function describeShard(shard: Shard): string {
  return `shard ${shard.index}: ${shard.size} parameters in ${shard.params.length} tensor${shard.params.length === 1 ? "" : "s"}`;
}
