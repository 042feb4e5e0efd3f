import type { OperatorTarget, PipelineHealth } from '../targets/types';
import { queueDepth, totalDepth, type QueueDepth } from './queues';

/**
 * status: per target, what runs and what waits — pipe, apply mapping, queue and DLQ depths, the
 * oldest queued change, last minute's throughput and lag — and warnings in plain words, each with
 * the command that addresses it. Parts that cannot be read are listed as unreachable.
 */
export type WarningSeverity = 'error' | 'warning';

export interface StatusWarning {
  readonly severity: WarningSeverity;
  /** Stable id for scripts: dlq-not-empty, apply-paused, mapping-not-enabled, pipe-not-running, stream-disabled, stream-replaced, queue-old. */
  readonly code: string;
  readonly text: string;
}

export interface TargetStatus {
  readonly target: string;
  readonly where: string;
  readonly pipe: PipelineHealth['pipe'] | null;
  readonly stream: PipelineHealth['stream'] | null;
  readonly mapping: { readonly id: string; readonly state: string } | null;
  readonly queue: QueueDepth | null;
  readonly dlq: QueueDepth | null;
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
  const [health, mappingState, queue, dlq] = await Promise.all([
    attempt('pipeline', () => target.health()),
    attempt('apply mapping', () => target.mapping.state()),
    attempt('queue', () => queueDepth(target.sqs, target.queueUrl)),
    attempt('DLQ', () => queueDepth(target.sqs, target.deadLetterQueueUrl)),
  ]);
  if (health !== null) unreachable.push(...health.unreachable);
  const status: Omit<TargetStatus, 'warnings'> = {
    target: target.name,
    where: target.where,
    pipe: health?.pipe ?? null,
    stream: health?.stream ?? null,
    mapping: mappingState === null ? null : { id: target.mapping.id, state: mappingState },
    queue,
    dlq,
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
    warnings.push({ severity: 'error', code: 'dlq-not-empty', text: `DLQ has ${n} message${n === 1 ? '' : 's'}: run \`ddb-replicate replay ${sel}\`` });
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
  return `${Math.floor(hours / 24)} days ${hours % 24} h`;
}
