// The dashboard's server over a run folder written by hand: what it serves (the page, the chart
// scripts from the package, the snapshot, an event stream that carries what is appended), and
// what it refuses without throwing (Note [dashboard access] in src/dashboard/server.ts).
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get, request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DashboardServer } from "../../src/dashboard/server.js";

let dir: string;
let server: DashboardServer;
let port: number;

const step = (rank: number, s: number): string =>
  `${JSON.stringify({ rank, time: 1000 + s, step: s, loss: 2 - s / 10, samples_per_s: 100, compute_ms: 10, comm_ms: 2, wait_ms: 1, bytes_sent: 1000 * s, wait_for: { [String(1 - rank)]: rank === 1 ? 0 : 30 } })}\n`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "weft-dashboard-server-"));
  writeFileSync(join(dir, "launcher-0.jsonl"), [
    { time: 1000, event: "job_started", config: { job_id: "j1", run_dir: dir, node_rank: 0, nproc: 2, nnodes: 1, world_size: 2, script: "train.js", args: ["--lr", "0.1"] } },
    { time: 1001, event: "worker_started", rank: 0, pid: 11 },
    { time: 1002, event: "worker_started", rank: 1, pid: 12 },
  ].map((e) => `${JSON.stringify(e)}\n`).join(""));
  for (const rank of [0, 1]) writeFileSync(join(dir, `rank-${rank}.jsonl`), [1, 2, 3].map((s) => step(rank, s)).join(""));
  server = await DashboardServer.listen({ port: 0, headersTimeoutMs: 300 });
  server.showRun(dir, "test run", (_req, res) => void res.writeHead(202).end("control reached\n"));
  port = Number(new URL(server.url).port);
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function fetchText(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: init.method ?? "GET", headers: init.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on("error", reject).end();
  });
}

/** Sends raw bytes; resolves with what came back before the server closed the connection. */
function raw(bytes: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`the server kept the connection open past ${timeoutMs} ms`))), timeoutMs);
    s.setEncoding("utf8").on("data", (d: string) => (got += d));
    s.on("close", () => (clearTimeout(timer), resolve(got)));
    s.on("error", () => {});
    s.write(bytes);
  });
}

test("the page, the chart scripts and the snapshot are served; the page loads nothing from elsewhere", async () => {
  const page = await fetchText("/");
  assert.equal(page.status, 200);
  assert.match(page.headers["content-security-policy"] as string, /default-src 'none'.*connect-src 'self'/);
  const scripts = [...page.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(scripts, ["/vendor/vega.min.js", "/vendor/vega-lite.min.js"]);
  assert.doesNotMatch(page.body, /https?:\/\/(?!vega\.github\.io\/schema)/, "no address outside the page but Vega-Lite's schema name");
  for (const s of scripts) {
    const r = await fetchText(s!);
    assert.equal(r.status, 200);
    assert.ok(r.body.length > 100_000, `${s} is the library's build`);
  }
  const state = JSON.parse((await fetchText("/state")).body);
  assert.equal(state.config.job_id, "j1");
  assert.deepEqual(state.workers.map((w: { rank: number; pid: number; step: number; points: number }) => [w.rank, w.pid, w.step, w.points]), [[0, 11, 3, 3], [1, 12, 3, 3]]);
  assert.deepEqual(state.straggler.ranking.map((s: { rank: number }) => s.rank), [1, 0], "rank 0 waits for rank 1");
});

test("the event stream sends a snapshot, then what is appended to the run folder", async () => {
  const events: { event: string; data: { points?: Record<string, unknown[]>; timeline?: { text: string }[] } }[] = [];
  const res = await new Promise<import("node:http").IncomingMessage>((resolve) => get({ host: "127.0.0.1", port, path: "/events" }, resolve));
  assert.equal(res.headers["content-type"], "text/event-stream");
  let buffer = "";
  const seen = new Promise<void>((resolve) => {
    res.setEncoding("utf8").on("data", (d: string) => {
      buffer += d;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
        if (events.some((e) => e.event === "delta" && e.data.timeline?.some((t) => /worker 1 \(pid 12\) exited with signal SIGKILL/.test(t.text)))) resolve();
      }
    });
  });
  appendFileSync(join(dir, "rank-0.jsonl"), step(0, 4));
  appendFileSync(join(dir, "launcher-0.jsonl"), `${JSON.stringify({ time: 2000, event: "worker_exited", rank: 1, pid: 12, status: 137, how: "exited with signal SIGKILL" })}\n`);
  await seen;
  res.destroy();
  assert.equal(events[0]!.event, "snapshot");
  const points = events.filter((e) => e.event === "delta").flatMap((e) => (e.data.points?.["0"] ?? []) as number[][]);
  assert.deepEqual(points.map((p) => p[0]), [4], "the delta carries rank 0's new step, once");
});

