import type { Command } from 'commander';
import { formatMs } from '../../common/format';
import { formatTable } from '../table';
import type { CommandContext } from '../index';
import { EXIT } from '../errors';
import { writeJson } from '../operator/args';
import { totalDepth, type QueueDepth } from '../operator/queues';
import { formatDuration, statusSummaryTable, targetStatus, type TargetStatus } from '../operator/status';
import { addTargetOptions, resolveTargets, type TargetSelection } from '../targets/resolve';

/** `ddb-replicate status` — health of one or every target (cli/operator/status.ts). */
interface StatusCommandOptions extends TargetSelection {
  json?: boolean;
  failOnWarning?: boolean;
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  addTargetOptions(
    program
      .command('status')
      .description('Show each target\'s pipe, apply mapping, queue and DLQ depth, oldest queued change, last minute\'s throughput and lag, and what needs doing.'),
  )
    .option('--json', 'print one JSON line with every target\'s status on stdout')
    .option('--fail-on-warning', 'exit 1 when there is any warning (for cron jobs and CI)')
    .addHelpText(
      'after',
      `
Without --target: every target of every replication in the config (or of --replication), one
row each in one table, the warnings below it. Queue depths come from SQS; the oldest message's
age, throughput and lag from CloudWatch (1-minute metrics, a minute or two behind), locally from
the session's own counters.

Exit codes: 0 the status was read (warnings or not, unless --fail-on-warning); 1 a part could not
be read (listed as unreachable), or --fail-on-warning and there are warnings; 2 bad arguments.

Examples:
  $ ddb-replicate status
  $ ddb-replicate status --target dr --json
  $ ddb-replicate status --replication orders --target dr
  $ ddb-replicate status --local`,
    )
    .action(async (opts: StatusCommandOptions) => {
      const { targets, unresolved } = await resolveTargets(opts, ctx.io);
      try {
        const statuses = await Promise.all(targets.map((t) => targetStatus(t)));
        if (opts.json === true) writeJson(ctx.io, { targets: statuses, ...(unresolved.length > 0 ? { unresolved } : {}) });
        else if (statuses.length + unresolved.length > 1) ctx.io.stdout.write(statusSummaryTable(statuses, unresolved));
        else ctx.io.stdout.write([...statuses.map((s) => describe(s)), ...unresolved.map((u) => `target ${u.name}\n  ? ${u.error}\n`)].join('\n'));
        const unreachable = unresolved.length > 0 || statuses.some((s) => s.unreachable.length > 0);
        const warned = statuses.some((s) => s.warnings.length > 0);
        ctx.exitCode = unreachable || (opts.failOnWarning === true && warned) ? EXIT.failure : EXIT.ok;
      } finally {
        targets.forEach((t) => t.close());
      }
    });
}

const depth = (d: QueueDepth | null): string =>
  d === null ? 'unreachable' : `${totalDepth(d)} (${d.visible} visible, ${d.inFlight} in flight${d.delayed > 0 ? `, ${d.delayed} delayed` : ''})`;

function describe(s: TargetStatus): string {
  const lag = s.lagLastMinute === null ? 'unknown'
    : s.lagLastMinute.p99Ms === undefined && s.lagLastMinute.maxMs === undefined ? 'no samples (nothing applied, or only RESYNCs, which carry no source write time)'
      : `p99 ${formatMs(s.lagLastMinute.p99Ms ?? null)}, max ${formatMs(s.lagLastMinute.maxMs ?? null)}`;
  const rows: [string, string][] = [
    ['pipe', s.pipe === null ? 'unreachable' : `${s.pipe.name}: ${s.pipe.state}${s.pipe.reason === undefined ? '' : ` (${s.pipe.reason})`}`],
    ...(s.stream === null || s.stream === undefined ? [] : [['source stream', s.stream.enabled ? 'enabled' : 'DISABLED'] as [string, string]]),
    ['apply mapping', s.mapping === null ? 'unreachable' : `${s.mapping.state} (${s.mapping.id})`],
    ['queue', depth(s.queue)],
    ['DLQ', depth(s.dlq)],
    ['oldest message', s.oldestMessageAgeSeconds === null ? 'unknown' : formatDuration(s.oldestMessageAgeSeconds)],
    ['applied (1 min)', s.appliedLastMinute === null ? 'unknown' : String(s.appliedLastMinute)],
    ...(s.lastVerify === null || s.lastVerify === undefined ? [] : [['sampled verify', `${s.lastVerify.mismatches === 0 ? '✓ no mismatches' : `✗ ${s.lastVerify.mismatches} mismatches`} in ${s.lastVerify.sampled} items (last run ${s.lastVerify.at})`] as [string, string]]),
    ['lag (1 min)', lag],
  ];
  const lines = [`target ${s.target} (${s.where})`, formatTable(rows)];
  if (s.warnings.length === 0 && s.unreachable.length === 0) lines.push('  ✓ no warnings');
  for (const w of s.warnings) lines.push(`  ${w.severity === 'error' ? '✗' : '!'} ${w.text}`);
  for (const u of s.unreachable) lines.push(`  ? could not read ${u}`);
  return `${lines.join('\n')}\n`;
}
