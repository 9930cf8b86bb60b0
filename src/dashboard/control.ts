// The dashboard's control endpoints: `POST /control/stop` and `POST /control/checkpoint`, the
// only requests that act on the job (Note [dashboard access] in server.ts).
//
// Note [control access]
// A control request must carry the job secret, `Authorization: Bearer <secret>` (the same secret
// the workers authenticate with, WEFT_SECRET / --secret). The check comes before anything else
// about the request, so a stranger learns nothing (not even which actions exist) from the
// answers: 401 for every request without the secret. The comparison is over SHA-256 digests of
// both sides with crypto.timingSafeEqual: equal lengths, so neither the secret's length nor the
// position of the first wrong character shows in the time it takes.
//
// The listener shares the CPUs with training, so whatever a request does, it costs little and
// nothing it sends is held for long: no action needs a body, a body is read only up to
// MAX_BODY_BYTES (more, announced or sent, is 413 and the connection is closed), and the action
// runs only once the request has fully arrived. Refusals are logged through a RefusalSummary (a
// line a second at most), so 1,000 bad requests do not become 1,000 lines. Nothing here throws
// into the server: a failing action costs its request a 500, never the launcher.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { RefusalSummary } from "./refusal-summary.js";

/** What a control request may ask of the job; each answers at once (the work itself may follow). */
export interface ControlActions {
  stop(from: string): { ok: boolean; message: string };
  checkpoint(from: string): { ok: boolean; message: string };
}

export interface ControlHandlerOptions {
  /** The job secret a request must present. */
  secret: string;
  actions: ControlActions;
  /** The launcher's log: one line per accepted request, refusals summed up (Note [control access]). */
  log: (line: string) => void;
  /** Refusals' log lines at most one per this many milliseconds (default 1000; tests shorten it). */
  refusalIntervalMs?: number;
}

/** No action takes a body; this much is tolerated (a client that sends `{}`), more is refused. */
export const MAX_BODY_BYTES = 1024;

const ACTIONS = ["stop", "checkpoint"] as const;
type Action = (typeof ACTIONS)[number];

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * Answers `POST /control/<action>` (Note [control access]). The response is one line of JSON:
 * `{"ok":true,"message":...}`, or `{"ok":false,"error":...}` with 401 (no or wrong secret), 404
 * (no such action), 405 (not POST), 413 (a body over MAX_BODY_BYTES), 409 (the job said no) or
 * 500 (the action failed).
 */
export function controlHandler(o: ControlHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const expected = digest(o.secret.trim());
  const refusals = new RefusalSummary({ label: "dashboard control", log: o.log, ...(o.refusalIntervalMs === undefined ? {} : { intervalMs: o.refusalIntervalMs }) });

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization;
    const m = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header) : null;
    return m !== null && timingSafeEqual(digest(m[1]!), expected);
  };

  return (req, res) => {
    const from = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
    try {
      const refuse = (status: number, reason: string, error: string, headers: Record<string, string> = {}): void => {
        refusals.refused(reason, from, `${req.method} ${(req.url ?? "").slice(0, 80)}: ${error}`);
        answer(req, res, status, { ok: false, error }, headers, true);
      };
      if (!authorized(req)) {
        const why = req.headers.authorization === undefined ? "no job secret" : "wrong job secret";
        return refuse(401, why, `${why}: send the job's secret as \`Authorization: Bearer <secret>\``, { "WWW-Authenticate": 'Bearer realm="weft job"' });
      }
      if (req.method !== "POST") return refuse(405, "not POST", "control requests are POST", { Allow: "POST" });
      const action = (req.url ?? "").split("?")[0]!.slice("/control/".length);
      if (!(ACTIONS as readonly string[]).includes(action)) return refuse(404, "unknown action", `no control action "${action.slice(0, 40)}": the actions are ${ACTIONS.join(", ")}`);
      const announced = Number(req.headers["content-length"] ?? 0);
      if (!(announced <= MAX_BODY_BYTES)) return refuse(413, "body too large", `a body of ${req.headers["content-length"]} bytes; control requests need none (at most ${MAX_BODY_BYTES})`);

      // Acts once the request has arrived whole (a half-sent one acts never), reading at most MAX_BODY_BYTES.
      let received = 0;
      let done = false;
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_BODY_BYTES && !done) {
          done = true;
          refuse(413, "body too large", `a body over ${MAX_BODY_BYTES} bytes; control requests need none`);
        }
      });
      req.on("error", () => {});
      req.on("end", () => {
        if (done) return;
        done = true;
        act(action as Action, `dashboard ${from}`);
      });
    } catch (err) {
      failed(err);
    }

    function act(action: Action, who: string): void {
      try {
        const result = o.actions[action](who);
        o.log(`dashboard control: ${action} from ${who}: ${result.ok ? "" : "refused: "}${result.message}`);
        if (result.ok) answer(req, res, 200, { ok: true, message: result.message });
        else answer(req, res, 409, { ok: false, error: result.message });
      } catch (err) {
        failed(err);
      }
    }

    function failed(err: unknown): void {
      // A bug must cost one request, never the launcher.
      try {
        o.log(`dashboard control: the request from ${from} failed: ${(err as Error)?.message ?? String(err)}`);
        if (!res.headersSent) answer(req, res, 500, { ok: false, error: "the control request failed; the launcher's log says why" }, {}, true);
        else res.destroy();
      } catch {
        res.destroy();
      }
    }
  };
}

/** How long a refused client may take to read its answer before its connection is cut. */
const CLOSE_GRACE_MS = 1000;

function answer(req: IncomingMessage, res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}, close = false): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
    ...(close ? { Connection: "close" } : {}),
  });
  res.end(text);
  if (close) {
    // A refused request's body (if any) is not read: the socket stops reading (what it would read
    // is dropped anyway, and parsing it is most of what a flood of large bodies costs), the
    // connection closes after the answer, and a client that does not take the answer and go is
    // cut off, so it holds nothing for long.
    const socket = req.socket;
    socket.pause();
    const t = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    t.unref();
    socket.once("close", () => clearTimeout(t));
  }
}
