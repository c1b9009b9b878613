/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = sortedCopy(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The nearest-rank percentile `p` (0 < p <= 100) of a non-empty list. */
export function percentile(values: number[], p: number): number {
  const sorted = sortedCopy(values);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function sortedCopy(values: number[]): number[] {
  if (values.length === 0) throw new Error('no values');
  return [...values].sort((a, b) => a - b);
}
