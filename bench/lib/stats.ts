/**
 * Summary statistics for repeated measurements. On a shared machine absolute numbers are noise;
 * what the bench reports is the median of repetitions, their spread, and ratios taken between
 * variants measured side by side in the same repetition.
 */
export interface Summary {
  /** Every repetition, in run order. */
  reps: number[];
  median: number;
  min: number;
  max: number;
  /** Interquartile range bounds (linear interpolation). */
  q1: number;
  q3: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(reps: readonly number[]): Summary {
  const sorted = [...reps].sort((a, b) => a - b);
  return {
    reps: [...reps],
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
  };
}

/** Per-repetition ratio a[i] / b[i] (both measured in the same repetition), summarised. */
export function ratioSummary(a: readonly number[], b: readonly number[]): Summary {
  return summarize(a.map((value, i) => value / b[i]));
}

/**
 * Variant order for repetition `rep`: rotated each time, so no variant always runs first (JIT
 * warm-up, DynamoDB Local's garbage collector and neighbours' load spread over all of them).
 */
export function rotation<T>(variants: readonly T[], rep: number): T[] {
  const shift = rep % variants.length;
  return [...variants.slice(shift), ...variants.slice(0, shift)];
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
