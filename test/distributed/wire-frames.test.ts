// The wire type in frames and descriptors: a Data frame whose flags name another element type
// than the receive expects fails the operation with both ranks named, and descriptors carry the
// wire type through an Arrive frame's aux words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpRun } from "../../src/distributed/collectives/op-context.js";
import { descriptorAux, descriptorFromAux, describeMismatch, type OpDescriptor } from "../../src/distributed/collectives/descriptor.js";
import { CollectiveMismatchError } from "../../src/distributed/base/errors.js";
import { FrameType, type FrameHeader } from "../../src/distributed/wire/frame.js";
import { Mailbox } from "../../src/distributed/collectives/mailbox.js";
import type { Transport } from "../../src/distributed/transport/transport.js";

function runWithMailboxes(): { run: OpRun; mailboxes: Mailbox[]; sent: FrameHeader[] } {
  const mailboxes = [new Mailbox(), new Mailbox()];
  const sent: FrameHeader[] = [];
  const transport: Transport = {
    rank: 1,
    worldSize: 2,
    send: (_peer, header, payload, onWritten) => {
      sent.push({ ...header, payloadBytes: payload?.length ?? 0 });
      onWritten?.(null);
    },
    batch: (fn) => fn(),
    close: () => {},
  };
  const run = new OpRun({
    rank: 1, worldSize: 2, seq: 0, label: "all-reduce #0", opName: "all-reduce", segmentElems: 16, stagingElems: 64,
    frameType: FrameType.Data, aux: { aux0: 0, aux1: 0, aux2: 0 }, transport, mailboxes,
    scratch: (_slot, n) => new Float32Array(n), awaitArrivals: new Set(),
  });
  return { run, mailboxes, sent };
}

const header = (flags: number, payloadBytes: number): FrameHeader => ({ type: FrameType.Data, flags, seq: 0, tag: 0, payloadBytes, aux0: 0, aux1: 0, aux2: 0 });

test("sends put the wire type in the frame flags", () => {
  const { run, sent } = runWithMailboxes();
  run.send(0, 0, new Float32Array(4));
  run.send(0, 1, new Uint16Array(4), undefined, "bf16");
  run.send(0, 2, new Uint16Array(4), undefined, "f16");
  assert.deepEqual(sent.map((h) => [h.flags, h.payloadBytes]), [[0, 16], [1, 8], [2, 8]]);
  assert.throws(() => run.send(0, 3, new Float32Array(4), undefined, "bf16"), TypeError);
});

test("a frame of another wire type than the receive expects fails with both ranks named", async () => {
  for (const [expect, flags] of [["bf16", 2], ["bf16", 0], ["f32", 1]] as const) {
    const { run, mailboxes } = runWithMailboxes();
    const dest = expect === "f32" ? new Float32Array(4) : new Uint16Array(4);
    let done = false;
    run.recv(0, 0, dest, () => (done = true), undefined, expect);
    run.start();
    mailboxes[0]!.deliver(header(flags, dest.byteLength), new Uint8Array(dest.byteLength));
    await assert.rejects(run.done, (err: unknown) => {
      assert.ok(err instanceof CollectiveMismatchError, String(err));
      assert.match(err.message, new RegExp(`rank 0 sent \\w+ elements as frame 0 where rank 1 expected ${expect}`));
      assert.deepEqual(err.ranks, [1, 0]);
      return true;
    });
    assert.equal(done, false);
  }
});

test("a frame of the expected wire type completes the receive", async () => {
  const { run, mailboxes } = runWithMailboxes();
  const dest = new Uint16Array(4);
  run.recv(0, 0, dest, () => {}, undefined, "f16");
  run.start();
  mailboxes[0]!.deliver(header(2, 8), Uint8Array.of(1, 0, 2, 0, 3, 0, 4, 0));
  await run.done;
  assert.deepEqual([...dest], [1, 2, 3, 4]);
});

test("descriptors carry the wire type, and a difference is named", () => {
  const base: OpDescriptor = { op: "allReduce", count: 1000, root: 0, reduceOp: "avg", wire: "f32", algorithm: "ring" };
  for (const wire of ["f32", "bf16", "f16"] as const) assert.deepEqual(descriptorFromAux(descriptorAux({ ...base, wire })), { ...base, wire });
  assert.equal(describeMismatch(3, { ...base, wire: "bf16" }, 0, { ...base, wire: "bf16" }, 1), undefined);
  assert.match(describeMismatch(3, { ...base, wire: "bf16" }, 0, base, 1)!, /all-reduce #3: rank 0 asked for bf16 on the wire, rank 1 for f32/);
});
