// "Write a checkpoint now" in one process (Note [checkpoint now] in
// src/distributed/launch/checkpoint-request.ts): the launcher's side refuses in one line when the
// job cannot take the request, names a step past the furthest one reported, signals only workers
// that listen, and records the workers' answers; the worker's side saves at that step, and says
// so when it heard of the step only after passing it. The signal is a real SIGUSR2 to this process.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { CheckpointRequester, checkpointListenerFile, CONTROL_FILE } from "../../src/distributed/launch/checkpoint-request.js";
import { CheckpointRequests } from "../../src/train/checkpoint-request.js";

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), "weft-checkpoint-request-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** rank-<rank>.jsonl with steps 1..n, `msPerStep` apart. */
function writeSteps(rank: number, n: number, msPerStep: number): void {
  writeFileSync(join(dir, `rank-${rank}.jsonl`), Array.from({ length: n }, (_, i) => `${JSON.stringify({ rank, time: 1000 + i * msPerStep, step: i + 1, loss: 1 })}\n`).join(""));
}

// A signal reaches the handler a loop turn or more later; on a loaded machine that has taken over
// 50 ms, so wait until the handler has written or warned (or 2 s), then a little more for anything
// it should not have done.
let seen = 0;
const nextTick = async (): Promise<void> => {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && handled() === seen) await new Promise((resolve) => setTimeout(resolve, 10));
  seen = handled();
  await new Promise((resolve) => setTimeout(resolve, 20));
};
let handled = (): number => 0;

test("the launcher refuses in one line: several machines, workers not listening yet, no checkpoint destination", () => {
  const recorded: string[] = [];
  const requester = new CheckpointRequester({ runDir: dir, nnodes: 1, log: () => {}, record: (_ok, why) => void recorded.push(why) });
  let signals = 0;
  const workers = [0, 1].map((rank) => ({ rank, pid: 100 + rank, signal: () => void signals++ }));
  assert.match(new CheckpointRequester({ runDir: dir, nnodes: 2, log: () => {}, record: () => {} }).request("t", workers).message, /this job spans 2: use --checkpoint-every/);
  assert.match(requester.request("t", workers).message, /rank 0, 1 has not started a weft training loop/);
  writeFileSync(checkpointListenerFile(dir, 0), JSON.stringify({ pid: 100, destination: null }));
  writeFileSync(checkpointListenerFile(dir, 1), JSON.stringify({ pid: 999, destination: null }));
  assert.match(requester.request("t", workers).message, /rank 1 has not started/, "a listener file of another process does not count");
  writeFileSync(checkpointListenerFile(dir, 1), JSON.stringify({ pid: 101, destination: null }));
  const refused = requester.request("t", workers);
  assert.equal(refused.ok, false);
  assert.equal(refused.message, "the job writes no checkpoints: start it with --checkpoint-dir DIR (weft train) or fit()'s checkpoint option");
  assert.equal(signals, 0, "nobody was signalled");
  assert.equal(existsSync(join(dir, CONTROL_FILE)), false);
  requester.close();
  assert.deepEqual(recorded, []);
});

