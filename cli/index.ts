import { Command, CommanderError } from 'commander';
import { registerBootstrap } from './commands/bootstrap';
import { registerCutover } from './commands/cutover';
import { registerFailover } from './commands/failover';
import { registerLocal } from './local/command';
import { registerPause } from './commands/pause';
import { registerPlan } from './commands/plan';
import { registerReplay } from './commands/replay';
import { registerResume } from './commands/resume';
import { registerReverse } from './commands/reverse';
import { registerStatus } from './commands/status';
import { registerVerify } from './commands/verify';
import { EXIT, exitCodeFor } from './errors';

/**
 * `ddb-replicate`: one commander program, one file per command under cli/commands/. Commands never
 * call process.exit: they set an exit code on the context (0 ok, 1 divergence/failure, 2 bad input)
 * or throw a CliError, and main() returns the code — so tests can call main() in-process.
 */

export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
}

export interface CommandContext {
  readonly io: CliIo;
  /** What main() returns once the action finishes. */
  exitCode: number;
  /** --debug or DEBUG: stack traces, emulator diagnostics. */
  readonly debug: boolean;
}

/** Registers one command on the program. */
export type CommandRegistration = (program: Command, ctx: CommandContext) => void;

/** Every command, one line each. */
const COMMANDS: readonly CommandRegistration[] = [
  registerLocal,
  registerBootstrap,
  registerReplay,
  registerVerify,
  registerStatus,
  registerPause,
  registerResume,
  registerCutover,
  registerReverse,
  registerFailover,
  registerPlan,
];

// The version lives in package.json, once.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- read at run time from the package root; an import would pull package.json into the TypeScript program
const { version } = require('../package.json') as { version: string };

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('ddb-replicate')
    .description('Operate DynamoDB cross-account replication: run it locally, bootstrap, replay, verify.')
    .version(version, '-V, --version', 'print the version')
    .option('--debug', 'print stack traces of errors (also: DEBUG=1)')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    })
    // Throw instead of process.exit; set before the commands so they inherit it.
    .exitOverride();
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

const defaultIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** Runs the CLI with `argv` as in process.argv (node, script, ...args); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  // The SDK prints a nine-line "Node 20 support ends" notice on every command, in the middle of
  // progress lines and of a quiet --json stderr. The CLI supports Node >= 20 (package.json engines);
  // the Lambda functions run nodejs22.x.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const debug = argv.includes('--debug') || isTruthy(process.env.DEBUG);
  const ctx: CommandContext = { io, exitCode: EXIT.ok, debug };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'node' });
    return ctx.exitCode;
  } catch (error) {
    return reportError(error, io, debug);
  }
}

function reportError(error: unknown, io: CliIo, debug: boolean): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (help, version or the usage error).
    return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  }
  const code = exitCodeFor(error);
  io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (debug && error instanceof Error) io.stderr.write(`${describeWithCauses(error)}\n`);
  return code;
}

function describeWithCauses(error: Error): string {
  const parts = [error.stack ?? error.message];
  let cause = error.cause;
  while (cause instanceof Error) {
    parts.push(`caused by: ${cause.stack ?? cause.message}`);
    cause = cause.cause;
  }
  return parts.join('\n');
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
