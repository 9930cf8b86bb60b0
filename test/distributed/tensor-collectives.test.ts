// Tensors as collective buffers (group/tensor-buffers.ts): a contiguous tensor is worked on in
// place in its own storage; a non-contiguous view (a transpose, a column slice) is read through its
// strides and its result written back to exactly its elements, the storage around it untouched.
// In-process here; the TCP and shared-memory paths run a transposed view in subgroups.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../src/distributed/group/process-group.js";
import { tensor } from "../../src/tensor/create.js";
import { expand, slice, transpose } from "../../src/tensor/ops/shape-ops.js";
import type { Tensor } from "../../src/tensor/tensor.js";

const destroyAll = (groups: ProcessGroup[]): Promise<unknown> => Promise.all(groups.map((g) => g.destroy()));
/** A [rows, cols] tensor on its own storage holding base + i at flat index i. */
const grid = (rows: number, cols: number, base: number): Tensor => tensor(Float32Array.from({ length: rows * cols }, (_, i) => base + i), [rows, cols]);

test("all-reduce of a contiguous tensor works in its own storage; of a transposed view and a column slice, writes back only their elements", async () => {
  const groups = createInProcessGroups(2);
  const whole = [grid(2, 3, 0), grid(2, 3, 10)];
  const storage = whole.map((t) => t.data);
  await Promise.all(groups.map((g, r) => g.allReduce(whole[r]!)));
  for (const s of storage) assert.deepEqual([...s], [10, 12, 14, 16, 18, 20]);
  assert.equal(whole[0]!.data, storage[0], "same storage, no copy");

  // A transpose: element [i][j] of the (3, 2) view is storage[j * 3 + i]; every storage element is in it.
  const t = [grid(2, 3, 0), grid(2, 3, 100)];
  const views = t.map((x) => transpose(x));
  assert.equal(views[0]!.isContiguous(), false);
  await Promise.all(groups.map((g, r) => g.allReduce(views[r]!, { op: "avg" })));
  for (const x of t) assert.deepEqual([...x.data], [50, 51, 52, 53, 54, 55]);
  assert.deepEqual(views[1]!.toArray(), [50, 53, 51, 54, 52, 55]);

  // Columns 1..2 of a (4, 4) grid, at an offset, rows 4 apart: the other columns must not change.
  const g4 = [grid(4, 4, 0), grid(4, 4, 1000)];
  const cols = g4.map((x) => slice(x, 1, 1, 3));
  await Promise.all(groups.map((g, r) => g.allReduce(cols[r]!)));
  for (const x of g4) {
    const rows = [0, 1, 2, 3].map((i) => [...x.data.subarray(i * 4, i * 4 + 4)]);
    rows.forEach((row, i) => {
      assert.deepEqual([row[1], row[2]], [1000 + 2 * (i * 4 + 1), 1000 + 2 * (i * 4 + 2)], `row ${i} reduced`);
    });
  }
  assert.deepEqual([0, 3, 12, 15].map((i) => g4[0]!.data[i]), [0, 3, 12, 15], "rank 0's other columns untouched");
  assert.deepEqual([0, 3, 12, 15].map((i) => g4[1]!.data[i]), [1000, 1003, 1012, 1015], "rank 1's other columns untouched");
  await destroyAll(groups);
});

test("broadcast, all-gather and reduce-scatter take views for inputs and outputs", async () => {
  const groups = createInProcessGroups(2);
  // Broadcast into a transposed view: rank 1's storage becomes rank 0's, element for element.
  const b = [grid(2, 3, 0), grid(2, 3, 50)];
  await Promise.all(groups.map((g, r) => g.broadcast(transpose(b[r]!), 0)));
  assert.deepEqual([...b[1]!.data], [0, 1, 2, 3, 4, 5]);

  // All-gather: the input a transposed (2, 2) view, read row-major; the output a column of an (8, 3) grid, rows 3 apart.
  const inputs = [grid(2, 2, 0), grid(2, 2, 10)].map((x) => transpose(x)); // row-major [0, 2, 1, 3] and [10, 12, 11, 13]
  const outs = [grid(8, 3, -100), grid(8, 3, -100)];
  await Promise.all(groups.map((g, r) => g.allGather(inputs[r]!, slice(outs[r]!, 1, 2, 3))));
  for (const o of outs) {
    assert.deepEqual([...Array(8).keys()].map((i) => o.data[i * 3 + 2]), [0, 2, 1, 3, 10, 12, 11, 13]);
    assert.deepEqual([...Array(8).keys()].map((i) => o.data[i * 3]), [...Array(8).keys()].map((i) => -100 + i * 3), "other columns untouched");
  }

  // Reduce-scatter of the same transposed inputs (sum [10, 14, 12, 16]) into a column of a (2, 3) grid.
  const rsOut = [grid(2, 3, 0), grid(2, 3, 0)];
  await Promise.all(groups.map((g, r) => g.reduceScatter(inputs[r]!, slice(rsOut[r]!, 1, 1, 2))));
  assert.deepEqual([...rsOut[0]!.data], [0, 10, 2, 3, 14, 5]);
  assert.deepEqual([...rsOut[1]!.data], [0, 12, 2, 3, 16, 5]);
  await destroyAll(groups);
});

test("send and recv of views, recv-any into a view; a broadcast (stride 0) output and a non-tensor are refused", async () => {
  const groups = createInProcessGroups(2);
  const src = transpose(grid(2, 3, 1)); // row-major [1, 4, 2, 5, 3, 6]
  const dst = grid(3, 2, 0);
  const into = transpose(dst); // (2, 3) view of dst's storage
  await Promise.all([groups[0]!.send(src, 1), groups[1]!.recv(into, 0)]);
  assert.deepEqual(into.toArray(), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual([...dst.data], [1, 5, 4, 3, 2, 6]);

  const anyInto = slice(grid(2, 4, 0), 1, 0, 2); // (2, 2) at stride 4
  const [, got] = await Promise.all([groups[0]!.send(tensor([7, 8, 9, 10], [2, 2]), 1), groups[1]!.recvAny(anyInto)]);
  assert.deepEqual(got, { source: 0 });
  assert.deepEqual([...anyInto.data], [7, 8, 2, 3, 9, 10, 6, 7]);

  const broadcastView = expand(tensor([1, 2], [1, 2]), [3, 2]);
  await assert.rejects(groups[0]!.allReduce(broadcastView), /stride 0 on axis 0 \(a broadcast view\).*x\.contiguous\(\)/);
  await assert.rejects(groups[0]!.allReduce({ length: 3 } as unknown as Float32Array), /takes a Float32Array or a float32 Tensor, got Object/);
  // As an input it is fine: its elements are read, row-major.
  const got2 = new Float32Array(6);
  await Promise.all([groups[0]!.send(broadcastView, 1), groups[1]!.recv(got2, 0)]);
  assert.deepEqual([...got2], [1, 2, 1, 2, 1, 2]);
  await destroyAll(groups);
});