test("a request names a step about 2 s past the furthest worker, at least 5; the workers' answers become the outcome", async () => {
  writeSteps(0, 40, 10);
  writeSteps(1, 38, 10);
  const recorded: [boolean, string][] = [];
  const requester = new CheckpointRequester({ runDir: dir, nnodes: 1, log: () => {}, record: (ok, why) => void recorded.push([ok, why]) });
  let signals = 0;
  for (const rank of [0, 1]) writeFileSync(checkpointListenerFile(dir, rank), JSON.stringify({ pid: 100 + rank, destination: "folder" }));
  const workers = [0, 1].map((rank) => ({ rank, pid: 100 + rank, signal: () => void signals++ }));
  const answer = requester.request("dashboard 127.0.0.1:1", workers);
  // 10 ms per step: 2 s is 200 steps past step 40.
  assert.deepEqual(answer, { ok: true, message: "every worker writes a checkpoint at step 240 (the furthest is at step 40)" });
  assert.equal(signals, 2);
  const control = JSON.parse(readFileSync(join(dir, CONTROL_FILE), "utf8")) as { id: string; checkpoint_at_step: number };
  assert.equal(control.checkpoint_at_step, 240);
  assert.match(requester.request("again", workers).message, /a checkpoint at step 240 is on its way/);
  // Rank 0 wrote its part; rank 1 heard of it too late.
  const answerLine = (rank: number, step: number, outcome: string): string => `${JSON.stringify({ rank, time: 5000, event: "checkpoint_request", step, id: control.id, at_step: 240, outcome })}\n`;
  writeFileSync(join(dir, "rank-0.jsonl"), answerLine(0, 240, "saved"), { flag: "a" });
  writeFileSync(join(dir, "rank-1.jsonl"), answerLine(1, 250, "missed"), { flag: "a" });
  requester.close();
  assert.deepEqual(recorded, [[false, "rank 1 heard of the checkpoint at step 240 only at step 250, past it, so the set would not be whole: ask again"]]);

  // A slow job (1 s a step) still gets the minimum margin of 5 steps.
  writeSteps(0, 40, 1000);
  writeSteps(1, 40, 1000);
  const slow = new CheckpointRequester({ runDir: dir, nnodes: 1, log: () => {}, record: () => {} });
  assert.match(slow.request("t", workers).message, /at step 45 /);
  slow.close();
});

test("a worker saves at the requested step once, through SIGUSR2 and control.json, and says it missed a step it had passed", async () => {
  const events: Record<string, unknown>[] = [];
  const warnings: string[] = [];
  const requests = CheckpointRequests.listen({ runDir: dir, rank: 0, destination: "folder", step: 0, write: (e) => void events.push(e), warn: (l) => void warnings.push(l) });
  handled = () => events.length + warnings.length;
  seen = 0;
  try {
    assert.deepEqual(JSON.parse(readFileSync(checkpointListenerFile(dir, 0), "utf8")), { pid: process.pid, destination: "folder" });
    writeFileSync(join(dir, CONTROL_FILE), JSON.stringify({ id: "a1", checkpoint_at_step: 3, from: "t", time: 0 }));
    process.kill(process.pid, "SIGUSR2");
    await nextTick();
    assert.deepEqual([1, 2, 3, 4].map((s) => requests.reached(s, true)), [false, false, true, false], "saved at step 3 only");
    assert.deepEqual(events, [{ event: "checkpoint_request", step: 3, id: "a1", at_step: 3, outcome: "saved" }]);
    // The same request signalled again is not a new one.
    process.kill(process.pid, "SIGUSR2");
    await nextTick();
    assert.equal(requests.reached(5, true), false);
    // A step already behind the loop: it cannot be saved at, and the worker says so.
    writeFileSync(join(dir, CONTROL_FILE), JSON.stringify({ id: "b2", checkpoint_at_step: 5, from: "t", time: 0 }));
    process.kill(process.pid, "SIGUSR2");
    await nextTick();
    assert.deepEqual(events.at(-1), { event: "checkpoint_request", step: 5, id: "b2", at_step: 5, outcome: "missed" });
    assert.equal(requests.reached(6, true), false);
    // A damaged control.json is named, not thrown.
    writeFileSync(join(dir, CONTROL_FILE), "{");
    process.kill(process.pid, "SIGUSR2");
    await nextTick();
    assert.match(warnings.at(-1)!, /a checkpoint request came, but .*control\.json cannot be read/);
    // A request past the end is answered by the checkpoint written at the end.
    writeFileSync(join(dir, CONTROL_FILE), JSON.stringify({ id: "c3", checkpoint_at_step: 100, from: "t", time: 0 }));
    process.kill(process.pid, "SIGUSR2");
    await nextTick();
  } finally {
    requests.close(7, true);
  }
  assert.deepEqual(events.at(-1), { event: "checkpoint_request", step: 7, id: "c3", at_step: 100, outcome: "after_end" });
  assert.equal(existsSync(checkpointListenerFile(dir, 0)), false, "the listener file goes with the loop");
  // Between fit() calls the signal is ignored: the process lives on.
  process.kill(process.pid, "SIGUSR2");
  await nextTick();
});
