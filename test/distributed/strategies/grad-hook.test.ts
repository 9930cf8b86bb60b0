// The hooks that are one all-reduce: the baseline ("none") is DDP without a hook, bit for bit and
// collective for collective, and "bf16" is DDP on a group whose all-reduces put bf16 on the wire.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AllReduceHook } from "../../../src/distributed/strategies/allreduce-hook.js";
import type { GradHook } from "../../../src/distributed/strategies/grad-hook.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { DistributedDataParallel } from "../../../src/distributed/strategies/ddp.js";
import { classifier, trainReplicas } from "./hook-replicas.js";

const STEPS = 6;

test("the baseline hook gives bitwise the same parameters as no hook, step after step", async () => {
  const plain = await trainReplicas(STEPS, () => ({}));
  const none = await trainReplicas(STEPS, () => ({ gradCompression: "none" }));
  const object = await trainReplicas(STEPS, () => ({ gradCompression: new AllReduceHook() }));
  assert.notEqual(plain.digests[0]![0], plain.digests[STEPS - 1]![0], "the steps changed the parameters");
  for (const run of [plain, none, object]) for (const d of run.digests) assert.equal(d[0], d[1], "replicas identical");
  assert.deepEqual(none.digests, plain.digests);
  assert.deepEqual(object.digests, plain.digests);
  assert.deepEqual(none.sent, plain.sent, "the same bytes");
});

test("the baseline hook issues the same collectives as no hook, in the same order", async () => {
  // A hook that records what it is asked to do and then does the baseline's all-reduce.
  const calls: string[][] = [[], []];
  const recording = (rank: number): GradHook => {
    const inner = new AllReduceHook();
    return { name: "recorded", submitsAtOnce: true, reduce: (b, pg, call) => (calls[rank]!.push(`bucket ${b.index}: ${b.buffer.length}`), inner.reduce(b, pg, call)) };
  };
  const recorded = await trainReplicas(2, (r) => ({ gradCompression: recording(r) }));
  const plain = await trainReplicas(2, () => ({}));
  assert.deepEqual(recorded.digests, plain.digests);
  // classifier(): buckets of 2048 bytes in reverse order: [bias 8, weight 8x32, bias 32] then [weight 32x12].
  assert.deepEqual(calls[0], ["bucket 0: 296", "bucket 1: 384", "bucket 0: 296", "bucket 1: 384"]);
  assert.deepEqual(calls[1], calls[0]);
});

test("the bf16 hook equals DDP on a group with bf16 on the wire, and differs from float32", async () => {
  // smallMessageBytes 0: every bucket takes the ring, where the wire type applies.
  const ring = { smallMessageBytes: 0 };
  const hooked = await trainReplicas(STEPS, () => ({ gradCompression: "bf16" }), ring);
  const wired = await trainReplicas(STEPS, () => ({}), { ...ring, wire: "bf16" });
  const f32 = await trainReplicas(STEPS, () => ({}), ring);
  for (const d of hooked.digests) assert.equal(d[0], d[1], "replicas identical");
  assert.deepEqual(hooked.digests, wired.digests);
  assert.notDeepEqual(hooked.digests, f32.digests, "bf16 rounding changed the gradients");
  // Each gradient element is 2 bytes on the wire instead of 4; the frames and the loss's
  // all-reduce (float32 always) are the same, so the difference is exactly 2 bytes an element.
  const floats = classifier(0).parameters().reduce((n, p) => n + p.size, 0);
  for (const r of [0, 1]) assert.equal(f32.sent[r]! - hooked.sent[r]!, STEPS * floats * 2, `rank ${r}: bf16 sent ${hooked.sent[r]} bytes, float32 ${f32.sent[r]}`);
});

test("a bad gradCompression is refused before DDP's first collective, in one line", async () => {
  const [pg] = createInProcessGroups(1);
  for (const [spec, message] of [
    ["powersgd:0", /gradCompression powersgd:0: the rank R must be an integer >= 1, got "0"/],
    ["powersgd:2.5", /the rank R must be an integer >= 1, got "2.5"/],
    ["powersgd", /write powersgd:R with the rank R, e.g. powersgd:4/],
    ["topk:0", /the fraction F must be above 0 and below 1, got "0"/],
    ["topk:1", /the fraction F must be above 0 and below 1, got "1"/],
    ["topk:x", /got "x"/],
    ["powersgd:4:bf32", /after powersgd:R come at most the plain steps W \(an integer >= 0\) and then bf16 or f16, e.g. powersgd:4:100:bf16; got "bf32"/],
    ["powersgd:4:bf16:100", /got "100"/],
    ["powersgd:4:-1", /got "-1"/],
    ["gzip", /gradCompression must be none, bf16, powersgd:R\[:W\]\[:bf16\] \(R an integer >= 1, e.g. powersgd:4 or powersgd:4:100:bf16\) or topk:F/],
  ] as const) {
    // gradCompression is typed; a script in JavaScript (or a command line) can still pass anything.
    await assert.rejects(DistributedDataParallel.create(classifier(0), pg!, { gradCompression: spec as "none" }), (e: Error) => e instanceof RangeError && message.test(e.message) && !e.message.includes("\n"), spec);
  }
  await pg!.destroy();
});
