import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { canonicalKey, toSdkAttributeMap } from './attribute-value';
import { writeItems, type WriteItemsOptions } from './batch-writer';
import { coalesceChanges } from './coalesce';
import { decodeEnvelope, type ChangeEnvelope } from './envelope';
import { ENV, intEnv, optionalEnv, requireEnv } from './env';
import { parseKeySchema, type KeySchema } from './key-schema';
import { newestChange, recordLastApplied } from './replication-state';
import { changeRef, errorRef, type StructuredLogger } from './logger';
import type { ReplicationMetrics } from './metrics';
import { resyncWriteRequest } from './resync';
import { targetPolicyFromEnv, type TargetPolicy } from './target-policy';
import { DEFAULT_VISIBILITY_BACKOFF, shortenVisibility, type VisibilityBackoff } from './visibility-backoff';

export interface ApplyConfig {
  /** The metrics' Replication dimension. */
  replicationName: string;
  targetName: string;
  sourceTableName: string;
  sourceRegion: string;
  targetTableName: string;
  targetRegion: string;
  targetRoleArn: string;
  targetExternalId: string;
  keySchema: KeySchema;
  /**
   * This target's filter and redaction (TARGET_FILTER, TARGET_REDACTION): a RESYNC writes the item's
   * view for this target, never the raw source item. Unset = every item, as is.
   */
  policy?: TargetPolicy;
  /** How soon a failed message is retried (ChangeMessageVisibility). @default DEFAULT_VISIBILITY_BACKOFF */
  visibilityBackoff?: VisibilityBackoff;
  /** The replication state table in the target account (STATE_TABLE_NAME); unset = the last applied change is not recorded. */
  stateTableName?: string;
}

export function applyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApplyConfig {
  const keySchema = parseKeySchema(requireEnv(ENV.keySchema, env));
  return {
    replicationName: requireEnv(ENV.replicationName, env),
    targetName: requireEnv(ENV.targetName, env),
    sourceTableName: requireEnv(ENV.sourceTableName, env),
    sourceRegion: requireEnv(ENV.sourceRegion, env),
    targetTableName: requireEnv(ENV.targetTableName, env),
    targetRegion: requireEnv(ENV.targetRegion, env),
    targetRoleArn: requireEnv(ENV.targetRoleArn, env),
    targetExternalId: requireEnv(ENV.targetExternalId, env),
    keySchema,
    policy: targetPolicyFromEnv(keySchema, env),
    visibilityBackoff: { ...DEFAULT_VISIBILITY_BACKOFF, maxSeconds: intEnv(ENV.visibilityBackoffMaxSeconds, DEFAULT_VISIBILITY_BACKOFF.maxSeconds, env) },
    ...(optionalEnv(ENV.stateTableName, '', env) === '' ? {} : { stateTableName: optionalEnv(ENV.stateTableName, '', env) }),
  };
}

export interface ApplyDeps {
  config: Pick<ApplyConfig, 'sourceTableName' | 'targetTableName' | 'keySchema' | 'policy' | 'visibilityBackoff' | 'stateTableName'>;
  /** Writes to the target table and the state table (assumed-role credentials). */
  targetClient: DynamoDBClient;
  /** Reads the source table for RESYNCs (the function's own credentials, source Region). */
  sourceClient: DynamoDBClient;
  /** Shortens failed messages' visibility (the function's own role, its own queue); unset = no backoff. */
  sqsClient?: SQSClient;
  metrics: ReplicationMetrics;
  logger: StructuredLogger;
  /** @default Date.now */
  now?: () => number;
  /** Time kept back from the Lambda deadline to report results. @default 3000 */
  safetyMarginMs?: number;
  /** Backoff knobs for tests and tuning. */
  writeOptions?: Pick<WriteItemsOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'sleep' | 'random'>;
}

/** Why a message is reported failed; for logs. */
type FailureReason = 'invalid' | 'earlier-in-group' | 'resync-read' | 'write';

interface Message {
  record: SQSRecord;
  group: string;
  envelope?: ChangeEnvelope;
  failure?: FailureReason;
}

/**
 * Applies one SQS FIFO batch (docs/architecture.md#apply). Every message is either written (directly or
 * through a later change to the same item that superseded it) or reported in batchItemFailures —
 * and once a message of a group fails, every later message of that group fails too, so a retry
 * can never apply a group's changes out of order. Other groups are unaffected.
 */
