// The words `--grad-compression` and DdpOptions.gradCompression take, and the hook each makes:
// one vocabulary for the command line and the API (docs/compression.md).
import { AllReduceHook } from "./allreduce-hook.js";
import type { GradHook } from "./grad-hook.js";
import { PowerSgdHook } from "./powersgd-hook.js";
import { TopKHook } from "./topk-hook.js";

/**
 * A built-in hook by name: "none", "bf16", "powersgd:R[:W][:bf16|:f16]" (R an integer >= 1, W
 * plain steps before compression starts, then the factors' element type on the wire), "topk:F"
 * (0 < F < 1).
 */
export type GradCompression = "none" | "bf16" | `powersgd:${number}` | `powersgd:${number}:${string}` | `topk:${number}`;

/** What a value must look like, for the messages. */
const FORMS = "none, bf16, powersgd:R[:W][:bf16] (R an integer >= 1, e.g. powersgd:4 or powersgd:4:100:bf16) or topk:F (0 < F < 1, e.g. topk:0.01)";

interface PowerSgdSpec {
  rank: number;
  plainSteps: number;
  wire: "bf16" | "f16" | undefined;
}

/** Reads "powersgd:R[:W][:bf16|:f16]"; a one-line problem naming `what` when it is not that. */
function powerSgdSpec(spec: string, what: string): PowerSgdSpec | string {
  const [, arg, ...rest] = spec.split(":");
  if (arg === undefined || arg === "") return `${what} ${spec}: write powersgd:R with the rank R, e.g. powersgd:4`;
  const rank = Number(arg);
  if (!/^\d+$/.test(arg) || !Number.isSafeInteger(rank) || rank < 1) return `${what} ${spec}: the rank R must be an integer >= 1, got "${arg}"`;
  let plainSteps = 0;
  let wire: PowerSgdSpec["wire"];
  let field = rest.shift();
  if (field !== undefined && /^\d+$/.test(field)) {
    plainSteps = Number(field);
    if (!Number.isSafeInteger(plainSteps)) return `${what} ${spec}: the plain steps W must be an integer >= 0, got "${field}"`;
    field = rest.shift();
  }
  if (field === "bf16" || field === "f16") {
    wire = field;
    field = rest.shift();
  }
  if (field !== undefined) {
    return `${what} ${spec}: after powersgd:R come at most the plain steps W (an integer >= 0) and then bf16 or f16, e.g. powersgd:4:100:bf16; got "${field}"`;
  }
  return { rank, plainSteps, wire };
}

/**
 * Why `spec` names no hook (a one-line message naming `what`, the option or flag), or undefined
 * when it names one.
 *
 * @example
 * ```ts
 * assert.equal(gradCompressionProblem("powersgd:4", "--grad-compression"), undefined);
 * assert.equal(gradCompressionProblem("powersgd:4:100:bf16", "--grad-compression"), undefined);
 * assert.match(gradCompressionProblem("powersgd:4:fast", "--grad-compression")!, /at most the plain steps W/);
 * assert.match(gradCompressionProblem("topk:1.5", "--grad-compression")!, /the fraction F must be above 0 and below 1, got "1.5"/);
 * ```
 */
export function gradCompressionProblem(spec: string, what: string): string | undefined {
  if (spec === "none" || spec === "bf16") return undefined;
  const [kind, arg, ...rest] = spec.split(":");
  if (kind === "powersgd") {
    const parsed = powerSgdSpec(spec, what);
    return typeof parsed === "string" ? parsed : undefined;
  }
  if (kind === "topk") {
    if (arg === undefined || arg === "" || rest.length > 0) return `${what} ${spec}: write topk:F with the fraction F, e.g. topk:0.01`;
    const f = Number(arg);
    if (!Number.isFinite(f) || !(f > 0 && f < 1)) return `${what} ${spec}: the fraction F must be above 0 and below 1, got "${arg}"`;
    return undefined;
  }
  return `${what} must be ${FORMS}, got "${spec}"`;
}

/**
 * A fresh hook for `spec` (a RangeError with gradCompressionProblem's message when it names none).
 *
 * @example
 * ```ts
 * assert.equal(gradHookFor("powersgd:4").name, "powersgd:4");
 * assert.equal(gradHookFor("powersgd:4:100:bf16").name, "powersgd:4:100:bf16");
 * assert.throws(() => gradHookFor("zip"), /gradCompression must be none, bf16, powersgd:R/);
 * ```
 */
export function gradHookFor(spec: string): GradHook {
  const problem = gradCompressionProblem(spec, "gradCompression");
  if (problem !== undefined) throw new RangeError(problem);
  if (spec === "none") return new AllReduceHook();
  if (spec === "bf16") return new AllReduceHook("bf16");
  const [kind, arg] = spec.split(":") as [string, string];
  if (kind === "powersgd") {
    const { rank, plainSteps, wire } = powerSgdSpec(spec, "gradCompression") as PowerSgdSpec;
    return new PowerSgdHook({ rank, plainSteps, ...(wire ? { wire } : {}) });
  }
  return new TopKHook({ fraction: Number(arg) });
}
