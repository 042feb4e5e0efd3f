import { InvalidArgumentError } from 'commander';
import { CliError, EXIT } from '../errors';
import type { CliIo } from '../index';

/** Argument parsers and the Ctrl-C seam shared by the operator commands. */

export function parsePositiveInt(max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`must be an integer from 1 to ${max}`);
    return Number(value);
  };
}

/** A fraction 0 < f ≤ 1 ("0.01", "1", "1e-3"; not "0", "1.5", "5%"). */
export function parseFraction(value: string): number {
  const f = Number(value);
  if (value.trim() === '' || !Number.isFinite(f) || f <= 0 || f > 1) throw new InvalidArgumentError('must be a fraction greater than 0 and at most 1, e.g. 0.01 for 1% of the items');
  return f;
}

/**
 * Runs `work` with an AbortSignal that the first Ctrl-C (SIGINT) or SIGTERM aborts: the command
 * finishes its current step and reports. A second Ctrl-C leaves at once with exit 130.
 */
export async function withInterrupt<T>(io: CliIo, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      io.stderr.write('\nleaving now\n');
      process.exit(EXIT.interrupted);
    }
    io.stderr.write(`\nstopping after the current ${what} (Ctrl-C again to leave at once)\n`);
    controller.abort(new CliError('interrupted', EXIT.interrupted));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--json` output: one line. */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Resolves on the first Ctrl-C (SIGINT) or SIGTERM, or when `also` settles, for commands that keep
 * running until stopped. Own listeners, so local/cleanup.ts does not re-raise the signal before the
 * graceful stop.
 */
export function untilSignal(also?: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolveStop) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolveStop();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    void also?.then(done, done);
  });
}
