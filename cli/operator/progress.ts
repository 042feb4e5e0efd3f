import type { CliOutput } from '../index';

/**
 * A progress line on stderr: redrawn in place with a bar on a terminal, a plain line every few
 * seconds otherwise (CI logs stay readable). Counts and rates only, never item values.
 */
export class ProgressBar {
  private lastPlainAt: number;
  private lastWidth = 0;
  private readonly startedAt: number;

  constructor(
    private readonly out: CliOutput,
    private readonly opts: { plainIntervalMs?: number; now?: () => number; enabled?: boolean } = {},
  ) {
    this.startedAt = this.now();
    // Not on a terminal, the first line comes after one interval: a quick run prints none.
    this.lastPlainAt = this.startedAt;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Seconds since the bar was created. */
  get elapsedSeconds(): number {
    return (this.now() - this.startedAt) / 1000;
  }

  /** Items per second since the start. */
  rate(done: number): number {
    const seconds = this.elapsedSeconds;
    return seconds > 0 ? done / seconds : 0;
  }

  update(done: number, total: number | undefined, text: string, force = false): void {
    if (this.opts.enabled === false) return;
    const bar = total !== undefined && total > 0 ? `${renderBar(done / total)} ${done}/${total} ` : '';
    const line = `${bar}${text}`;
    if (this.out.isTTY === true) {
      const width = this.out.columns ?? 120;
      const shown = line.length > width - 1 ? line.slice(0, width - 1) : line;
      this.out.write(`\r${shown}${' '.repeat(Math.max(0, this.lastWidth - shown.length))}`);
      this.lastWidth = shown.length;
    } else if (force || this.now() - this.lastPlainAt >= (this.opts.plainIntervalMs ?? 5000)) {
      this.out.write(`${line}\n`);
      this.lastPlainAt = this.now();
    }
  }

  /** Ends the in-place line so that what follows starts on a fresh line. */
  done(): void {
    if (this.out.isTTY === true && this.lastWidth > 0) this.out.write('\n');
    this.lastWidth = 0;
  }
}

function renderBar(fraction: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
