/**
 * Formatting of counts and timings shared by the local runtime, the operator commands and the
 * benchmark: lag percentiles and durations in ms. Never item values. (Tables: cli/table.ts.)
 */

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

/** Nearest-rank percentiles; null when there is no sample. */
export function lagPercentiles(lagMs: readonly number[]): Percentiles {
  if (lagMs.length === 0) return { p50: null, p99: null };
  const sorted = [...lagMs].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return { p50: at(0.5), p99: at(0.99) };
}

export const formatMs = (ms: number | null): string => (ms === null ? '–' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
