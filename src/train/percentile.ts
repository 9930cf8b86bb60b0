// The nearest-rank percentile, one definition for what fit() reports (step_ms_p90) and what the
// comparison's table falls back to when a result line has none (src/report/summary-table.ts).

/**
 * The value below which a fraction `q` of `values` lie (nearest rank; 0 for none).
 *
 * @example
 * ```ts
 * assert.equal(percentile([5, 1, 4, 2, 3], 0.9), 5);
 * assert.equal(percentile([5, 1, 4, 2, 3], 0.5), 3);
 * assert.equal(percentile([], 0.9), 0);
 * ```
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
