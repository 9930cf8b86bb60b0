// Row gathers and scatters (embeddings) and the dropout mask.
import type { Backend } from "../backend.js";

type IndexingKernels = Pick<Backend, "indexSelect" | "indexAdd" | "dropoutMask">;

function checkIndex(kernel: string, index: Int32Array, r: number, rows: number): number {
  const at = index[r];
  if (at < 0 || at >= rows) {
    throw new RangeError(
      `${kernel}: index ${at} at position ${r} is outside the table of ${rows} rows; indices must be in [0, ${rows})`,
    );
  }
  return at;
}

/**
 * Note [dropout hash]: the mask is a pure function of (seed, i), so a replica or a recomputation
 * regenerates it exactly and native and reference agree bit for bit:
 *   h = fmix32(seed ^ (i * 0x9E3779B9)), u = (h >>> 8) / 2^24 (24 bits: exact in float32),
 *   mask = u < p ? 0 : 1 / (1 - p).
 * fmix32 is MurmurHash3's finalizer, which spreads consecutive inputs over the whole range.
 */
export function dropoutHash(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const indexingKernels: IndexingKernels = {
  indexSelect(table, tableRows, index, out, cols) {
    for (let r = 0; r < index.length; r++) {
      const at = checkIndex("indexSelect", index, r, tableRows);
      out.set(table.subarray(at * cols, at * cols + cols), r * cols);
    }
  },

  indexAdd(g, index, gtable, cols) {
    if (cols === 0) return;
    const rows = Math.floor(gtable.length / cols);
    for (let r = 0; r < index.length; r++) {
      const at = checkIndex("indexAdd", index, r, rows);
      for (let j = 0; j < cols; j++) gtable[at * cols + j] += g[r * cols + j];
    }
  },

  dropoutMask(out, n, p, seed) {
    // The keep value is rounded to float32 first, as the native kernel stores it.
    const keep = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) {
      const u = (dropoutHash(seed, i) >>> 8) / 16777216;
      out[i] = u < p ? 0 : keep;
    }
  },
};
