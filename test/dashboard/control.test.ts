// The control endpoints' handler on a throwaway HTTP server (Note [control access] in
// src/dashboard/control.ts): refused without the secret or with a wrong one (401, logged, a
// bounded number of lines for many), accepted with it; oversized, wrong-method and unknown-action
// requests refused without reaching the job; a failing action costs its request only.
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { after, before, beforeEach, test } from "node:test";
import { controlHandler, MAX_BODY_BYTES } from "../../src/dashboard/control.js";

const SECRET = "0123456789abcdef0123456789abcdef";
let server: Server;
let port: number;
let lines: string[];
let calls: string[];
let checkpointAnswer: () => { ok: boolean; message: string };

before(async () => {
  const handler = controlHandler({
    secret: SECRET,
    log: (line) => void lines.push(line),
    refusalIntervalMs: 400,
    actions: {
      stop: (from) => (calls.push(`stop ${from}`), { ok: true, message: "the job is stopping" }),
      checkpoint: (from) => (calls.push(`checkpoint ${from}`), checkpointAnswer()),
    },
  });
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));

beforeEach(() => {
  lines = [];
  calls = [];
  checkpointAnswer = () => ({ ok: true, message: "every worker writes a checkpoint at step 12" });
});

interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

function post(path: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: o.method ?? "POST", headers: o.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    // A refused request may be cut off while its body is still going out: the answer is what counts.
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    if (o.chunked) req.setHeader("Transfer-Encoding", "chunked");
    req.end(o.body);
  });
}

const bearer = (secret: string): Record<string, string> => ({ Authorization: `Bearer ${secret}` });

test("a request without the secret, or with a wrong one, is refused with 401 and logged, and the job is not asked", async () => {
  for (const headers of [{}, bearer("not-the-secret-at-all-0000000000"), bearer(`${SECRET}x`), bearer(SECRET.slice(0, -1)), { Authorization: SECRET }, { Authorization: `Basic ${SECRET}` }]) {
    const r = await post("/control/stop", { headers });
    assert.equal(r.status, 401, JSON.stringify(headers));
    const body = JSON.parse(r.body) as { ok: boolean; error: string };
    assert.equal(body.ok, false);
    assert.match(body.error, /job secret.*Authorization: Bearer <secret>/);
    assert.equal(r.body.trim().split("\n").length, 1, "one line of JSON");
  }
  assert.deepEqual(calls, []);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.match(lines[0]!, /^dashboard control: refused a request from 127\.0\.0\.1:\d+: POST \/control\/stop: no job secret/);
  assert.match(lines.at(-1)!, /refused 5 requests in the last .* s \(5 wrong job secret\)/);
});

test("an unauthenticated request learns nothing about the actions: an unknown one is 401 too", async () => {
  assert.equal((await post("/control/no-such-thing")).status, 401);
  assert.equal((await post("/control/stop", { method: "GET" })).status, 401);
});

test("with the secret, stop and checkpoint reach the job and its answer comes back as one line of JSON", async () => {
  const stop = await post("/control/stop", { headers: bearer(SECRET) });
  assert.equal(stop.status, 200);
  assert.deepEqual(JSON.parse(stop.body), { ok: true, message: "the job is stopping" });
  // Surrounding spaces in the secret are not part of it (secretKey trims it the same way).
  const checkpoint = await post("/control/checkpoint", { headers: { Authorization: `bearer  ${SECRET}` }, body: "{}" });
  assert.equal(checkpoint.status, 200);
  assert.match(checkpoint.body, /at step 12/);
  assert.equal(calls.length, 2);
  assert.match(calls[0]!, /^stop dashboard 127\.0\.0\.1:\d+$/);
  assert.match(calls[1]!, /^checkpoint dashboard 127\.0\.0\.1:\d+$/);
  assert.ok(lines.some((l) => /checkpoint from dashboard .*: every worker writes a checkpoint at step 12/.test(l)), lines.join("\n"));
});

test("the job's refusal is 409 with its message; an action that throws is 500 and the next request is served", async () => {
  checkpointAnswer = () => ({ ok: false, message: "the job writes no checkpoints: start it with --checkpoint-dir DIR" });
  const refused = await post("/control/checkpoint", { headers: bearer(SECRET) });
  assert.equal(refused.status, 409);
  assert.deepEqual(JSON.parse(refused.body), { ok: false, error: "the job writes no checkpoints: start it with --checkpoint-dir DIR" });
  checkpointAnswer = () => {
    throw new Error("boom");
  };
  const failed = await post("/control/checkpoint", { headers: bearer(SECRET) });
  assert.equal(failed.status, 500);
  assert.ok(lines.some((l) => /failed: boom/.test(l)));
  assert.equal((await post("/control/stop", { headers: bearer(SECRET) })).status, 200);
});

test("with the secret: a wrong method is 405, an unknown action 404, a body over the limit 413 (announced or sent), and none reaches the job", async () => {
  const get = await post("/control/stop", { method: "GET", headers: bearer(SECRET) });
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, "POST");
  const unknown = await post("/control/reboot", { headers: bearer(SECRET) });
  assert.equal(unknown.status, 404);
  assert.match(JSON.parse(unknown.body).error as string, /the actions are stop, checkpoint/);
  const announced = await post("/control/stop", { headers: { ...bearer(SECRET), "Content-Length": String(10 << 20) } });
  assert.equal(announced.status, 413);
  const sent = await post("/control/stop", { headers: bearer(SECRET), chunked: true, body: Buffer.alloc(MAX_BODY_BYTES * 64, 0x61) });
  assert.equal(sent.status, 413);
  const justUnder = await post("/control/stop", { headers: bearer(SECRET), body: Buffer.alloc(MAX_BODY_BYTES, 0x61) });
  assert.equal(justUnder.status, 200);
  assert.deepEqual(calls.length, 1, "only the request within the limit reached the job");
});

test("a request that never finishes sending its body never acts", async () => {
  const s = connect(port, "127.0.0.1");
  s.on("error", () => {});
  s.write(`POST /control/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${SECRET}\r\nContent-Length: 100\r\n\r\n0123456789`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(calls, []);
  s.destroy();
});

test("a flood of 300 refused requests writes a bounded number of log lines, and counts every one", async () => {
  // The earlier tests' refusals may still be waiting for their summary line (at most one
  // interval, 400 ms): let it land before counting this test's.
  await new Promise((resolve) => setTimeout(resolve, 500));
  lines = [];
  const started = Date.now();
  await Promise.all(Array.from({ length: 300 }, (_, i) => post("/control/stop", { headers: i % 2 ? {} : bearer("x".repeat(32)) })));
  await new Promise((resolve) => setTimeout(resolve, 500));
  // One line at once, then at most one per 400 ms interval while the flood lasted, then the last summary.
  const bound = 2 + Math.ceil((Date.now() - started) / 400);
  assert.ok(lines.length <= bound, `${lines.length} lines for 300 refusals (bound ${bound}):\n${lines.join("\n")}`);
  const counted = lines.reduce((n, l) => n + (/refused (\d+) requests/.exec(l) ? Number(/refused (\d+) requests/.exec(l)![1]) : 1), 0);
  assert.equal(counted, 300);
  assert.deepEqual(calls, []);
});
