import type { Command } from 'commander';
import { loadConfigs, selectReplication } from '../targets/aws';
import { CUTOVER_STEPS, runCutover, type CutoverEvent, type CutoverRecord } from '../dr/cutover';
import { cutoverPorts, resolveDrTarget } from '../dr/ports';
import { partialViewReason } from '../dr/reverse';
import { CliError, EXIT } from '../errors';
import type { CommandContext } from '../index';
import { parseFraction, parsePositiveInt, withInterrupt, writeJson } from '../operator/args';
import { addTargetOptions, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate cutover` — planned switch to a target (cli/dr/cutover.ts, docs/disaster-recovery.md). */
interface CutoverCommandOptions extends TargetSelection {
  writesStopped?: boolean;
  quietSeconds: number;
  allowDlq?: boolean;
  maxLagSeconds: number;
  sample?: number;
  drainTimeoutMinutes: number;
  json?: boolean;
}

export function registerCutover(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('cutover')
      .description('Planned switch to a target (migration, DR drill): check, wait for writes to stop, drain, verify, freeze the target; resumable.'),
    { targetProfile: true },
  )
    .option('--writes-stopped', 'application writes to the source have stopped (else: wait until the source stream is quiet)')
    .option('--quiet-seconds <n>', 'without --writes-stopped: how long the stream must show no new record', parsePositiveInt(3600), 60)
    .option('--allow-dlq', 'go on with messages in the DLQ (after `replay`, or when they are known to be obsolete)')
    .option('--max-lag-seconds <n>', 'the check fails above this replication lag / oldest queued change', parsePositiveInt(86_400), 60)
    .option('--sample <fraction>', 'verify this fraction of the items instead of all (e.g. 0.05)', parseFraction)
    .option('--drain-timeout-minutes <n>', 'give up draining after this long (run cutover again to continue)', parsePositiveInt(1440), 30)
    .option('--json', 'print the cutover record as one JSON line on stdout')
    .addHelpText(
      'after',
      `
Steps (each shown with progress, each recorded once done in .ddb-replicate/cutover-<replication>-<target>.json):
  1 check           pipe RUNNING, apply mapping Enabled, DLQ empty (or --allow-dlq), lag under --max-lag-seconds
  2 writes-stopped  --writes-stopped, or wait until the source stream shows no new record for --quiet-seconds
  3 drain           queue empty and the newest stream record's item applied to the target
  4 verify          target == source (every item, or --sample)
  5 freeze          mark the target frozen (control table; the apply then writes nothing more),
                    disable its apply mapping, wait until every apply has seen the mark
Interrupted or stopped by a failed step: fix what it says and run the same command again; the steps
already done are skipped. Delete the record file to start over.

Exit codes: 0 cut over; 1 a step stopped (nothing after it ran); 2 bad arguments; 130 interrupted.

Examples:
  $ ddb-replicate cutover --target dr --target-profile dr-readonly
  $ ddb-replicate cutover --replication orders --target dr --writes-stopped --sample 0.1
  $ ddb-replicate cutover --local --writes-stopped`,
    )
    .action(async (opts: CutoverCommandOptions) => {
      if (opts.local === undefined || opts.local === false) refusePartialView(opts, ctx);
      const dr = await resolveDrTarget(opts, ctx.io);
      try {
        const onEvent = (e: CutoverEvent): void => {
          ctx.io.stderr.write(`[${CUTOVER_STEPS.indexOf(e.step) + 1}/${CUTOVER_STEPS.length} ${e.step}] ${e.status === 'progress' ? '' : `${e.status}: `}${e.message}\n`);
        };
        const record = await withInterrupt(ctx.io, 'step (the cutover resumes from there when run again)', (signal) => runCutover(cutoverPorts(dr, { signal }), {
          writesStopped: opts.writesStopped === true,
          quietMs: opts.quietSeconds * 1000,
          allowDlq: opts.allowDlq === true,
          maxLagMs: opts.maxLagSeconds * 1000,
          drainTimeoutMs: opts.drainTimeoutMinutes * 60_000,
          ...(opts.sample === undefined ? {} : { sample: opts.sample }),
          signal,
          onEvent,
        }));
        if (opts.json === true) writeJson(ctx.io, { ...record, recordFile: dr.recordFile('cutover') });
        else ctx.io.stdout.write(nextSteps(record, dr.target.selector, dr.target.target.description));
        ctx.exitCode = EXIT.ok;
      } finally {
        dr.close();
      }
    });
}

/**
 * A target that receives a filtered or redacted view is no copy of the source: it cannot become
 * the primary (and the drain's check compares whole items).
 */
function refusePartialView(opts: CutoverCommandOptions, ctx: CommandContext): void {
  if (opts.target === undefined) return; // resolveTarget reports the missing --target
  const config = selectReplication(loadConfigs({ ...opts, notice: (line) => ctx.io.stderr.write(`${line}\n`) }), opts.replication);
  const target = config.targets.find((t) => t.name === opts.target);
  if (target === undefined) return;
  const partial = partialViewReason(target);
  if (partial !== undefined) throw new CliError(`${partial}: it is not a full copy of ${config.source.tableName} and cannot become the primary`, EXIT.badInput);
}

function nextSteps(record: CutoverRecord, selector: string, targetTable: string): string {
  return [
    `cutover of ${record.replication === undefined ? '' : `${record.replication}/`}${record.target} complete: ${targetTable} is frozen (since ${record.steps.freeze?.frozenAt}) and holds everything the source had.`,
    'Next:',
    `  1. point the application at ${targetTable} and let it write there;`,
    `  2. keep the old source read-only (or stop writing to it): nothing replicates from it into the target any more;`,
    `  3. optionally replicate back (failback later): \`ddb-replicate reverse ${selector}\` writes the config for the way back;`,
    `  4. the record of this cutover: \`ddb-replicate cutover ${selector} --json\` prints it again.`,
    '',
  ].join('\n');
}
