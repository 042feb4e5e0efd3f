import { formatMs, lagPercentiles } from '../../common/format';

/**
 * Live progress of a local run on stderr: one line redrawn in place with `\r` on a terminal, or a
 * plain line every few seconds when stderr is a file or pipe (CI logs stay readable). Shows counts
 * and timings only — never item values.
 */

/** The session counters the display reads (a structural subset of LocalStats). */
export interface ProgressStats {
  messagesApplied: number;
  queueDepth: number;
  inFlight: number;
  deadLettered: number;
  lagMs: readonly number[];
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Label of the current phase ("seeding", "workload", "draining"). */
  phase?: string;
  /** Lines on a non-TTY stream are at least this far apart. @default 3000 */
  plainIntervalMs?: number;
  now?: () => number;
}

export class ProgressLine {
  private phase: string;
  private written = 0;
  private lastPlainAt = Number.NEGATIVE_INFINITY;
  private lastWidth = 0;
  private readonly samples: { at: number; applied: number }[] = [];
  private readonly plainIntervalMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(
    private readonly stream: ProgressStream,
    opts: ProgressOptions = {},
  ) {
    this.phase = opts.phase ?? '';
    this.plainIntervalMs = opts.plainIntervalMs ?? 3000;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  setPhase(phase: string): void {
    this.phase = phase;
  }

  addWritten(count: number): void {
    this.written += count;
  }

  get changesWritten(): number {
    return this.written;
  }

  /** Redraws (TTY) or prints a line when due (non-TTY). */
  update(stats: ProgressStats, force = false): void {
    const now = this.now();
    this.samples.push({ at: now, applied: stats.messagesApplied });
    // Rate over the last ~3 s, so it tracks the current pace rather than the run's average.
    while (this.samples.length > 2 && now - this.samples[0].at > 3000) this.samples.shift();
    const line = this.render(stats, now);
    if (this.stream.isTTY === true) {
      const width = this.stream.columns ?? 120;
      const text = line.length > width - 1 ? line.slice(0, width - 1) : line;
      this.stream.write(`\r${text}${' '.repeat(Math.max(0, this.lastWidth - text.length))}`);
      this.lastWidth = text.length;
    } else if (force || now - this.lastPlainAt >= this.plainIntervalMs) {
      this.stream.write(`${line}\n`);
      this.lastPlainAt = now;
    }
  }

  /** Ends the in-place line so that what follows starts on a fresh line. */
  done(): void {
    if (this.stream.isTTY === true && this.lastWidth > 0) this.stream.write('\n');
    this.lastWidth = 0;
  }

  render(stats: ProgressStats, now = this.now()): string {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const rate = first !== undefined && last !== undefined && last.at > first.at ? ((last.applied - first.applied) * 1000) / (last.at - first.at) : 0;
    const { p50, p99 } = lagPercentiles(stats.lagMs);
    const elapsed = ((now - this.startedAt) / 1000).toFixed(1);
    return [
      `${elapsed.padStart(5)}s ${this.phase}`.trimEnd(),
      `written ${this.written}`,
      `applied ${stats.messagesApplied} (${Math.round(rate)}/s)`,
      `queue ${stats.queueDepth}`,
      `in flight ${stats.inFlight}`,
      `DLQ ${stats.deadLettered}`,
      // Last: on a narrow terminal the line is cut at the right edge.
      `lag p50 ${formatMs(p50)} p99 ${formatMs(p99)}`,
    ].join(' · ');
  }
}
