/**
 * Small statistics helpers shared by benchmarks and notebook views.
 * @module
 */

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
