import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { errorRef, type StructuredLogger } from './logger';

/**
 * The freeze (docs/disaster-recovery.md): once a target has been cut over (or failed over to), it
 * is the new primary and no replicated change may be written into it any more. The mark lives in
 * the replication's control table (`ddbrepl-<replication>-control`, source account and Region), one
 * item per target, key `target` = the target name. `ddb-replicate cutover|failover` sets it with a
 * PutItem — no redeploy — and the apply reads it with a strongly consistent GetItem, cached for a
 * short TTL. The apply role may read exactly its own target's item (dynamodb:LeadingKeys).
 *
 * A batch delivered while frozen is written nowhere and deleted nowhere: every message is reported
 * failed, so SQS keeps it (and after maxReceiveCount moves it to the DLQ, which keeps it 14 days).
 */
export const CONTROL_TABLE_KEY = 'target' as const;

/** The control table's fixed name, known to infra (which creates it) and to the CLI (which writes it). */
export function controlTableName(replicationName: string): string {
  return `ddbrepl-${replicationName}-control`;
}

/** How long the apply trusts a read of the mark. The CLI waits this plus the apply timeout after freezing. @default 10 s */
export const FREEZE_CACHE_TTL_MS = 10_000;

export interface FreezeState {
  readonly frozen: boolean;
  /** ISO time the mark was set; only when frozen. */
  readonly frozenAt?: string;
  /** 'cutover' | 'failover'; only when frozen. */
  readonly reason?: string;
}

export interface FreezeReader {
  /** The current mark (cached up to the TTL); throws when it cannot be read. */
  state(): Promise<FreezeState>;
}

/** Reads the mark of `targetName` from `tableName`; a missing item means not frozen. */
export async function readFreezeState(client: DynamoDBClient, tableName: string, targetName: string): Promise<FreezeState> {
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: { [CONTROL_TABLE_KEY]: { S: targetName } }, ConsistentRead: true }));
  const item = out.Item;
  if (item?.frozen?.BOOL !== true) return { frozen: false };
  return { frozen: true, ...(item.frozenAt?.S === undefined ? {} : { frozenAt: item.frozenAt.S }), ...(item.reason?.S === undefined ? {} : { reason: item.reason.S }) };
}

/** A reader that keeps a successful read for `ttlMs`; a failed read is not cached (the next batch tries again). */
export function cachedFreezeReader(read: () => Promise<FreezeState>, opts: { ttlMs?: number; now?: () => number } = {}): FreezeReader {
  const ttl = opts.ttlMs ?? FREEZE_CACHE_TTL_MS;
  const now = opts.now ?? (() => Date.now());
  let cached: { state: FreezeState; at: number } | undefined;
  return {
    async state() {
      if (cached !== undefined && now() - cached.at < ttl) return cached.state;
      const state = await read();
      cached = { state, at: now() };
      return state;
    },
  };
}

/**
 * Runs `apply` unless the target is frozen. Frozen, or the mark unreadable (fail closed: a new
 * primary must never take a stale write because a read failed): every message reported failed,
 * nothing written, nothing deleted.
 */
export async function applyUnlessFrozen(records: readonly SQSRecord[], freeze: FreezeReader | undefined, logger: StructuredLogger, apply: () => Promise<SQSBatchResponse>): Promise<SQSBatchResponse> {
  if (freeze === undefined) return apply();
  let state: FreezeState;
  try {
    state = await freeze.state();
  } catch (error) {
    logger.error('freeze mark unreadable; batch kept in the queue, nothing written', { messages: records.length, ...errorRef(error) });
    return keepAll(records);
  }
  if (!state.frozen) return apply();
  logger.warn('target is frozen; batch kept in the queue, nothing written', { messages: records.length, frozenAt: state.frozenAt, reason: state.reason });
  return keepAll(records);
}

function keepAll(records: readonly SQSRecord[]): SQSBatchResponse {
  return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
}