export async function applyBatch(records: readonly SQSRecord[], remainingTimeMs: number, deps: ApplyDeps): Promise<SQSBatchResponse> {
  const now = deps.now ?? Date.now;
  const { logger, config } = deps;
  const deadline = now() + remainingTimeMs - (deps.safetyMarginMs ?? 3000);

  const messages: Message[] = records.map((record) => {
    try {
      const envelope = decodeEnvelope(record.body);
      return { record, envelope, group: record.attributes.MessageGroupId ?? envelope.groupId };
    } catch (error) {
      logger.warn('invalid message body', { messageId: record.messageId, ...errorRef(error) });
      // Without a MessageGroupId attribute the message can only be its own group.
      return { record, group: record.attributes.MessageGroupId ?? `message:${record.messageId}`, failure: 'invalid' };
    }
  });
  failLaterMessagesOfFailedGroups(messages);

  const live = messages.filter((m): m is Message & { envelope: ChangeEnvelope } => m.failure === undefined && m.envelope !== undefined);
  const { survivors, coalesced, survivorByKey } = coalesceChanges(live.map((m) => ({ keys: m.envelope.keys, message: m })));

  // Resolve each surviving change to one write request; RESYNCs read the source first.
  const requestOf = new Map<WriteRequest, Message>();
  const resolved = await Promise.all(
    survivors.map(async ({ message }) => {
      try {
        return { message, request: await writeRequestFor(message.envelope, deps) };
      } catch (error) {
        logger.error('RESYNC read failed', { ...changeRef(message.envelope, message.record.messageId), ...errorRef(error) });
        message.failure = 'resync-read';
        return undefined;
      }
    }),
  );
  for (const entry of resolved) if (entry !== undefined) requestOf.set(entry.request, entry.message);

  const result = await writeItems(deps.targetClient, config.targetTableName, [...requestOf.keys()], {
    ...deps.writeOptions,
    keySchema: config.keySchema,
    deadline,
    now,
  });
  for (const failure of result.failures) {
    logger.error('write rejected', { messages: failure.requests.map((r) => requestOf.get(r)?.record.messageId), ...errorRef(failure.cause) });
  }
  for (const request of result.unprocessed) {
    const message = requestOf.get(request);
    if (message !== undefined) message.failure = 'write';
  }
  // A coalesced-away message shares the fate of the change that superseded it.
  for (const message of live) {
    const survivor = survivorByKey.get(canonicalKey(message.envelope.keys))?.message;
    if (survivor !== undefined && survivor !== message && survivor.failure !== undefined && message.failure === undefined) {
      message.failure = survivor.failure;
    }
  }
  failLaterMessagesOfFailedGroups(messages);

  const failed = messages.filter((m) => m.failure !== undefined);
  const applied = live.filter((m) => m.failure === undefined);
  const at = now();
  // Started first, so it overlaps the visibility backoff; awaited before the metrics, since its outcome is one of them.
  const stateWrite = recordNewestApplied(applied.map((m) => m.envelope), at, deadline, deps);
  if (failed.length > 0 && deps.sqsClient !== undefined) {
    // Failures are reported whatever happens here: shortenVisibility logs its own trouble and never throws.
    await shortenVisibility(deps.sqsClient, failed.map((m) => m.record), logger, config.visibilityBackoff);
  }
  const stateWriteFailures = await stateWrite;
  await deps.metrics.publish({
    changesApplied: applied.length,
    changesCoalesced: coalesced,
    applyFailures: failed.length,
    resyncsApplied: survivors.filter(({ message }) => message.failure === undefined && message.envelope.op === 'RESYNC').length,
    replicationLagMs: applied.map((m) => Math.max(0, at - m.envelope.at)),
    ...(stateWriteFailures === undefined ? {} : { stateWriteFailures }),
  });
  for (const message of failed) {
    logger.warn('message failed', {
      messageId: message.record.messageId,
      groupId: message.group,
      ...(message.envelope === undefined ? {} : { eventId: message.envelope.eventId }),
      reason: message.failure,
    });
  }
  logger.info('batch applied', {
    messages: messages.length,
    applied: applied.length,
    failed: failed.length,
    coalesced,
    writeAttempts: result.attempts,
    throttles: result.throttles,
  });
  return { batchItemFailures: failed.map((m) => ({ itemIdentifier: m.record.messageId })) };
}

/**
 * Records the newest change of the batch that was written (docs/disaster-recovery.md): the failover
 * reads it with the target account's credentials. Never throws and never fails the batch — its
 * changes are written, and a redelivery would not make the record any likelier — so a failure is a
 * warning (no item values) and the ApplyStateWriteFailed metric (1). Undefined without a state table.
 */
async function recordNewestApplied(changes: readonly ChangeEnvelope[], appliedAt: number, deadline: number, deps: ApplyDeps): Promise<number | undefined> {
  const table = deps.config.stateTableName;
  if (table === undefined) return undefined;
  const newest = newestChange(changes);
  if (newest === undefined) return 0;
  // Bounded by the batch's deadline (SDK retries included): a state write must never make the
  // invocation time out, which would redeliver the batch it has just written.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - appliedAt));
  try {
    // 'older' (a newer change is already recorded) is as good as 'recorded'.
    await recordLastApplied(deps.targetClient, table, newest, appliedAt, { abortSignal: controller.signal });
    return 0;
  } catch (error) {
    deps.logger.warn('last applied change not recorded; the batch is applied', { eventId: newest.eventId, ...errorRef(error) });
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

async function writeRequestFor(envelope: ChangeEnvelope, deps: ApplyDeps): Promise<WriteRequest> {
  switch (envelope.op) {
    case 'PUT':
      // The schema guarantees a PUT has its image.
      return { PutRequest: { Item: toSdkAttributeMap(envelope.image ?? {}) } };
    case 'DELETE':
      return { DeleteRequest: { Key: toSdkAttributeMap(envelope.keys) } };
    case 'RESYNC':
      return resyncWriteRequest(deps.sourceClient, deps.config.sourceTableName, envelope.keys, envelope.eventId, deps.config.policy?.view);
  }
}

/** FIFO rule: within a group, everything after the first failed message fails as well. */
function failLaterMessagesOfFailedGroups(messages: Message[]): void {
  const failedGroups = new Set<string>();
  for (const message of messages) {
    if (failedGroups.has(message.group)) message.failure ??= 'earlier-in-group';
    else if (message.failure !== undefined) failedGroups.add(message.group);
  }
}
