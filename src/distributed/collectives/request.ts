// Checks and fingerprints of a requested operation, before it runs: arguments that cannot be
// right on this rank alone fail locally (RangeError, nothing sent); the descriptor is what the
// ranks compare (Note [collective descriptors]).
import type { OpName, OpRequest } from "./ops.js";
import { chooseAllReduceAlgorithm } from "./all-reduce.js";
import type { Algorithm, OpDescriptor } from "./descriptor.js";
import { checkWireDtype, type WireDtype } from "../compression/wire-dtype.js";

/** Throws a RangeError naming the argument when `req` cannot be run by `rank` of a group of `w`. */
export function validateRequest(req: OpRequest, rank: number, w: number): void {
  const rankOk = (r: number): boolean => Number.isInteger(r) && r >= 0 && r < w;
  switch (req.op) {
    case "broadcast":
      if (!rankOk(req.root)) throw new RangeError(`broadcast root ${req.root} is not a rank of this group (0..${w - 1})`);
      return;
    case "send":
    case "recv":
      if (!rankOk(req.peer) || req.peer === rank) {
        throw new RangeError(`${req.op} peer ${req.peer} must be another rank of this group (0..${w - 1}, not ${rank})`);
      }
      checkTag(req.op, req.tag);
      return;
    case "recvAny":
      if (w < 2) throw new RangeError(`recv-any needs another rank to receive from, and this group has only rank ${rank}`);
      checkTag("recv-any", req.tag);
      return;
    case "allGather":
      if (req.output.length !== w * req.input.length) {
        throw new RangeError(`all-gather output has ${req.output.length} floats; it must be worldSize (${w}) × input (${req.input.length})`);
      }
      return;
    case "reduceScatter":
      if (req.input.length !== w * req.output.length) {
        throw new RangeError(`reduce-scatter input has ${req.input.length} floats; it must be worldSize (${w}) × output (${req.output.length})`);
      }
      checkWire(req.wire);
      return;
    case "allReduce":
      checkWire(req.wire);
      return;
    default:
      return;
  }
}

function checkTag(op: string, tag: number): void {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) throw new RangeError(`${op} tag must be a u32, got ${tag}`);
}

function checkWire(wire: unknown): void {
  if (wire !== undefined) checkWireDtype(wire, "wire");
}

/**
 * The descriptor every rank sends for a collective; undefined for send/recv. `defaultWire` is the
 * group's (EngineOptions.wire), for reductions that do not name one.
 */
export function describeRequest(req: OpRequest, worldSize: number, smallMessageBytes: number, defaultWire: WireDtype = "f32"): OpDescriptor | undefined {
  // Every descriptor is made by `descriptor`, with its fields in one order: a spread with
  // overrides made V8 build each in dictionary mode, which cost every later read of it.
  switch (req.op) {
    case "allReduce":
      return descriptor(req.op, req.buffer.length, 0, req.reduceOp, req.wire ?? defaultWire, chooseAllReduceAlgorithm(req.buffer.length, worldSize, smallMessageBytes));
    case "reduceScatter":
      return descriptor(req.op, req.input.length, 0, req.reduceOp, req.wire ?? defaultWire, "ring");
    case "allGather":
      return descriptor(req.op, req.input.length, 0, "none", "f32", "ring");
    case "broadcast":
      return descriptor(req.op, req.buffer.length, req.root, "none", "f32", "chain");
    case "barrier":
      return descriptor(req.op, 0, 0, "none", "f32", "none");
    default:
      return undefined;
  }
}

function descriptor(op: OpName, count: number, root: number, reduceOp: OpDescriptor["reduceOp"], wire: WireDtype, algorithm: Algorithm): OpDescriptor {
  return { op, count, root, reduceOp, wire, algorithm };
}

/**
 * The algorithm the engine runs for an operation of this kind and size (what describeRequest puts
 * in the descriptor), by name, for flight records; point-to-point is "direct".
 */
export function algorithmFor(op: OpName, count: number, worldSize: number, smallMessageBytes: number): string {
  switch (op) {
    case "allReduce":
      return chooseAllReduceAlgorithm(count, worldSize, smallMessageBytes);
    case "reduceScatter":
    case "allGather":
      return "ring";
    case "broadcast":
      return "chain";
    case "barrier":
      return "none";
    default:
      return "direct";
  }
}
