import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../../infra/config';
import { BOOTSTRAP_ENGINES, runBootstrapCommand, type BootstrapCommandDeps, type BootstrapCommandOptions } from '../bootstrap/command';
import type { CommandContext } from '../index';

/**
 * `ddb-replicate bootstrap` — the initial load of one target (docs/architecture.md#initial-load). Argument parsing only;
 * the run is cli/bootstrap/command.ts, the sequence cli/bootstrap/orchestrator.ts.
 */
export function registerBootstrap(program: Command, ctx: CommandContext, deps: BootstrapCommandDeps = {}): void {
  program
    .command('bootstrap')
    .description('Initial load of one target: pause its apply, copy the source table (Glue job or direct), resume, wait for the buffered changes to drain.')
    .requiredOption('--target <name>', 'the target to load (a name from the config)')
    .addOption(new Option('--engine <engine>', 'scan (Glue, parallel Scan), export (Glue, native export; needs PITR) or direct (from this machine, for small tables); default: the config\'s initialLoad.engine').choices(BOOTSTRAP_ENGINES))
    .option('--segments <n>', 'parallel Scan segments (default: the config\'s, else the engine\'s own)', parseSegments)
    .option('--stack <name>', 'the replication stack (default: Ddbrepl-<replicationName>, as infra/app.ts names it)')
    .option('--region <region>', 'Region of the replication stack (default: the config\'s source.region)')
    .option('--config <file>', 'the replication config', DEFAULT_CONFIG_PATH)
    .option('--replication <name>', 'the replication (its replicationName); required when the config holds several')
    .option('--target-profile <profile>', 'engine direct: AWS profile with write access to the target table (default: the default credential chain)')
    .option('--dry-run', 'print the plan; change nothing')
    .option('--json', 'print one JSON line with the result on stdout (progress stays on stderr)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      `
The pipe buffers every change into the target's FIFO queue from deploy time on (14 days retention).
Bootstrap disables the apply's event source mapping, copies a snapshot, enables the mapping again:
the buffered changes replay over the snapshot and the target converges to the source.

Ctrl-C once: the copy is stopped, the mapping enabled again, and the state reported. Ctrl-C twice:
leave at once (the mapping may stay disabled; the message says how to check). Re-running bootstrap
is safe: the copy writes full-item puts, and every change made since replays after it.

Exit codes: 0 done; 1 failed (the message says what state things are in); 2 bad arguments or
config, nothing changed; 130 interrupted.`,
    )
    .action(async (opts: BootstrapCommandOptions) => {
      ctx.exitCode = await runBootstrapCommand(opts, ctx.io, deps);
    });
}

function parseSegments(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) throw new InvalidArgumentError('must be an integer from 1 to 1000000');
  return Number(value);
}
