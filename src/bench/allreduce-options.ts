// The options `weft bench allreduce` shares with its workers: the command checks them, then
// passes them on unchanged, and each worker reads them with the same table.
import { checkWireDtype, type WireDtype } from "../distributed/compression/wire-dtype.js";

export const ALLREDUCE_BENCH_SIZES = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20];

export const ALLREDUCE_OPTIONS = {
  sizes: { type: "string", default: ALLREDUCE_BENCH_SIZES.join(",") },
  iters: { type: "string", default: "50" },
  "budget-mib": { type: "string", default: "1024" },
  "segment-bytes": { type: "string" },
  "small-bytes": { type: "string" },
  transport: { type: "string", default: "shm" },
  wire: { type: "string", default: "f32" },
} as const;

/** What parseArgs gives for ALLREDUCE_OPTIONS. */
export interface AllreduceOptionValues {
  sizes: string;
  iters: string;
  "budget-mib": string;
  "segment-bytes"?: string | undefined;
  "small-bytes"?: string | undefined;
  transport: string;
  wire: string;
}

export interface AllreduceSettings {
  sizes: number[];
  wire: WireDtype;
  tcp: boolean;
}

/** Checks the values; throws naming the flag. */
export function checkAllreduceOptions(values: AllreduceOptionValues): AllreduceSettings {
  const sizes = values.sizes.split(",").filter(Boolean).map((s) => {
    if (!(Number(s) > 0 && Number(s) % 4 === 0)) throw new Error(`--sizes: ${s} is not a positive multiple of 4 bytes`);
    return Number(s);
  });
  if (values.transport !== "shm" && values.transport !== "tcp") throw new Error(`--transport must be shm or tcp, got ${values.transport}`);
  return { sizes, wire: checkWireDtype(values.wire, "--wire"), tcp: values.transport === "tcp" };
}

/** The values as command-line arguments again, for the workers. */
export function allreduceArgs(values: AllreduceOptionValues): string[] {
  return Object.entries(values).flatMap(([k, v]) => (v === undefined || !(k in ALLREDUCE_OPTIONS) ? [] : [`--${k}`, v]));
}
