import { ReplicationError } from '../handlers/core/errors';
import { UserInputError } from '../common/errors';

/** Exit codes of every `ddb-replicate` command. */
export const EXIT = {
  ok: 0,
  /** Divergence found, or the operation failed. */
  failure: 1,
  /** Bad arguments or input; nothing was started or written. */
  badInput: 2,
  /** Interrupted (SIGINT), as shells report 128 + 2. */
  interrupted: 130,
  /** Terminated (SIGTERM, or the parent process went away), as shells report 128 + 15. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code main() reports for an error a command threw. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  return error instanceof UserInputError ? EXIT.badInput : EXIT.failure;
}

/** An error the CLI reports as one plain line and maps to an exit code. */
export class CliError extends ReplicationError {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
