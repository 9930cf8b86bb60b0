// The words `--grad-compression` and DdpOptions.gradCompression take, and the hook each makes:
// one vocabulary for the command line and the API (docs/compression.md).
import { AllReduceHook } from "./allreduce-hook.js";
import type { GradHook } from "./grad-hook.js";
import { PowerSgdHook } from "./powersgd-hook.js";
import { TopKHook } from "./topk-hook.js";

/** A built-in hook by name: "none", "bf16", "powersgd:R" (R an integer >= 1), "topk:F" (0 < F < 1). */
export type GradCompression = "none" | "bf16" | `powersgd:${number}` | `topk:${number}`;

/** What a value must look like, for the messages. */
const FORMS = "none, bf16, powersgd:R (R an integer >= 1, e.g. powersgd:4) or topk:F (0 < F < 1, e.g. topk:0.01)";

/**
 * Why `spec` names no hook (a one-line message naming `what`, the option or flag), or undefined
 * when it names one.
 *
 * @example
 * ```ts
 * assert.equal(gradCompressionProblem("powersgd:4", "--grad-compression"), undefined);
 * assert.match(gradCompressionProblem("topk:1.5", "--grad-compression")!, /the fraction F must be above 0 and below 1, got "1.5"/);
 * ```
 */
export function gradCompressionProblem(spec: string, what: string): string | undefined {
  if (spec === "none" || spec === "bf16") return undefined;
  const [kind, arg, ...rest] = spec.split(":");
  if ((kind === "powersgd" || kind === "topk") && (arg === undefined || arg === "" || rest.length > 0)) {
    return `${what} ${spec}: write ${kind}:${kind === "powersgd" ? "R with the rank R, e.g. powersgd:4" : "F with the fraction F, e.g. topk:0.01"}`;
  }
  if (kind === "powersgd") {
    const r = Number(arg);
    if (!/^\d+$/.test(arg!) || !Number.isSafeInteger(r) || r < 1) return `${what} ${spec}: the rank R must be an integer >= 1, got "${arg}"`;
    return undefined;
  }
  if (kind === "topk") {
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
 * assert.throws(() => gradHookFor("zip"), /gradCompression must be none, bf16, powersgd:R/);
 * ```
 */
export function gradHookFor(spec: string): GradHook {
  const problem = gradCompressionProblem(spec, "gradCompression");
  if (problem !== undefined) throw new RangeError(problem);
  if (spec === "none") return new AllReduceHook();
  if (spec === "bf16") return new AllReduceHook("bf16");
  const [kind, arg] = spec.split(":") as [string, string];
  return kind === "powersgd" ? new PowerSgdHook({ rank: Number(arg) }) : new TopKHook({ fraction: Number(arg) });
}
