import { Command, CommanderError } from 'commander';
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

/**
 * Every command: its name and its registration, loaded on demand. A command's module brings what it
 * needs (local mode brings aws-cdk-lib and the emulators; bootstrap the Glue and CloudWatch clients):
 * loading all of them cost every command ~35 MB and ~0.5 s, which `verify`'s memory bound cannot
 * spare (docs/decisions.md). `ddb-replicate <command>` loads that command's module only; the full
 * help and an unknown command load all. test/unit/cli-commands.test.ts holds each name to the
 * command its module registers.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, see above */
export const COMMANDS: readonly { readonly name: string; readonly load: () => CommandRegistration }[] = [
  { name: 'local', load: () => (require('./local/command') as typeof import('./local/command')).registerLocal },
  { name: 'bootstrap', load: () => (require('./commands/bootstrap') as typeof import('./commands/bootstrap')).registerBootstrap },
  { name: 'replay', load: () => (require('./commands/replay') as typeof import('./commands/replay')).registerReplay },
  { name: 'verify', load: () => (require('./commands/verify') as typeof import('./commands/verify')).registerVerify },
  { name: 'status', load: () => (require('./commands/status') as typeof import('./commands/status')).registerStatus },
  { name: 'pause', load: () => (require('./commands/pause') as typeof import('./commands/pause')).registerPause },
  { name: 'resume', load: () => (require('./commands/resume') as typeof import('./commands/resume')).registerResume },
  { name: 'cutover', load: () => (require('./commands/cutover') as typeof import('./commands/cutover')).registerCutover },
  { name: 'reverse', load: () => (require('./commands/reverse') as typeof import('./commands/reverse')).registerReverse },
  { name: 'failover', load: () => (require('./commands/failover') as typeof import('./commands/failover')).registerFailover },
  { name: 'plan', load: () => (require('./commands/plan') as typeof import('./commands/plan')).registerPlan },
];
/* eslint-enable @typescript-eslint/no-require-imports */

// The version lives in package.json, once.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- read at run time from the package root; an import would pull package.json into the TypeScript program
const { version } = require('../package.json') as { version: string };

/**
 * The commander program. With `command` (a name from COMMANDS) only that command is registered;
 * otherwise (the full help, an unknown command) every command.
 */
export function buildProgram(ctx: CommandContext, command?: string): Command {
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
  const only = COMMANDS.filter((c) => c.name === command);
  for (const { load } of only.length === 1 ? only : COMMANDS) load()(program, ctx);
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
  const program = buildProgram(ctx, commandName(argv));
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

/** The command word of `argv`: the first argument after the script that is not an option (the program's own options take no value). */
function commandName(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
