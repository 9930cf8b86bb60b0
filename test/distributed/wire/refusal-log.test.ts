// Refusals are logged at most once per interval: the first at once with its reason, the rest
// summed up by reason at the interval's end. A hand-driven clock and timer make it exact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RefusalLog } from "../../../src/distributed/wire/refusal-log.js";

function fakeLog(intervalMs = 1000) {
  let now = 0;
  const lines: string[] = [];
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  const log = new RefusalLog({
    label: "store", log: (m) => lines.push(m), intervalMs, maxPending: 64, handshakeDeadlineMs: 2000,
    now: () => now,
    schedule: (fn, ms) => {
      const t = { at: now + ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
  });
  /** Moves the clock to `t`, firing the timers due on the way. */
  const advanceTo = (t: number): void => {
    for (;;) {
      const due = timers.filter((x) => !x.cancelled && x.at <= t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      now = due.at;
      due.cancelled = true;
      due.fn();
    }
    now = t;
  };
  return { log, lines, advanceTo };
}

test("a lone refusal is written at once, naming the address and the reason", () => {
  const { log, lines } = fakeLog();
  log.refused("handshake", "10.0.0.7:5123", "client could not prove it holds the job secret");
  assert.deepEqual(lines, ["store: refused connection from 10.0.0.7:5123: client could not prove it holds the job secret"]);
});

test("a flood of refusals writes at most one line per interval, and the lines add up to every refusal", () => {
  const { log, lines, advanceTo } = fakeLog(1000);
  // 5,000 refusals over 10 s, one every 2 ms, of all four kinds.
  const reasons = ["full", "cap", "handshake", "deadline"] as const;
  for (let i = 0; i < 5000; i++) {
    advanceTo(i * 2);
    log.refused(reasons[i % reasons.length]!, `127.0.0.1:${10000 + i}`, `reason ${i}`);
  }
  advanceTo(20_000);
  // Lines at 0, 1000, ..., 10000 ms: 11, one a second.
  assert.equal(lines.length, 11, lines.join("\n"));
  assert.match(lines[0]!, /^store: refused connection from 127\.0\.0\.1:10000: reason 0$/);
  assert.match(lines[1]!, /^store: refused 499 unauthenticated connections in the last 1\.0 s \(124 closed on arrival while 64 were authenticating, 125 evicted at the cap of 64 authenticating, 125 failed the handshake, 125 past the 2000 ms deadline\); the latest from 127\.0\.0\.1:10499: reason 499$/);
  const counted = lines.slice(1).reduce((sum, l) => sum + Number(/refused (\d+) unauthenticated/.exec(l)?.[1] ?? 1), 1);
  assert.equal(counted, 5000);
});

test("after a quiet interval the next refusal is written at once again; flush writes what is held", () => {
  const { log, lines, advanceTo } = fakeLog(1000);
  log.refused("deadline", "a:1", "slow");
  advanceTo(5000);
  log.refused("cap", "a:2", "evicted");
  log.refused("cap", "a:3", "evicted");
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /from a:2: evicted$/);
  advanceTo(5400);
  log.flush();
  assert.equal(lines.length, 3);
  // One held refusal is written like a lone one.
  assert.equal(lines[2], "store: refused connection from a:3: evicted");
  log.flush();
  assert.equal(lines.length, 3, "nothing held, nothing written");
});