test("anything but the known GET routes and POST /control/<action> is refused", async () => {
  assert.equal((await fetchText("/nope")).status, 404);
  assert.equal((await fetchText("/vendor/other.js")).status, 404);
  assert.equal((await fetchText("/../../etc/passwd")).status, 404);
  assert.equal((await fetchText("/", { method: "POST" })).status, 405);
  assert.equal((await fetchText("/state", { method: "DELETE" })).status, 405);
  assert.deepEqual(await fetchText("/control/stop", { method: "POST" }).then((r) => [r.status, r.body]), [202, "control reached\n"], "/control/<action> reaches the control handler, which checks the secret");
  assert.equal((await fetchText(`/${"a".repeat(3000)}`)).status, 414);
  assert.equal((await fetchText("/", { headers: { Host: "attacker.example:80" } })).status, 403, "a rebound name is refused on loopback");
  assert.equal((await fetchText("/", { headers: { Host: `localhost:${port}` } })).status, 200);
});

test("oversized headers, malformed requests and slow clients are answered or dropped, and the server still serves", async () => {
  assert.match(await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"x".repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  assert.match(await raw("NOT A REQUEST\r\n\r\n"), /^HTTP\/1\.1 400/);
  assert.match(await raw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: zzz\r\n\r\n"), /^HTTP\/1\.1 400/);
  // Headers never finished: dropped once the headers' deadline (300 ms here) has passed.
  const started = Date.now();
  await raw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", 5000);
  assert.ok(Date.now() - started < 5000);
  // Many at once, then an ordinary request.
  await Promise.all(Array.from({ length: 200 }, (_, i) => raw(i % 2 ? "\x00\x01garbage\r\n\r\n" : `GET /${"%".repeat(i)} HTTP/1.1\r\n\r\n`)));
  assert.equal((await fetchText("/state")).status, 200);
});

test("connections left half open past the cap make room for a newcomer: the oldest are closed, and a browser is still answered", async () => {
  // Its own server with the default 5 s header deadline, so that only the cap can close them in time.
  const capped = await DashboardServer.listen({ port: 0 });
  capped.showRun(dir, "capped run");
  const cappedPort = Number(new URL(capped.url).port);
  const held: Socket[] = [];
  try {
    let closedByServer = 0;
    for (let i = 0; i < 200; i++) {
      const s = connect(cappedPort, "127.0.0.1");
      s.on("error", () => {}).on("close", () => closedByServer++);
      await new Promise<void>((resolve) => s.once("connect", () => resolve()));
      s.write("GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      held.push(s);
    }
    const started = Date.now();
    const answered = await new Promise<number>((resolve, reject) => {
      get({ host: "127.0.0.1", port: cappedPort, path: "/state" }, (res) => (res.resume(), resolve(res.statusCode!))).on("error", reject);
    });
    assert.equal(answered, 200);
    assert.ok(Date.now() - started < 2000, "answered long before the header deadline would have freed a place");
    // 200 held + 1 newcomer against a cap of 128: at least 73 of the held ones were closed, oldest first.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(closedByServer >= 73, `${closedByServer} closed`);
    assert.ok(held[0]!.destroyed || held[0]!.readableEnded, "the oldest went first");
    assert.ok(!held[199]!.destroyed, "the newest is still open");
  } finally {
    for (const s of held) s.destroy();
    await capped.close();
  }
});
