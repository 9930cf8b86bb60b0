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

/**
 * The link comparison: all-reduces of this size over a link of this rate, hierarchical and flat
 * alternately, this many rounds. 4 MiB at 200 Mbit/s is 168 ms against 252 ms of wire time: the
 * gap (84 ms) is several times the shared-memory steps' cost on two loaded cores (16 MiB at
 * 1 Gbit/s left 67 ms of gap, which a CI machine's four workers on two cores ate).
 */
export const LINK_BYTES = 4 << 20;
export const LINK_RATE = "200mbit";
export const LINK_ROUNDS = 3;
