import type { Summary } from './stats';

/** One line of the printed table (and of `table` in the results file). */
export interface Row {
  section: string;
  metric: string;
  unit: string;
  /** Median of our measurement. */
  ours: number | null;
  /** Median of the baseline measured side by side; null when the target is absolute. */
  baseline: number | null;
  baselineLabel: string | null;
  /** Median of per-repetition ratios (ours/baseline, oriented so that higher is better) — or null. */
  ratio: number | null;
  /** Spread of that ratio over repetitions. */
  ratioMin: number | null;
  ratioMax: number | null;
  target: string;
  /** null: informational row, no target. */
  pass: boolean | null;
}

export interface SectionResult {
  rows: Row[];
  /** Every measurement with its repetitions, parameters and notes. */
  data: Record<string, unknown>;
}

export function ratioRow(base: Omit<Row, 'ours' | 'baseline' | 'ratio' | 'ratioMin' | 'ratioMax' | 'pass'>, ours: Summary, baseline: Summary, ratio: Summary, minRatio: number | null): Row {
  return {
    ...base,
    ours: ours.median,
    baseline: baseline.median,
    ratio: ratio.median,
    ratioMin: ratio.min,
    ratioMax: ratio.max,
    pass: minRatio === null ? null : ratio.median >= minRatio,
  };
}

export function absoluteRow(base: Omit<Row, 'ours' | 'baseline' | 'baselineLabel' | 'ratio' | 'ratioMin' | 'ratioMax' | 'pass'>, value: number, pass: boolean | null): Row {
  return { ...base, ours: value, baseline: null, baselineLabel: null, ratio: null, ratioMin: null, ratioMax: null, pass };
}

function fmt(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatTable(rows: readonly Row[]): string {
  const header = ['section', 'metric', 'ours', 'baseline', 'ratio (min–max)', 'target', 'result'];
  const lines = rows.map((r) => [
    r.section,
    `${r.metric} [${r.unit}]`,
    fmt(r.ours),
    r.baseline === null ? '–' : `${fmt(r.baseline)} (${r.baselineLabel ?? ''})`,
    r.ratio === null ? '–' : `${r.ratio.toFixed(2)}× (${(r.ratioMin ?? r.ratio).toFixed(2)}–${(r.ratioMax ?? r.ratio).toFixed(2)})`,
    r.target,
    r.pass === null ? 'info' : r.pass ? 'pass' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(render)].join('\n');
}
