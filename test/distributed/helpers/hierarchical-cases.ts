// What the hierarchical all-reduce tests run, shared by the worker (which reduces) and the test
// (which computes the documented result on its own): sizes on both sides of smallMessageBytes
// (64 KiB in the worker: the leaders' recursive doubling below, their ring above), an odd count
// (chunks of unequal length), sum and avg, shared and ordinary buffers.
import type { ReduceOp } from "../../../src/distributed/collectives/ops.js";

export interface HierarchyCase {
  count: number;
  op: ReduceOp;
  seed: number;
  shared: boolean;
}

export const HIERARCHY_CASES: HierarchyCase[] = [
  { count: 5, op: "sum", seed: 1, shared: false },
  { count: 1000, op: "avg", seed: 2, shared: true },
  { count: 100_003, op: "sum", seed: 3, shared: true },
  { count: 100_003, op: "avg", seed: 4, shared: false },
];

/** Recursive doubling up to this size between the leaders (the worker's smallMessageBytes). */
export const HIERARCHY_SMALL_BYTES = 64 << 10;

/** The DDP run: steps of SGD at this rate on the toy task of this seed. */
export const DDP_STEPS = 4;
export const DDP_LR = 0.1;
export const DDP_SEED = 70;

/** The link comparison: all-reduces of this size, hierarchical and flat alternately, this many rounds. */
export const LINK_BYTES = 16 << 20;
export const LINK_ROUNDS = 3;
