import { join } from 'node:path';
import type { Command } from 'commander';
import { runFailover, runReconcile, type FailoverRecord } from '../dr/failover';
import { DR_STATE_DIR, failoverPorts, readRecord, reconcilePorts, resolveDrTarget, type DrTarget } from '../dr/ports';
import { CliError, EXIT } from '../errors';
import type { CommandContext } from '../index';
import { writeJson } from '../operator/args';
import { operatorTargetTableClient } from '../aws/deployed-target';
import { stateTableName } from '../../handlers/core/replication-state';
import { findTarget, loadConfigs, selectReplication } from '../targets/aws';
import type { TableRef } from '../targets/types';
import { addTargetOptions, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate failover` — unplanned switch to a target (cli/dr/failover.ts, docs/disaster-recovery.md). */
interface FailoverCommandOptions extends TargetSelection {
  reconcile?: boolean;
  json?: boolean;
}

export function registerFailover(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('failover')
      .description('Unplanned switch to a target while the source side is down: freeze it first, report what may be missing, record it; --reconcile lists what the target lacks once the source is back.'),
    { targetProfile: true },
  )
    .option('--reconcile', 'once the source is back: list the keys changed on the source (its stream, 24 h) whose item the target lacks or holds differently; writes nothing')
    .option('--json', 'print the record (or the reconcile list) as one JSON line on stdout')
    .addHelpText(
      'after',
      `
failover sets the target's freeze mark (control table, source account) and disables its apply
mapping — each attempted, and recorded as "unreachable: …" when the source side is down, which
does not stop the failover. Run it again as soon as the source account answers: before anything
else, it sets what it could not (the apply runs in the source account, so it cannot write while
that account is down). It then reports the last change applied to the target and the last sampled
verify, from the target's state table ddbrepl-<replication>-<target>-state in the target account
(read with --target-profile: it needs dynamodb:GetItem there, nothing in the source account), and
the queue and DLQ depths. The record is .ddb-replicate/failover-<replication>-<target>.json.

Exit codes: 0 failed over (the record says what was unreachable) / reconcile: the target lacks
nothing; 1 reconcile found keys the target lacks, or a failure; 2 bad arguments.

Examples:
  $ ddb-replicate failover --target dr
  $ ddb-replicate failover --target dr --reconcile --target-profile dr-readonly --json
  $ ddb-replicate failover --local`,
    )
    .action(async (opts: FailoverCommandOptions) => {
      if (opts.reconcile === true) {
        await reconcile(opts, ctx);
        return;
      }
      let dr: DrTarget | undefined;
      let unresolved: unknown;
      try {
        dr = await resolveDrTarget(opts, ctx.io);
      } catch (error) {
        // Bad arguments are the operator's to fix; an unreachable source side is what failover is for.
        if (error instanceof CliError && error.exitCode === EXIT.badInput) throw error;
        unresolved = error;
      }
      let names: { target: string; replication?: string; recordFile: string; stateTable?: TableRef } | undefined;
      try {
        names = dr !== undefined
          ? { target: dr.target.name, ...(dr.target.kind === 'aws' ? { replication: dr.replication } : {}), recordFile: dr.recordFile('failover') }
          : awsNames(opts, ctx);
        const record = await runFailover(failoverPorts(dr, names, unresolved));
        if (opts.json === true) writeJson(ctx.io, { ...record, recordFile: names.recordFile });
        else ctx.io.stdout.write(describe(record, names.recordFile, dr?.target.selector ?? `--target ${names.target}`));
        ctx.exitCode = EXIT.ok;
      } finally {
        dr?.close();
        names?.stateTable?.client.destroy();
      }
    });
}

/**
 * Names for the record when the stack could not be read: from the config alone — and the target's
 * state table, which needs only the target account (`--target-profile`).
 */
function awsNames(opts: FailoverCommandOptions, ctx: CommandContext): { target: string; replication: string; recordFile: string; stateTable: TableRef } {
  if (opts.target === undefined) throw new CliError('--target is required (or --local for a kept local session)', EXIT.badInput);
  const config = selectReplication(loadConfigs({ ...opts, notice: (line) => ctx.io.stderr.write(`${line}\n`) }), opts.replication);
  const target = findTarget(config, opts.target);
  const stateTable = stateTableName(config.replicationName, target.name);
  return {
    target: opts.target,
    replication: config.replicationName,
    recordFile: join(DR_STATE_DIR, `failover-${config.replicationName}-${opts.target}.json`),
    stateTable: { client: operatorTargetTableClient(target, opts.targetProfile), tableName: stateTable, description: `state table ${stateTable} (${target.account}, ${target.region})` },
  };
}

function describe(r: FailoverRecord, file: string, selector: string): string {
  const buffered = 'unreachable' in r.buffered
    ? `unknown (queue unreachable: ${r.buffered.unreachable}) — changes the pipe had delivered wait there for up to 14 days`
    : `${r.buffered.queue} change(s) in the queue and ${r.buffered.dlq} in the DLQ, never applied to the target`;
  const lines = [
    `failover of ${r.replication === undefined ? '' : `${r.replication}/`}${r.target} recorded at ${r.failoverAt} (${file})`,
    `  freeze mark:   ${r.mark}`,
    `  apply mapping: ${r.mapping}`,
    `  not applied:   ${buffered}`,
    `  last applied:  ${describeLastApplied(r.lastApplied)}`,
    `  last sampled verify: ${describeLastVerify(r.lastSampledVerify)}`,
    'Next:',
    '  1. point the application at the target table and let it write there;',
  ];
  if (r.mark !== 'set' || !r.mapping.startsWith('Disabled')) {
    lines.push(`  2. as soon as the source account answers, run \`ddb-replicate failover ${selector}\` again: it freezes what it could not now;`);
  }
  lines.push(`  then: \`ddb-replicate failover ${selector} --reconcile\` lists the changes the target lacks; \`ddb-replicate reverse ${selector}\` writes the failback config.`, '');
  return lines.join('\n');
}

