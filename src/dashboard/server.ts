// The dashboard's HTTP server (node:http): the page, the two chart scripts, and per run a JSON
// snapshot and a server-sent event stream. It runs inside the launcher, which shares the CPUs
// with training, so it stays cheap: one timer ticks every TICK_MS, and only while a browser is
// connected does it read the run folder (only what was appended) and send each browser the same
// delta; nothing is drawn here.
//
// Note [dashboard access]
// Everything is read-only GET but `/control/<action>`, which goes to the control handler
// (control.ts: the job secret first, then POST only). The listener binds loopback unless told otherwise,
// and on loopback it also refuses a Host header that is not a loopback name, so a web page the
// user visits cannot read the dashboard through DNS rebinding. Anything else is refused without
// reaching the job: unknown paths (404), other methods (405), URLs over MAX_URL_CHARS (414),
// headers over MAX_HEADER_BYTES (431), malformed requests (400), clients slower than
// HEADERS_TIMEOUT_MS to send their headers (408), more than MAX_STREAMS event streams (503),
// connections past MAX_CONNECTIONS (the oldest idle one is closed, Note [connection cap]),
// and a stream whose browser stops reading (closed once MAX_BACKLOG_BYTES are waiting for it).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { capConnections } from "./connection-cap.js";
import { runPage, runsIndexPage } from "./page.js";
import { RunState } from "./run-state.js";
import { RunTail } from "./run-tail.js";
import { vendorScript } from "./vendor-scripts.js";

const TICK_MS = 500;
const HEARTBEAT_MS = 10_000;
const MAX_URL_CHARS = 2048;
const MAX_HEADER_BYTES = 8192;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_STREAMS = 32;
/** Open connections at most; the oldest idle one makes room for a newcomer (Note [connection cap]). */
const MAX_CONNECTIONS = 128;
const MAX_BACKLOG_BYTES = 4 << 20;
/** Polls a new stream may take to catch up with a finished run before its snapshot goes out. */
const CATCH_UP_POLLS = 64;

/** Handles `POST /control/<action>` (control.ts); absent, control requests are refused. */
export type ControlRoute = (req: IncomingMessage, res: ServerResponse) => void;

export interface DashboardServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The server's own messages (a failure to serve, never a request). */
  log?: (message: string) => void;
  /** How long a client may take to send its headers (default HEADERS_TIMEOUT_MS; tests shorten it). */
  headersTimeoutMs?: number;
}

/** One run the server shows: its folder's tail, its state and the browsers following it. */
class RunView {
  readonly state: RunState;
  private readonly tail: RunTail;
  readonly streams = new Set<ServerResponse>();

  constructor(dir: string, readonly title: string) {
    this.state = new RunState(title);
    this.tail = new RunTail(dir, (source, record) => this.state.add(source, record));
  }

  /** Reads what was appended and sends it to every browser following this run. */
  tick(): void {
    this.tail.poll();
    const delta = this.state.takeDelta();
    if (delta && this.streams.size > 0) this.broadcast(`event: delta\ndata: ${JSON.stringify(delta)}\n\n`);
  }

  /** Reads the folder up to its end (a finished run may take several polls), then sends the deltas. */
  catchUp(): void {
    for (let i = 0; i < CATCH_UP_POLLS && this.tail.poll(); i++);
    this.tick();
  }

  broadcast(chunk: string): void {
    for (const res of this.streams) {
      // A browser that stopped reading must not make the launcher buffer without bound.
      if (res.writableLength > MAX_BACKLOG_BYTES) res.destroy();
      else res.write(chunk);
    }
  }
}

interface Site {
  /** path prefix ("/" or "/runs/3/") -> run */
  runs: Map<string, RunView>;
  index?: string;
  control?: ControlRoute;
}

const isLoopbackName = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(host);

