// The options of `weft bench allreduce`, as a table the command line parses (src/cli/options.ts),
// and the settings its workers run with. The command checks everything once; the workers get the
// checked settings as one JSON argument and only decode it (decodeAllreduceSettings), since a
// worker has no command line to report a mistake on and bench/ sits below the parser in cli/.
import { WIRE_DTYPES, checkWireDtype, type WireDtype } from "../distributed/compression/wire-dtype.js";
import { DEFAULT_FRAME_LIMITS } from "../distributed/wire/frame.js";
import type { OptionTable, OptionValues } from "../train/option-spec.js";

export const ALLREDUCE_BENCH_SIZES = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20];

export const ALLREDUCE_OPTIONS = {
  workers: { type: "int", min: 2, default: 2, help: "workers on this machine" },
  sizes: { type: "string", placeholder: "BYTES,...", default: ALLREDUCE_BENCH_SIZES.join(","), help: "buffer sizes, each a multiple of 4" },
  iters: { type: "int", min: 5, default: 50, help: "timed all-reduces per size, at most" },
  "budget-mib": { type: "int", min: 1, default: 1024, help: "MiB reduced per size, at most (big sizes get fewer iters)" },
  // A TCP ring sends a segment as one frame, so a bigger one would fail in every worker.
  "segment-bytes": { type: "int", min: 4, max: DEFAULT_FRAME_LIMITS.maxDataBytes, help: "ring segment size, a multiple of 4 (default the group's)" },
  "small-bytes": { type: "int", min: 0, help: "recursive doubling up to this size (default the group's)" },
  transport: { type: "choice", choices: ["shm", "tcp"], default: "shm", help: "shared memory, or TCP over loopback" },
  wire: { type: "choice", choices: WIRE_DTYPES, default: "f32", help: "element type on the TCP wire (shm ignores it)" },
  oversubscribe: { type: "flag", help: "allow more than 2 workers per CPU" },
  json: { type: "flag", help: "(accepted for symmetry: the output is always JSON lines)" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

export type AllreduceOptionValues = OptionValues<typeof ALLREDUCE_OPTIONS>;

/** What every worker runs with: checked values, in the units the worker uses. */
export interface AllreduceSettings {
  sizes: number[];
  iters: number;
  budgetBytes: number;
  segmentBytes?: number;
  smallBytes?: number;
  tcp: boolean;
  wire: WireDtype;
}

/**
 * Checks what the option table cannot (the size list, the segment's alignment) and converts.
 * Throws a RangeError naming the flag.
 *
 * @example Sizes must be multiples of 4 bytes
 * ```ts
 * const values = { sizes: "4096,102", iters: 50, "budget-mib": 1, transport: "shm", wire: "f32" } as any;
 * assert.throws(() => allreduceSettings(values), /--sizes: "102" is not a positive multiple of 4/);
 * assert.deepEqual(allreduceSettings({ ...values, sizes: "4096" }).sizes, [4096]);
 * ```
 */
export function allreduceSettings(v: AllreduceOptionValues): AllreduceSettings {
  const sizes = v.sizes.split(",").map((s) => {
    const n = Number(s.trim());
    if (!(Number.isSafeInteger(n) && n > 0 && n % 4 === 0)) throw new RangeError(`--sizes: ${JSON.stringify(s)} is not a positive multiple of 4 bytes (float32 elements)`);
    return n;
  });
  const segment = v["segment-bytes"];
  if (segment !== undefined && segment % 4 !== 0) throw new RangeError(`--segment-bytes must be a multiple of 4, got ${segment}`);
  return {
    sizes,
    iters: v.iters,
    budgetBytes: v["budget-mib"] * (1 << 20),
    ...(segment === undefined ? {} : { segmentBytes: segment }),
    ...(v["small-bytes"] === undefined ? {} : { smallBytes: v["small-bytes"] }),
    tcp: v.transport === "tcp",
    wire: checkWireDtype(v.wire, "--wire"),
  };
}

/** The settings as the workers' one argument. */
export function encodeAllreduceSettings(s: AllreduceSettings): string {
  return JSON.stringify(s);
}

/**
 * The settings back from a worker's argument; throws naming the field when it is not what
 * encodeAllreduceSettings wrote (a worker started by hand, or by another version).
 *
 * @example Round trip
 * ```ts
 * const s = { sizes: [4096], iters: 5, budgetBytes: 1 << 20, tcp: false, wire: "f32" as const };
 * assert.deepEqual(decodeAllreduceSettings(encodeAllreduceSettings(s)), s);
 * assert.throws(() => decodeAllreduceSettings('{"sizes":"4096"}'), /sizes/);
 * ```
 */
export function decodeAllreduceSettings(text: string | undefined): AllreduceSettings {
  const bad = (what: string): never => {
    throw new TypeError(`allreduce-worker: its argument must be the JSON settings weft bench allreduce passes; ${what}`);
  };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text ?? "") as Record<string, unknown>;
  } catch {
    return bad(`got ${JSON.stringify(text)}`);
  }
  const count = (key: string, optional = false): number | undefined => {
    const x = raw[key];
    if (x === undefined && optional) return undefined;
    if (!Number.isSafeInteger(x) || (x as number) < 0) bad(`${key} is ${JSON.stringify(x)}, not a count`);
    return x as number;
  };
  if (!Array.isArray(raw.sizes) || raw.sizes.length === 0 || !raw.sizes.every((n) => Number.isSafeInteger(n) && n > 0 && n % 4 === 0)) {
    bad(`sizes is ${JSON.stringify(raw.sizes)}, not a list of multiples of 4`);
  }
  if (typeof raw.tcp !== "boolean") bad(`tcp is ${JSON.stringify(raw.tcp)}, not true or false`);
  const segmentBytes = count("segmentBytes", true);
  const smallBytes = count("smallBytes", true);
  return {
    sizes: raw.sizes as number[],
    iters: count("iters")!,
    budgetBytes: count("budgetBytes")!,
    ...(segmentBytes === undefined ? {} : { segmentBytes }),
    ...(smallBytes === undefined ? {} : { smallBytes }),
    tcp: raw.tcp as boolean,
    wire: checkWireDtype(raw.wire, "wire"),
  };
}
