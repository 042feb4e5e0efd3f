import { formatColumns } from '../table';
import type { OperatorTarget, PipelineHealth } from '../targets/types';
import { queueDepth, queueRedrive, totalDepth, type QueueDepth, type QueueRedrive } from './queues';

/**
 * status: per target, what runs and what waits — pipe, apply mapping, queue and DLQ depths, the
 * oldest queued change, last minute's throughput and lag — and warnings in plain words, each with
 * the command that addresses it. Parts that cannot be read are listed as unreachable.
 */
export type WarningSeverity = 'error' | 'warning';

export interface StatusWarning {
  readonly severity: WarningSeverity;
  /** Stable id for scripts: dlq-not-empty, apply-paused, mapping-not-enabled, pipe-not-running, stream-disabled, stream-replaced, queue-old, group-stuck. */
  readonly code: string;
  readonly text: string;
}

export interface TargetStatus {
  /** Set for deployed targets (a config may hold several replications). */
  readonly replication?: string;
  readonly target: string;
  readonly where: string;
  readonly pipe: PipelineHealth['pipe'] | null;
  readonly stream: PipelineHealth['stream'] | null;
  readonly mapping: { readonly id: string; readonly state: string } | null;
  readonly queue: QueueDepth | null;
  readonly dlq: QueueDepth | null;
  /** The target queue's visibility timeout and maxReceiveCount (how long a failing message can hold its group). */
  readonly queueRedrive: QueueRedrive | null;
  readonly oldestMessageAgeSeconds: number | null;
  readonly appliedLastMinute: number | null;
  readonly lagLastMinute: NonNullable<PipelineHealth['lagLastMinute']> | null;
  /** The sampled verification's latest run; null when it does not run (or has not yet). */
  readonly lastVerify?: NonNullable<PipelineHealth['lastVerify']> | null;
  readonly warnings: readonly StatusWarning[];
  readonly unreachable: readonly string[];
}

