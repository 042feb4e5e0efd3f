import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, EXIT } from '../errors';
import type { OperatorTarget } from '../targets/types';
import { queueDepth, totalDepth } from './queues';
import { formatDuration } from './status';

/**
 * pause / resume: disable or enable the apply's event source mapping and wait until its state
 * settles (Lambda goes Disabling → Disabled, Enabling → Enabled, taking up to a minute or so).
 * While paused the pipe keeps buffering changes into the queue, for up to its retention period.
 */
export interface SetApplyOptions {
  readonly target: Pick<OperatorTarget, 'mapping'>;
  readonly enabled: boolean;
  /** @default 300000 */
  readonly timeoutMs?: number;
  /** @default 2000 */
  readonly pollIntervalMs?: number;
  readonly onState?: (state: string) => void;
}

export interface SetApplyResult {
  readonly state: string;
  /** The mapping was already in the wanted state: nothing was changed. */
  readonly unchanged: boolean;
  readonly seconds: number;
}

export async function setApplyEnabled(opts: SetApplyOptions): Promise<SetApplyResult> {
  const wanted = opts.enabled ? 'Enabled' : 'Disabled';
  const started = Date.now();
  const { mapping } = opts.target;
  const before = await mapping.state();
  if (before === wanted) return { state: before, unchanged: true, seconds: 0 };
  await mapping.setEnabled(opts.enabled);
  const deadline = started + (opts.timeoutMs ?? 300_000);
  for (;;) {
    const state = await mapping.state();
    opts.onState?.(state);
    if (state === wanted) return { state, unchanged: false, seconds: (Date.now() - started) / 1000 };
    if (Date.now() > deadline) {
      throw new CliError(`the event source mapping ${mapping.id} is still ${state} after ${formatDuration((Date.now() - started) / 1000)} (wanted ${wanted}); check it with \`aws lambda get-event-source-mapping --uuid ${mapping.id}\``, EXIT.failure);
    }
    await sleep(opts.pollIntervalMs ?? 2000);
  }
}

export interface BufferEstimate {
  readonly queued: number | null;
  readonly oldestMessageAgeSeconds: number | null;
  /** Retention minus the oldest message's age: how long the queue can keep buffering before SQS drops changes. */
  readonly bufferSeconds: number | null;
  readonly retentionSeconds: number;
  readonly unreachable: readonly string[];
}

/** How long the queue can buffer while the apply is paused. */
export async function bufferEstimate(target: Pick<OperatorTarget, 'sqs' | 'queueUrl' | 'retentionSeconds' | 'health'>): Promise<BufferEstimate> {
  const unreachable: string[] = [];
  const [depth, health] = await Promise.all([
    queueDepth(target.sqs, target.queueUrl).catch((error: unknown) => {
      unreachable.push(error instanceof Error ? error.message : String(error));
      return null;
    }),
    target.health().catch((error: unknown) => {
      unreachable.push(error instanceof Error ? error.message : String(error));
      return null;
    }),
  ]);
  if (health !== null) unreachable.push(...health.unreachable);
  const queued = depth === null ? null : totalDepth(depth);
  // An empty queue has no oldest message: the whole retention is available.
  const oldest = health?.oldestMessageAgeSeconds ?? (queued === 0 ? 0 : null);
  return {
    queued,
    oldestMessageAgeSeconds: oldest,
    bufferSeconds: oldest === null ? null : Math.max(0, target.retentionSeconds - oldest),
    retentionSeconds: target.retentionSeconds,
    unreachable,
  };
}
