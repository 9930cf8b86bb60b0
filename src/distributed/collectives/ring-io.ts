// How the ring (ring.ts) moves one segment, for each element type on the wire. The ring decides
// what goes where and when; a RingIo does the sending, receiving and adding:
//  - float32: frames are views of the buffer itself, reduce-scatter segments land in staging and
//    are added in, all-gather segments land straight in the buffer;
//  - bf16 / f16 (Note [compressed ring] in ring.ts): every frame is packed into 16-bit scratch
//    first and unpacked (or unpacked and added) when it lands.
import { addInto } from "../base/reduce.js";
import { packInto, unpackAddInto, unpackInto } from "../compression/convert.js";
import type { PackedWireDtype, WireDtype } from "../compression/wire-dtype.js";
import type { OpContext } from "./op-context.js";
import type { Range } from "./segments.js";

export interface RingIo {
  /** Sends this rank's current values of buf[rg] (its own input or a partial sum) as reduce-scatter frame `tag`. */
  sendPartial(tag: number, rg: Range): void;
  /** Receives reduce-scatter frame `tag` into staging slot `slot`, adds it into buf[rg], then calls `reduced`. */
  recvPartial(tag: number, rg: Range, slot: number, reduced: () => void): void;
  /** Sends the final values of buf[rg], which this rank reduced, as all-gather frame `tag`. */
  sendFinal(tag: number, rg: Range): void;
  /** Receives all-gather frame `tag` as the final values of buf[rg]; forwards it as frame `forwardTag` if given. */
  recvFinal(tag: number, rg: Range, forwardTag: number | undefined): void;
}

export interface RingIoParams {
  ctx: OpContext;
  buf: Float32Array;
  next: number;
  prev: number;
  wire: WireDtype;
  /** Elements per segment (the longest range passed to recvPartial). */
  segmentElems: number;
  /** Reduce-scatter staging slots (recvPartial's `slot` is below this). */
  stagingSlots: number;
}

export function createRingIo(p: RingIoParams): RingIo {
  return p.wire === "f32" ? float32RingIo(p) : compressedRingIo(p, p.wire);
}

/** a[rg], as a view. */
export const slice = <T extends Float32Array | Uint16Array>(a: T, rg: Range): T => a.subarray(rg.start, rg.start + rg.length) as T;

function float32RingIo({ ctx, buf, next, prev, segmentElems, stagingSlots }: RingIoParams): RingIo {
  let staging: Float32Array | undefined;
  return {
    sendPartial: (tag, rg) => ctx.send(next, tag, slice(buf, rg)),
    recvPartial: (tag, rg, slot, reduced) => {
      staging ??= ctx.scratch("ring-staging", stagingSlots * segmentElems);
      const region = slice(buf, rg);
      const staged = staging.subarray(slot * segmentElems, slot * segmentElems + rg.length);
      ctx.recv(prev, tag, staged, () => {
        addInto(region, staged); // region = partial sum so far + own value (Note [ring reduction order])
        reduced();
      });
    },
    sendFinal: (tag, rg) => ctx.send(next, tag, slice(buf, rg)),
    recvFinal: (tag, rg, forwardTag) => {
      const region = slice(buf, rg);
      ctx.recv(prev, tag, region, () => {
        if (forwardTag !== undefined) ctx.send(next, forwardTag, region);
      });
    },
  };
}

/** A 16-bit view of engine scratch memory (which comes as float32). */
export function u16Scratch(ctx: OpContext, slot: string, elems: number): Uint16Array {
  const f = ctx.scratch(slot, Math.ceil(elems / 2));
  return new Uint16Array(f.buffer, f.byteOffset, elems);
}

function compressedRingIo({ ctx, buf, next, prev, segmentElems, stagingSlots }: RingIoParams, wire: PackedWireDtype): RingIo {
  const n = buf.length;
  // Note [compressed ring]: a frame's packed bytes stay untouched until its write completes
  // because every element position is packed into each of these at most once per operation.
  // `outgoing` holds reduce-scatter sends (chunks r-1 .. r-w+1: distinct chunks, one per step);
  // `gathered` holds the all-gather: our own final chunk, packed, and the chunks received, which
  // are forwarded as they came.
  let outgoing: Uint16Array | undefined;
  let gathered: Uint16Array | undefined;
  let staging: Uint16Array | undefined;
  return {
    sendPartial: (tag, rg) => {
      outgoing ??= u16Scratch(ctx, "ring-wire-outgoing", n);
      const packed = slice(outgoing, rg);
      packInto(wire, slice(buf, rg), packed);
      ctx.send(next, tag, packed, undefined, wire);
    },
    recvPartial: (tag, rg, slot, reduced) => {
      staging ??= u16Scratch(ctx, "ring-wire-staging", stagingSlots * segmentElems);
      const region = slice(buf, rg);
      const staged = staging.subarray(slot * segmentElems, slot * segmentElems + rg.length);
      ctx.recv(prev, tag, staged, () => {
        unpackAddInto(wire, staged, region); // region = rounded partial sum + own value
        reduced();
      }, undefined, wire);
    },
    sendFinal: (tag, rg) => {
      gathered ??= u16Scratch(ctx, "ring-wire-gathered", n);
      const region = slice(buf, rg);
      const packed = slice(gathered, rg);
      packInto(wire, region, packed);
      ctx.send(next, tag, packed, undefined, wire);
      unpackInto(wire, packed, region); // the owner keeps the rounded values too, like every other rank
    },
    recvFinal: (tag, rg, forwardTag) => {
      gathered ??= u16Scratch(ctx, "ring-wire-gathered", n);
      const region = slice(buf, rg);
      const landed = slice(gathered, rg);
      ctx.recv(prev, tag, landed, () => {
        if (forwardTag !== undefined) ctx.send(next, forwardTag, landed, undefined, wire);
        unpackInto(wire, landed, region);
      }, undefined, wire);
    },
  };
}
