// Checksums that let a load tell a damaged checkpoint from a good one (Note [checkpoint metadata
// keys]). Two digests, so that a refusal can say WHERE the damage is:
// - the data digest covers the raw tensor bytes;
// - the header digest covers everything else that gives those bytes their meaning: each tensor's
//   name, dtype, shape and offsets, and every metadata entry except the two digests themselves.
// The header digest hashes a canonical form (tensors by offset, metadata by key), not the header
// text, so it does not depend on JSON key order or whitespace.

import { createHash } from "node:crypto";
import { DATA_SHA256_KEY, HEADER_SHA256_KEY } from "./metadata-keys.js";
import type { SafetensorsDtype } from "./named-array.js";

/** One header entry as it is laid out in the file. */
export interface TensorIndexEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Plain code-unit order: unlike localeCompare, the same on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Tensors ordered by their position in the data section (ties: zero-size tensors, by name). */
export function byOffset(a: TensorIndexEntry, b: TensorIndexEntry): number {
  return a.begin - b.begin || a.end - b.end || compareStrings(a.name, b.name);
}

/** SHA-256 (hex) of the data section, given as its consecutive pieces (one per tensor, or whole). */
export function dataDigest(pieces: Iterable<Uint8Array>): string {
  const hash = createHash("sha256");
  for (const piece of pieces) hash.update(piece);
  return hash.digest("hex");
}

export function headerDigest(index: readonly TensorIndexEntry[], metadata: Record<string, string>): string {
  const tensors = [...index].sort(byOffset).map((t) => [t.name, t.dtype, t.shape, t.begin, t.end]);
  const entries = Object.keys(metadata)
    .filter((key) => key !== DATA_SHA256_KEY && key !== HEADER_SHA256_KEY)
    .sort(compareStrings)
    .map((key) => [key, metadata[key]]);
  return createHash("sha256").update(JSON.stringify({ tensors, metadata: entries })).digest("hex");
}
