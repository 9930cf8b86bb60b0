// A run folder's metrics streams become the report's curves, whatever a stream lacks: lines
// without a field are skipped for the curve that needs it, a killed run's half line is ignored,
// and streams from before step lines carried wall_s get their time from the `time` stamps.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readRunCurves } from "../../src/report/run-curves.js";

function folder(files: Record<string, unknown[]>, tail = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "weft-curves-"));
  for (const [name, lines] of Object.entries(files)) writeFileSync(join(dir, name), lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n" + tail);
  return dir;
}

test("loss and bytes are the mean over the ranks at each step; the metric comes from rank 0's eval lines, in step order", () => {
  const dir = folder({
    "rank-0.jsonl": [
      { rank: 0, step: 1, epoch: 0, loss: 2, compute_ms: 9, wait_ms: 1, wall_s: 0.01, bytes_sent: 100 },
      { rank: 0, step: 2, epoch: 0, loss: 1, compute_ms: 18, wait_ms: 2, wall_s: 0.03, bytes_sent: 200 },
      { event: "eval", step: 2, epoch: 0, wall_s: 0.05, test_accuracy: 0.5, test_loss: 1.1 },
      { event: "eval", step: 1, epoch: 0, wall_s: 0.02, test_accuracy: 0.25 },
      { event: "eval", step: 3, epoch: 1, wall_s: 0.07, test_loss: 0.9 }, // no metric: skipped
    ],
    "rank-1.jsonl": [{ rank: 1, step: 1, loss: 4, wall_s: 0.011, bytes_sent: 300 }, "not json", { rank: 1, step: 2, loss: 3, bytes_sent: 400 }],
    "rank-1.log": ["{\"step\": 99, \"loss\": 0}"], // not a metrics stream
  });
  try {
    const c = readRunCurves(dir, "test_accuracy");
    assert.deepEqual(c.loss, [{ step: 1, loss: 3, wall_s: 0.01, bytes_sent: 200 }, { step: 2, loss: 2, wall_s: 0.03, bytes_sent: 300 }]);
    assert.deepEqual(c.metric, [{ step: 1, wall_s: 0.02, bytes_sent: 200, value: 0.25 }, { step: 2, wall_s: 0.05, bytes_sent: 300, value: 0.5 }]);
    assert.deepEqual(c.step_ms, [10, 20]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("streams without wall_s get it from the time stamps; a missing folder and a half-written last line give what there is", () => {
  const dir = folder({ "rank-0.jsonl": [{ rank: 0, time: 1_000_000, step: 1, loss: 2, compute_ms: 250, wait_ms: 0 }, { rank: 0, time: 1_000_500, step: 2, loss: 1.5, compute_ms: 500 }] }, '{"rank":0,"time":1000900,"step":3,"lo');
  try {
    const c = readRunCurves(dir, "test_accuracy");
    assert.deepEqual(c.loss, [{ step: 1, loss: 2, wall_s: 0.25 }, { step: 2, loss: 1.5, wall_s: 0.75 }]);
    assert.deepEqual(c.metric, []);
    assert.deepEqual(readRunCurves(join(dir, "nope"), "test_accuracy"), { metric: [], loss: [], step_ms: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ranks that run apart (an asynchronous strategy): a step's time is the earliest any rank finished it", () => {
  // Rank 0 evaluates and falls behind, then stops at step 2; rank 1 runs on ahead of it.
  const dir = folder({
    "rank-0.jsonl": [{ step: 1, loss: 2, wall_s: 0.1 }, { event: "eval", step: 1, wall_s: 0.1, acc: 0.5 }, { step: 2, loss: 1.8, wall_s: 0.9 }],
    "rank-1.jsonl": [{ step: 1, loss: 2.2, wall_s: 0.12 }, { step: 2, loss: 1.6, wall_s: 0.2 }, { step: 3, loss: 1.2, wall_s: 0.3 }],
  });
  try {
    const c = readRunCurves(dir, "acc");
    assert.deepEqual(c.loss.map((p) => [p.step, p.wall_s]), [[1, 0.1], [2, 0.2], [3, 0.3]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
