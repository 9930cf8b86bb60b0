// Note [collective descriptors]: when a rank starts collective number `seq` it sends every peer
// an Arrive frame carrying a small fingerprint of the call: operation, element count, root,
// reduce op, wire dtype and algorithm. Every rank compares each fingerprint it receives with its
// own, so ranks that called different collectives, or the same one with different sizes, all fail
// at once with both sides named ("rank 0 passed 1000 floats, rank 1 passed 999") instead of
// hanging or silently reducing garbage. The Arrive frames also tell, at a timeout, which ranks
// never reached the operation. An operation completes only after every peer's Arrive came in,
// which is also exactly what a barrier is.
import type { FrameHeader } from "../wire/frame.js";
import { OP_DISPLAY_NAMES, type OpName, type ReduceOp } from "./ops.js";
import { WIRE_DTYPES, type WireDtype } from "../compression/wire-dtype.js";

export type Algorithm = "none" | "ring" | "recursive-doubling" | "chain";

export interface OpDescriptor {
  op: OpName;
  /** Elements each rank passes (all-gather: its input; reduce-scatter: its input). */
  count: number;
  root: number;
  reduceOp: ReduceOp | "none";
  /** Element type on the wire (all-reduce and reduce-scatter may ask for bf16 or f16; others f32). */
  wire: WireDtype;
  algorithm: Algorithm;
}

const OPS: OpName[] = ["allReduce", "reduceScatter", "allGather", "broadcast", "barrier", "send", "recv"];
const REDUCE: (ReduceOp | "none")[] = ["none", "sum", "avg"];
const ALGOS: Algorithm[] = ["none", "ring", "recursive-doubling", "chain"];

/** Packs a descriptor into the aux words of an Arrive frame (no payload needed): aux2 holds the
 * operation, reduce op, algorithm and wire type in its four bytes, low to high. */
export function descriptorAux(d: OpDescriptor): Pick<FrameHeader, "aux0" | "aux1" | "aux2"> {
  return {
    aux0: d.count,
    aux1: d.root,
    aux2: (OPS.indexOf(d.op) | (REDUCE.indexOf(d.reduceOp) << 8) | (ALGOS.indexOf(d.algorithm) << 16) | (WIRE_DTYPES.indexOf(d.wire) << 24)) >>> 0,
  };
}

export function descriptorFromAux(h: Pick<FrameHeader, "aux0" | "aux1" | "aux2">): OpDescriptor {
  return {
    op: OPS[h.aux2 & 0xff] ?? "barrier",
    count: h.aux0,
    root: h.aux1,
    reduceOp: REDUCE[(h.aux2 >> 8) & 0xff] ?? "none",
    algorithm: ALGOS[(h.aux2 >> 16) & 0xff] ?? "none",
    wire: WIRE_DTYPES[(h.aux2 >>> 24) & 0xff] ?? "f32",
  };
}

/**
 * Compares two ranks' descriptors of the same sequence number; returns a message naming both
 * sides of the first difference, or undefined when they agree. The ranks are given as they should
 * be named (a subgroup passes job-wide ranks, Note [global rank names] in engine.ts) and `scope`
 * follows the operation's name (" in group [1, 3]").
 */
export function describeMismatch(
  seq: number, mine: OpDescriptor, myRank: number, theirs: OpDescriptor, theirRank: number, scope = "",
): string | undefined {
  const at = `collective #${seq}${scope}`;
  if (mine.op !== theirs.op) {
    return `${at}: rank ${myRank} called ${OP_DISPLAY_NAMES[mine.op]}, rank ${theirRank} called ${OP_DISPLAY_NAMES[theirs.op]}; every rank must issue the same collectives in the same order`;
  }
  const name = `${OP_DISPLAY_NAMES[mine.op]} #${seq}${scope}`;
  if (mine.count !== theirs.count) {
    return `${name}: rank ${myRank} passed ${mine.count} floats, rank ${theirRank} passed ${theirs.count}; every rank must pass buffers of the same size`;
  }
  if (mine.root !== theirs.root) {
    return `${name}: rank ${myRank} named root ${mine.root}, rank ${theirRank} named root ${theirs.root}`;
  }
  if (mine.reduceOp !== theirs.reduceOp) {
    return `${name}: rank ${myRank} asked for ${mine.reduceOp}, rank ${theirRank} for ${theirs.reduceOp}`;
  }
  if (mine.wire !== theirs.wire) {
    return `${name}: rank ${myRank} asked for ${mine.wire} on the wire, rank ${theirRank} for ${theirs.wire}; every rank must pass the same wire option`;
  }
  if (mine.algorithm !== theirs.algorithm) {
    return `${name}: rank ${myRank} chose ${mine.algorithm}, rank ${theirRank} chose ${theirs.algorithm}; give every rank the same smallMessageBytes and segmentBytes`;
  }
  return undefined;
}