export class DashboardServer {
  private site: Site = { runs: new Map() };
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private streams = 0;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly loopback: boolean,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.heartbeat = setInterval(() => {
      for (const run of this.site.runs.values()) run.broadcast(": still here\n\n");
    }, HEARTBEAT_MS);
    // The launcher ends when the job does, whatever the dashboard is doing.
    this.timer.unref();
    this.heartbeat.unref();
  }

  /** Listens (port 0 picks one); throws a one-line error when the address cannot be had. */
  static async listen(o: DashboardServerOptions): Promise<DashboardServer> {
    const host = o.host ?? "127.0.0.1";
    const log = o.log ?? (() => {});
    let dashboard: DashboardServer | undefined;
    const server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: o.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, requestTimeout: Math.max(REQUEST_TIMEOUT_MS, o.headersTimeoutMs ?? 0),
        keepAliveTimeout: 5000, connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs ?? 1000),
      },
      (req, res) => {
        try {
          dashboard?.handle(req, res);
        } catch (err) {
          // A bug here must cost one request, never the launcher.
          log(`the dashboard failed to answer ${req.method} ${req.url?.slice(0, 100)}: ${(err as Error).message}`);
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        }
      },
    );
    capConnections(server, MAX_CONNECTIONS);
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return void socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        const why = err.code === "EADDRINUSE" ? `port ${o.port} is in use: pick another, or 0 for any free one` : err.code === "EADDRNOTAVAIL" ? `${host} is not an address of this machine` : err.message;
        reject(new Error(`cannot serve the dashboard on ${host}:${o.port}: ${why}`));
      });
      server.listen(o.port, host, () => resolve());
    });
    server.on("error", (err) => log(`the dashboard's listener failed: ${err.message}`));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : o.port;
    const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
    dashboard = new DashboardServer(server, `http://${shown}:${port}/`, isLoopbackName(shown) && host !== "0.0.0.0");
    return dashboard;
  }

  /** Shows one run folder at `/` (live or finished); `control` answers `POST /control/<action>`. */
  showRun(dir: string, title: string, control?: ControlRoute): void {
    this.site = { runs: new Map([["/", new RunView(dir, title)]]), ...(control ? { control } : {}) };
  }

  /** Shows several runs (a `weft compare` report), each at /runs/<i>/, listed at `/`. */
  showRuns(title: string, runs: readonly { label: string; dir: string | undefined; note: string }[]): void {
    const views = new Map<string, RunView>();
    const listed = runs.map((r, i) => {
      if (r.dir === undefined) return { label: r.label, note: r.note };
      views.set(`/runs/${i}/`, new RunView(r.dir, `${title}: ${r.label}`));
      return { label: r.label, href: `/runs/${i}/`, note: r.note };
    });
    this.site = { runs: views, index: runsIndexPage(title, listed) };
  }

  /** Reads the run folders once more and sends what is new (the job's last lines, before it closes). */
  flush(): void {
    for (const run of this.site.runs.values()) run.catchUp();
  }

  /** Browsers following a run now. */
  following(): number {
    return this.streams;
  }

  /** Stops serving; calling it again does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    for (const run of this.site.runs.values()) for (const res of run.streams) res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private tick(): void {
    for (const run of this.site.runs.values()) if (run.streams.size > 0) run.tick();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    if (url.length > MAX_URL_CHARS) return void plain(res, 414, "URL too long");
    if (this.loopback && !isLoopbackName(req.headers.host ?? "")) return void plain(res, 403, "this dashboard answers to 127.0.0.1 and localhost only");
    const path = url.split("?")[0]!;

    if (path.startsWith("/control/")) {
      if (!this.site.control) return void plain(res, 404, "no running job to control here: a finished run's dashboard (weft dashboard) has none, and a launcher's has one once its job has started");
      // Every method goes to the handler: it checks the secret before anything else (Note [control access]).
      return this.site.control(req, res);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return void plain(res, this.known(path) ? 405 : 404, this.known(path) ? "the dashboard is read-only: GET only" : "not found", { Allow: "GET, HEAD" });
    }
    const script = path.startsWith("/vendor/") ? vendorScript(path) : undefined;
    if (script) return void send(res, 200, "text/javascript; charset=utf-8", script, { "Cache-Control": "max-age=3600" });
    if (path === "/" && this.site.index !== undefined) return void send(res, 200, "text/html; charset=utf-8", this.site.index);
    // /runs/3 -> /runs/3/, so the page's relative `events` resolves beside it.
    if (this.site.runs.has(`${path}/`)) return void plain(res, 301, "moved", { Location: `${path}/` });

    const slash = path.lastIndexOf("/") + 1;
    const run = this.site.runs.get(path.slice(0, slash));
    const leaf = path.slice(slash);
    if (!run) return void plain(res, 404, "not found");
    if (leaf === "") return void send(res, 200, "text/html; charset=utf-8", runPage(run.title));
    if (leaf === "state") {
      run.catchUp();
      return void send(res, 200, "application/json", JSON.stringify(run.state.snapshot()));
    }
    if (leaf === "events") return this.stream(run, req, res);
    plain(res, 404, "not found");
  }

  private known(path: string): boolean {
    if (path.startsWith("/vendor/")) return vendorScript(path) !== undefined;
    const slash = path.lastIndexOf("/") + 1;
    return this.site.runs.has(path.slice(0, slash)) && ["", "state", "events"].includes(path.slice(slash));
  }

  private stream(run: RunView, req: IncomingMessage, res: ServerResponse): void {
    if (this.streams >= MAX_STREAMS) return void plain(res, 503, `at most ${MAX_STREAMS} browsers at a time`);
    // The others get what is new first, so the snapshot and their deltas agree from here on.
    run.catchUp();
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", Connection: "keep-alive" });
    if (req.method === "HEAD") return void res.end();
    res.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(run.state.snapshot())}\n\n`);
    this.streams++;
    run.streams.add(res);
    res.on("close", () => {
      this.streams--;
      run.streams.delete(res);
    });
  }
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  // Vega compiles its expressions with Function(), hence 'unsafe-eval'; nothing may come from elsewhere.
  "Content-Security-Policy": "default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.req.resume(); // a body nobody asked for is read and dropped
  res.writeHead(status, { ...SECURITY_HEADERS, "Cache-Control": "no-store", ...headers, "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function plain(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  send(res, status, "text/plain; charset=utf-8", `${message}\n`, headers);
}