function describeLastApplied(last: FailoverRecord['lastApplied']): string {
  if (last === undefined) return 'not read';
  if (last === null) return 'none recorded (no change applied since the state table exists)';
  if ('unreachable' in last) return `unknown (state table unreachable: ${last.unreachable})`;
  // "As recorded": a state write can fail (ApplyStateWriteFailed) while its batch was applied.
  return `the change of ${last.approximateCreationDateTime}, sequence number ${last.sequenceNumber}${last.eventId === undefined ? '' : ` (event ${last.eventId})`}, as recorded at ${last.appliedAt} — changes after it may be missing`;
}

function describeLastVerify(last: FailoverRecord['lastSampledVerify']): string {
  if (last === undefined) return 'not read';
  if (last === null) return 'none recorded (continuousVerify is off for this target, or has not run yet)';
  if ('unreachable' in last) return `unknown (state table unreachable: ${last.unreachable})`;
  return `${last.at}: ${last.mismatches} mismatch(es) in ${last.sampled} sampled item(s)${last.repaired > 0 ? `, ${last.repaired} repair(s) enqueued` : ''}`;
}

async function reconcile(opts: FailoverCommandOptions, ctx: CommandContext): Promise<void> {
  const dr = await resolveDrTarget(opts, ctx.io);
  try {
    // The failover point: this machine's record, else the freeze mark's time (failover run elsewhere).
    const failoverAt = readRecord<FailoverRecord>(dr.recordFile('failover'))?.failoverAt ?? (await failoverPorts(dr, { target: dr.target.name, recordFile: dr.recordFile('failover') }).readFreeze()).frozenAt;
    if (failoverAt === undefined) throw new CliError(`no failover recorded for this target (${dr.recordFile('failover')}) and it is not frozen; run \`ddb-replicate failover ${dr.target.selector}\` first`, EXIT.badInput);
    const result = await runReconcile(reconcilePorts(dr), failoverAt);
    if (opts.json === true) writeJson(ctx.io, { target: dr.target.name, failoverAt, ...result });
    else {
      const lines = [`${result.changedKeys} key(s) changed in the source stream; the target lacks ${result.entries.length}:`];
      for (const e of result.entries) lines.push(`  ${e.kind.padEnd(9)} ${JSON.stringify(e.keys)}  last source change ${e.lastAt ?? '?'} seq ${e.lastSequence}${e.afterFailover ? ' (after the failover)' : ''}`);
      lines.push('Nothing was written: decide per key (copy from the source, or keep the target\'s).', '');
      ctx.io.stdout.write(lines.join('\n'));
    }
    ctx.exitCode = result.entries.length > 0 ? EXIT.failure : EXIT.ok;
  } finally {
    dr.close();
  }
}