export async function targetStatus(target: OperatorTarget): Promise<TargetStatus> {
  const unreachable: string[] = [];
  const attempt = async <T>(what: string, call: () => Promise<T>): Promise<T | null> => {
    try {
      return await call();
    } catch (error) {
      unreachable.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };
  const [health, mappingState, queue, dlq, redrive] = await Promise.all([
    attempt('pipeline', () => target.health()),
    attempt('apply mapping', () => target.mapping.state()),
    attempt('queue', () => queueDepth(target.sqs, target.queueUrl)),
    attempt('DLQ', () => queueDepth(target.sqs, target.deadLetterQueueUrl)),
    attempt('queue settings', () => queueRedrive(target.sqs, target.queueUrl)),
  ]);
  if (health !== null) unreachable.push(...health.unreachable);
  const status: Omit<TargetStatus, 'warnings'> = {
    ...(target.replication === undefined ? {} : { replication: target.replication }),
    target: target.name,
    where: target.where,
    pipe: health?.pipe ?? null,
    stream: health?.stream ?? null,
    mapping: mappingState === null ? null : { id: target.mapping.id, state: mappingState },
    queue,
    dlq,
    queueRedrive: redrive,
    oldestMessageAgeSeconds: health?.oldestMessageAgeSeconds ?? null,
    appliedLastMinute: health?.appliedLastMinute ?? null,
    lagLastMinute: health?.lagLastMinute ?? null,
    lastVerify: health?.lastVerify ?? null,
    unreachable,
  };
  return { ...status, warnings: statusWarnings(status, target) };
}

/** The warnings a status implies; pure, so the wording is unit-tested. */
export function statusWarnings(status: Omit<TargetStatus, 'warnings'>, target: Pick<OperatorTarget, 'selector' | 'retentionSeconds'>): StatusWarning[] {
  const warnings: StatusWarning[] = [];
  const sel = target.selector;
  const { stream, pipe, mapping, dlq, oldestMessageAgeSeconds } = status;
  if (stream !== null && stream !== undefined) {
    if (!stream.enabled) {
      warnings.push({ severity: 'error', code: 'stream-disabled', text: 'the source table\'s stream is disabled: the pipe can never recover, even if the stream is enabled again (a new stream has a new ARN); see the README, "Source stream disabled", to redeploy with the new stream and bootstrap again' });
    } else if (stream.pipeStreamArn !== undefined && stream.currentStreamArn !== undefined && stream.pipeStreamArn !== stream.currentStreamArn) {
      warnings.push({ severity: 'error', code: 'stream-replaced', text: `the pipe reads stream ${stream.pipeStreamArn}, but the source table's current stream is ${stream.currentStreamArn}: the pipe can never recover; see the README, "Source stream disabled", to redeploy with the new stream ARN and bootstrap again` });
    }
  }
  if (pipe !== null && pipe.state !== 'RUNNING' && pipe.state !== 'UNKNOWN') {
    warnings.push({ severity: pipe.state.endsWith('FAILED') || pipe.state === 'STOPPED' ? 'error' : 'warning', code: 'pipe-not-running', text: `pipe ${pipe.name} is ${pipe.state}${pipe.reason === undefined ? '' : ` (${pipe.reason})`}: changes are not read from the stream${pipe.state === 'STOPPED' ? '; start it with `aws pipes start-pipe --name ' + pipe.name + '` (records older than 24 h are gone from the stream: then run `ddb-replicate verify ' + sel + ' --repair`)' : ''}` });
  }
  if (mapping !== null) {
    if (mapping.state === 'Disabled' || mapping.state === 'Disabling') {
      warnings.push({ severity: 'warning', code: 'apply-paused', text: `apply is paused: run \`ddb-replicate resume ${sel}\`` });
    } else if (mapping.state !== 'Enabled') {
      warnings.push({ severity: 'warning', code: 'mapping-not-enabled', text: `the apply's event source mapping ${mapping.id} is ${mapping.state}` });
    }
  }
  if (dlq !== null && totalDepth(dlq) > 0) {
    const n = totalDepth(dlq);
    // Replay re-reads each message's item; a message it cannot decode names no item, so it stays (listed by id).
    warnings.push({ severity: 'error', code: 'dlq-not-empty', text: `DLQ has ${n} message${n === 1 ? '' : 's'}: run \`ddb-replicate replay ${sel}\`; any it cannot decode stay in the DLQ, listed by message id: they name no item, so inspect them (\`aws sqs receive-message\`), then delete them` });
  }
  // A FIFO message that keeps failing holds its group for up to maxReceiveCount × visibility timeout. No
  // read-only way names the group from SQS (receiving a FIFO message locks its group and counts as a
  // receive), so the warning points at the apply's log, which names the groupId of every failure.
  const redrive = status.queueRedrive;
  if (redrive !== null && mapping?.state === 'Enabled' && oldestMessageAgeSeconds !== null && oldestMessageAgeSeconds > redrive.visibilityTimeoutSeconds) {
    const v = redrive.visibilityTimeoutSeconds;
    const bound = redrive.maxReceiveCount === undefined ? '' : ` It moves to the DLQ after at most ${redrive.maxReceiveCount} receives × ${formatDuration(v)} = ${formatDuration(redrive.maxReceiveCount * v)}.`;
    warnings.push({
      severity: 'warning',
      code: 'group-stuck',
      text: `the oldest queued change has waited ${formatDuration(oldestMessageAgeSeconds)}, longer than one visibility timeout (${formatDuration(v)}), while apply runs: a message that keeps failing is probably holding its item's group (every later change of that item waits behind it; other items keep flowing).${bound} To name the group, run the Logs Insights query in docs/operating.md ("A message that keeps failing") on the apply function's log group; once it is in the DLQ, run \`ddb-replicate replay ${sel}\``,
    });
  }
  if (oldestMessageAgeSeconds !== null && oldestMessageAgeSeconds > target.retentionSeconds / 2) {
    warnings.push({ severity: 'error', code: 'queue-old', text: `the oldest queued change is ${formatDuration(oldestMessageAgeSeconds)} old; SQS drops messages after ${formatDuration(target.retentionSeconds)}${mapping?.state === 'Enabled' ? '' : `: run \`ddb-replicate resume ${sel}\``}` });
  }
  return warnings;
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 48) return `${hours} h ${Math.round((seconds % 3600) / 60)} min`;
  const days = Math.floor(hours / 24);
  return `${days} day${days === 1 ? '' : 's'}${hours % 24 === 0 ? '' : ` ${hours % 24} h`}`;
}

/**
 * Every replication and target in one table (`status` without --target): one row each, with the
 * figures an operator scans for first; the warnings follow the table, each naming its target.
 */
export function statusSummaryTable(statuses: readonly TargetStatus[], unresolved: readonly { replication?: string; name: string; error: string }[]): string {
  const depthOf = (d: QueueDepth | null): string => (d === null ? '?' : String(totalDepth(d)));
  const rows: string[][] = [
    ['REPLICATION', 'TARGET', 'PIPE', 'APPLY', 'QUEUE', 'DLQ', 'OLDEST', 'LAG P99', 'WARNINGS'],
    ...statuses.map((s) => [
      s.replication ?? '-',
      s.target,
      s.pipe?.state ?? '?',
      s.mapping?.state ?? '?',
      depthOf(s.queue),
      depthOf(s.dlq),
      s.oldestMessageAgeSeconds === null ? '?' : formatDuration(s.oldestMessageAgeSeconds),
      s.lagLastMinute?.p99Ms === undefined ? '-' : `${Math.round(s.lagLastMinute.p99Ms)} ms`,
      s.unreachable.length > 0 ? `${s.warnings.length} (+${s.unreachable.length} unreadable)` : String(s.warnings.length),
    ]),
    ...unresolved.map((u) => [u.replication ?? '-', u.name, 'not resolved', '?', '?', '?', '?', '?', '?']),
  ];
  const lines = [formatColumns(rows)];
  const label = (s: { replication?: string }, name: string): string => (s.replication === undefined ? name : `${s.replication}/${name}`);
  for (const s of statuses) {
    for (const w of s.warnings) lines.push(`${w.severity === 'error' ? '✗' : '!'} ${label(s, s.target)}: ${w.text}`);
    for (const u of s.unreachable) lines.push(`? ${label(s, s.target)}: could not read ${u}`);
  }
  for (const u of unresolved) lines.push(`? ${label(u, u.name)}: ${u.error}`);
  return `${lines.join('\n')}\n`;
}
