import { formatMs, lagPercentiles } from '../../common/format';
import { formatColumns, formatTable } from '../../cli/table';
import { ProgressLine, type ProgressStats } from '../../cli/local/progress-line';

const stats = (applied: number, lagMs: number[] = []): ProgressStats => ({ messagesApplied: applied, queueDepth: 3, inFlight: 2, deadLettered: 1, lagMs });

class Capture {
  text = '';
  constructor(readonly isTTY: boolean, readonly columns = 200) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('lagPercentiles', () => {
  it('uses nearest rank and null without samples', () => {
    expect(lagPercentiles([])).toEqual({ p50: null, p99: null });
    expect(lagPercentiles([5])).toEqual({ p50: 5, p99: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(lagPercentiles(hundred)).toEqual({ p50: 50, p99: 99 });
  });
});

describe('ProgressLine', () => {
  it('redraws one line in place on a TTY and ends it with a newline', () => {
    let now = 0;
    const out = new Capture(true);
    const progress = new ProgressLine(out, { phase: 'ops', now: () => now });
    progress.addWritten(10);
    progress.update(stats(0));
    now = 1000;
    progress.update(stats(100, [10, 20, 30]));
    progress.done();
    const frames = out.text.split('\r').filter((f) => f !== '');
    expect(frames).toHaveLength(2);
    expect(frames[1]).toMatch(/1\.0s ops · written 10 · applied 100 \(100\/s\) · queue 3 · in flight 2 · DLQ 1 · lag p50 20 ms p99 30 ms\n$/);
    expect(out.text.endsWith('\n')).toBe(true);
  });

  it('prints a plain line at most every interval when not a TTY', () => {
    let now = 0;
    const out = new Capture(false);
    const progress = new ProgressLine(out, { plainIntervalMs: 3000, now: () => now });
    progress.update(stats(1));
    now = 1000;
    progress.update(stats(2));
    now = 3500;
    progress.update(stats(3));
    progress.update(stats(4), true);
    progress.done();
    expect(out.text).not.toContain('\r');
    expect(out.text.trim().split('\n')).toHaveLength(3);
  });
});

describe('formatting', () => {
  it('formats milliseconds and tables', () => {
    expect(formatMs(null)).toBe('–');
    expect(formatMs(12.4)).toBe('12 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
    expect(formatTable([['a', '1'], ['long', '2']])).toBe('  a     1\n  long  2');
  });

  it('draws columns two spaces apart, as wide as their widest cell, with no borders, colours or trailing blanks', () => {
    const text = formatColumns([
      ['TARGET', 'PIPE', 'LAG P99'],
      ['dr', 'RUNNING', '850 ms'],
      ['analytics', 'not resolved', '?'],
    ]);
    expect(text).toBe(['TARGET     PIPE          LAG P99', 'dr         RUNNING       850 ms', 'analytics  not resolved  ?'].join('\n'));
  });

  it('aligns by display width: a wide character takes two columns', () => {
    // U+4E1C is East Asian Wide: a terminal draws it two columns wide.
    expect(formatTable([['\u4e1c', 'a'], ['abc', 'b']])).toBe('  \u4e1c   a\n  abc  b');
  });
});
