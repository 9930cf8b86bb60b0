// Latency-optimal all-reduce for small messages: log2(w) rounds of pairwise exchange of the whole
// buffer (for 2 ranks: one direct exchange). Cost per rank: log2(w) × bytes sent, against the
// ring's 2(w-1) messages, so it wins while wake-ups, not bytes, dominate.
//
//   Let p be the largest power of two <= w, and e = w - p the "extra" ranks.
//   fold-in:   rank p+i (i < e) sends its buffer to rank i, which adds it:  v_i = x_i + x_{p+i}.
//   rounds:    for mask = 1, 2, 4, .. p/2, rank r < p exchanges v with partner r ^ mask and both
//              compute v_lower + v_upper.
//   fold-out:  rank i sends the result to rank p+i.
//
// Note [recursive-doubling reduction order]: every addition combines the same two operands on
// both partners (IEEE addition is commutative), so all ranks end bitwise identical; the result is
// the balanced tree over ranks 0..p-1 whose leaves are v_i, e.g. w = 4:
// (x0 + x1) + (x2 + x3); w = 3: (x0 + x2) + x1.
//
// Note [compressed recursive doubling]: with `wire` "bf16" or "f16" every frame carries 16-bit
// elements, and both sides of each addition are the rounded values, q(a) + q(b) in float32
// (q: rounding to the wire type, Note [compressed ring] in ring.ts): a rank rounds its own
// operand in place before it adds the partner's, so partners still add the same two numbers.
// At the end every rank rounds its result in place, s = q(s) (after the division of "avg"), and
// the fold-out sends exactly those bits, so an extra rank ends identical too. Each element's error
// is at most about log2(w) + 2 roundings of its running sum's magnitude (bf16: 2^-8 relative
// each). Frames must not change until written: each round packs into the same 16-bit scratch
// only after the previous round's writes completed, which the adds wait for anyway.
//
// A rank adds a received segment into its buffer only after its own send of that segment has
// been handed to the kernel, because sends are not copied.
import { addInto, divideInPlace } from "../base/reduce.js";
import { packInto, unpackAddInto, unpackInto } from "../compression/convert.js";
import { wireBytes, type PackedWireDtype, type WireDtype } from "../compression/wire-dtype.js";
import type { OpContext } from "./op-context.js";
import { slice as view, u16Scratch } from "./ring-io.js";
import { segmentRanges, type Range } from "./segments.js";

/** How one segment travels: sent as it is (float32), or packed (Note [compressed recursive doubling]). */
interface RdIo {
  /** Sends this rank's current values of buf[rg] as frame `tag`; `written` runs once handed to the kernel. */
  send(peer: number, tag: number, rg: Range, written?: () => void): void;
  /** Receives frame `tag` of buf[rg]'s length; `landed` runs once it is here. */
  recv(peer: number, tag: number, rg: Range, landed: () => void): void;
  /** buf[rg] = own + received (both rounded when packed); after both the send and the receive of rg. */
  add(rg: Range): void;
  /** Receives frame `tag` as the final values of buf[rg] (an extra rank's fold-out). */
  recvFinal(peer: number, tag: number, rg: Range): void;
  /** Makes the final values what the wire can carry (packed: rounds in place; float32: nothing). */
  finish(): void;
}

export function runRecursiveDoubling(ctx: OpContext, buf: Float32Array, average: boolean, wire: WireDtype = "f32"): void {
  const w = ctx.worldSize;
  const r = ctx.rank;
  const p = 2 ** Math.floor(Math.log2(w));
  const extra = w - p;
  // Frames keep their size in bytes whatever the element type, as in the ring.
  const segs = segmentRanges({ start: 0, length: buf.length }, ctx.segmentElems * (4 / wireBytes(wire)));
  const rounds = Math.log2(p);
  const finalRound = rounds + 1;
  const tagOf = (round: number, j: number): number => round * segs.length + j;
  const io = wire === "f32" ? float32Io(ctx, buf) : packedIo(ctx, buf, wire);

  if (r >= p) {
    // An extra rank: hand over our values, then receive the result straight into the buffer.
    segs.forEach((rg, j) => io.send(r - p, tagOf(0, j), rg));
    segs.forEach((rg, j) => io.recvFinal(r - p, tagOf(finalRound, j), rg));
    return;
  }

  const finish = (): void => {
    if (average) divideInPlace(buf, w);
    io.finish();
    if (r < extra) segs.forEach((rg, j) => io.send(r + p, tagOf(finalRound, j), rg));
  };

  const exchange = (round: number): void => {
    if (round > rounds) return finish();
    const partner = r ^ (1 << (round - 1));
    let left = segs.length;
    segs.forEach((rg, j) => {
      // Add segment j only when both our send of it is out and the partner's copy is in.
      let waits = 2;
      const both = (): void => {
        if (--waits > 0) return;
        io.add(rg);
        if (--left === 0) exchange(round + 1);
      };
      io.send(partner, tagOf(round, j), rg, both);
      io.recv(partner, tagOf(round, j), rg, both);
    });
    if (segs.length === 0) exchange(round + 1);
  };

  if (r < extra) {
    let left = segs.length;
    segs.forEach((rg, j) =>
      io.recv(r + p, tagOf(0, j), rg, () => {
        io.add(rg);
        if (--left === 0) exchange(1);
      }),
    );
    if (segs.length === 0) exchange(1);
  } else {
    exchange(1);
  }
}

function float32Io(ctx: OpContext, buf: Float32Array): RdIo {
  const staging = ctx.scratch("rd-staging", buf.length);
  return {
    send: (peer, tag, rg, written) => ctx.send(peer, tag, view(buf, rg), written),
    recv: (peer, tag, rg, landed) => ctx.recv(peer, tag, view(staging, rg), landed),
    add: (rg) => addInto(view(buf, rg), view(staging, rg)),
    recvFinal: (peer, tag, rg) => ctx.recv(peer, tag, view(buf, rg), () => {}),
    finish: () => {},
  };
}

function packedIo(ctx: OpContext, buf: Float32Array, wire: PackedWireDtype): RdIo {
  const n = buf.length;
  // `outgoing` holds what this rank sends (its value of each segment, rounded); `incoming` what it receives.
  const outgoing = u16Scratch(ctx, "rd-wire-outgoing", n);
  const incoming = u16Scratch(ctx, "rd-wire-incoming", n);
  return {
    send: (peer, tag, rg, written) => {
      const packed = view(outgoing, rg);
      packInto(wire, view(buf, rg), packed);
      ctx.send(peer, tag, packed, written, wire);
    },
    recv: (peer, tag, rg, landed) => ctx.recv(peer, tag, view(incoming, rg), landed, undefined, wire),
    add: (rg) => {
      const region = view(buf, rg);
      // An operand this rank has not sent (a fold-in receiver's own value) is rounded here; one it
      // sent was packed into `outgoing`, and unpacking that is the same rounding.
      packInto(wire, region, view(outgoing, rg));
      unpackInto(wire, view(outgoing, rg), region);
      unpackAddInto(wire, view(incoming, rg), region);
    },
    recvFinal: (peer, tag, rg) => ctx.recv(peer, tag, view(incoming, rg), () => unpackInto(wire, view(incoming, rg), view(buf, rg)), undefined, wire),
    finish: () => {
      packInto(wire, buf, outgoing);
      unpackInto(wire, outgoing, buf);
    },
  };
}
