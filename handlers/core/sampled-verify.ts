import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, GetItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { ENVELOPE_VERSION_1, type ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { toSdkAttributeMap, toWireAttributeMap } from './attribute-value';
import { encodeEnvelope } from './envelope';
import { groupIdFor } from './group-id';
import { ItemDigester } from './item-digest';
import { applyConfigFromEnv, type ApplyConfig } from './apply-batch';
import { ENV, intEnv, optionalEnv } from './env';
import { ConfigurationError, ReplicationError } from './errors';
import { keyAttributeNames, type KeySchema } from './key-schema';
import type { TargetPolicy } from './target-policy';

/**
 * Continuous sampled verification (handlers/sampled-verify.ts, scheduled per target): samples items
 * of both tables, compares each with the other side in the target's view (filter and redaction),
 * re-reads the mismatches after a settle time so a change still in flight is not counted, and —
 * with autoRepair — enqueues a RESYNC per confirmed mismatch on the target's queue (the apply then
 * writes the source's current item or deletes the key; this never writes the target itself).
 *
 * Sampling: a random Segment of a parallel Scan whose TotalSegments is the table's ItemCount /
 * sampleSize (DescribeTable; DynamoDB refreshes it about every six hours), so one segment holds
 * about one sample; when a segment runs short, the next segments fill up. Every item is in exactly
 * one segment and segments are drawn uniformly. The source sample finds missing and different
 * items, the target sample finds extra ones (and different ones too).
 */
export interface SampledVerifyConfig {
  readonly sourceTableName: string;
  readonly targetTableName: string;
  readonly keySchema: KeySchema;
  /** Items sampled from each table per run. */
  readonly sampleSize: number;
  readonly settleMs: number;
  readonly autoRepair: boolean;
  /** The target's FIFO queue; required with autoRepair. */
  readonly queueUrl?: string;
  readonly view: TargetPolicy['view'];
}

export interface SampledVerifyDeps {
  readonly config: SampledVerifyConfig;
  readonly source: DynamoDBClient;
  /** Through the target role. */
  readonly target: DynamoDBClient;
  readonly sqs?: SQSClient;
  /** @default Math.random */
  readonly random?: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export type MismatchKind = 'missing' | 'extra' | 'different';

export interface SampledVerifyResult {
  /** Items compared (source sample + target sample). */
  readonly sampled: number;
  /** Confirmed after the settle time. */
  readonly mismatches: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** Mismatches of the first read that matched when read again (changes in flight). */
  readonly resolvedOnRecheck: number;
  /** RESYNCs enqueued (autoRepair). */
  readonly repaired: number;
  /** The confirmed mismatches' keys (never values): for logs and tests. */
  readonly keys: readonly { readonly kind: MismatchKind; readonly keys: AttributeMapWire }[];
}

export class SampledVerifyError extends ReplicationError {
  override readonly name: string = 'SampledVerifyError';
}

/** Segments stepped through at most when the drawn segment holds fewer items than asked for. */
const MAX_SEGMENTS_PER_SAMPLE = 16;
/** Concurrent GetItems while comparing the samples. */
const READ_CONCURRENCY = 10;
/** DynamoDB's TotalSegments maximum. */
const MAX_TOTAL_SEGMENTS = 1_000_000;

export async function sampledVerify(deps: SampledVerifyDeps): Promise<SampledVerifyResult> {
  const { config } = deps;
  if (config.autoRepair && (config.queueUrl === undefined || deps.sqs === undefined)) throw new SampledVerifyError('autoRepair needs the target queue (QUEUE_URL) and an SQS client');
  const random = deps.random ?? Math.random;
  const digester = new ItemDigester(config.keySchema);
  const keyNames = keyAttributeNames(config.keySchema);
  const keysOf = (item: AttributeMapWire): AttributeMapWire => {
    const keys: AttributeMapWire = Object.create(null) as AttributeMapWire;
    for (const name of keyNames) Object.defineProperty(keys, name, { value: item[name], enumerable: true, writable: true, configurable: true });
    return keys;
  };
  const same = (a: AttributeMapWire | undefined, b: AttributeMapWire | undefined): boolean =>
    a === undefined || b === undefined ? a === b : digester.digest(a).itemHash.equals(digester.digest(b).itemHash);
  const get = async (client: DynamoDBClient, table: string, keys: AttributeMapWire): Promise<AttributeMapWire | undefined> => {
    const out = await client.send(new GetItemCommand({ TableName: table, Key: toSdkAttributeMap(keys), ConsistentRead: true }));
    return out.Item === undefined ? undefined : toWireAttributeMap(out.Item);
  };
  /** Both sides of one key now: the source in the target's view, and the target. */
  const readBoth = async (keys: AttributeMapWire): Promise<[AttributeMapWire | undefined, AttributeMapWire | undefined]> => {
    const [source, target] = await Promise.all([get(deps.source, config.sourceTableName, keys), get(deps.target, config.targetTableName, keys)]);
    return [source === undefined ? undefined : config.view(source), target];
  };

  const [sourceSample, targetSample] = await Promise.all([
    sampleTable(deps.source, config.sourceTableName, config.sampleSize, random),
    sampleTable(deps.target, config.targetTableName, config.sampleSize, random),
  ]);
  // One candidate per key (a key can be in both samples).
  const candidates = new Map<string, AttributeMapWire>();
  const check = async (item: AttributeMapWire, side: 'source' | 'target'): Promise<void> => {
    const keys = keysOf(item);
    // Outside the target's view, a source item is not expected in the target; the target sample finds it there.
    const source = side === 'source' ? config.view(item) : await get(deps.source, config.sourceTableName, keys).then((s) => (s === undefined ? undefined : config.view(s)));
    if (side === 'source' && source === undefined) return;
    const target = side === 'target' ? item : await get(deps.target, config.targetTableName, keys);
    if (!same(source, target)) candidates.set(digester.keyBytes(keys).toString('latin1'), keys);
  };
  const work = [...sourceSample.map((item) => () => check(item, 'source')), ...targetSample.map((item) => () => check(item, 'target'))];
  for (let i = 0; i < work.length; i += READ_CONCURRENCY) await Promise.all(work.slice(i, i + READ_CONCURRENCY).map((run) => run()));

  const confirmed: { kind: MismatchKind; keys: AttributeMapWire }[] = [];
  if (candidates.size > 0) {
    await deps.sleep(config.settleMs);
    for (const keys of candidates.values()) {
      const [source, target] = await readBoth(keys);
      if (same(source, target)) continue;
      confirmed.push({ kind: source === undefined ? 'extra' : target === undefined ? 'missing' : 'different', keys });
    }
  }
  let repaired = 0;
  if (config.autoRepair && confirmed.length > 0) repaired = await enqueueResyncs(deps.sqs!, config.queueUrl!, config.sourceTableName, config.keySchema, confirmed.map((c) => c.keys));
  const count = (kind: MismatchKind): number => confirmed.filter((c) => c.kind === kind).length;
  return {
    sampled: sourceSample.length + targetSample.length,
    mismatches: confirmed.length,
    missing: count('missing'),
    extra: count('extra'),
    different: count('different'),
    resolvedOnRecheck: candidates.size - confirmed.length,
    repaired,
    keys: confirmed,
  };
}

/** Up to `size` items of `table` from a random segment (and the segments after it when it runs short). */
export async function sampleTable(client: DynamoDBClient, table: string, size: number, random: () => number): Promise<AttributeMapWire[]> {
  const description = await client.send(new DescribeTableCommand({ TableName: table }));
  const itemCount = description.Table?.ItemCount ?? 0;
  const totalSegments = Math.min(MAX_TOTAL_SEGMENTS, Math.max(1, Math.floor(itemCount / size)));
  const first = Math.floor(random() * totalSegments);
  const items: AttributeMapWire[] = [];
  for (let i = 0; i < Math.min(totalSegments, MAX_SEGMENTS_PER_SAMPLE) && items.length < size; i++) {
    const segment = (first + i) % totalSegments;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, Segment: segment, TotalSegments: totalSegments, Limit: size - items.length, ExclusiveStartKey: startKey }));
      for (const item of page.Items ?? []) items.push(toWireAttributeMap(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length < size);
  }
  return items;
}

/** RESYNC envelopes for `keys` (origin repair, a fresh eventId each), 10 per SendMessageBatch. */
async function enqueueResyncs(sqs: SQSClient, queueUrl: string, table: string, keySchema: KeySchema, keys: readonly AttributeMapWire[]): Promise<number> {
  let sent = 0;
  for (let start = 0; start < keys.length; start += 10) {
    const envelopes = keys.slice(start, start + 10).map((k): ChangeEnvelopeV1 => ({
      v: ENVELOPE_VERSION_1, op: 'RESYNC', table, keys: k, seq: '', at: Date.now(), eventId: `repair-${randomUUID()}`, groupId: groupIdFor(k, keySchema), origin: 'repair',
    }));
    const out = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: envelopes.map((e, i) => ({ Id: String(i), MessageBody: encodeEnvelope(e), MessageGroupId: e.groupId, MessageDeduplicationId: e.eventId })),
    }));
    const failed = out.Failed ?? [];
    if (failed.length > 0) throw new SampledVerifyError(`SendMessageBatch refused ${failed.length} of ${envelopes.length} RESYNCs: ${failed[0]?.Code ?? ''}`);
    sent += envelopes.length;
  }
  return sent;
}

/** What the CDK construct (infra/constructs/sampled-verify.ts) or local mode sets on the function. */
export interface SampledVerifyEnvConfig extends SampledVerifyConfig, Omit<ApplyConfig, 'policy' | 'keySchema' | 'sourceTableName' | 'targetTableName'> {
  readonly replicationName: string;
}

/** REPLICATION_NAME: the metrics' Replication dimension (as the apply function has it). */
export const REPLICATION_NAME_ENV = ENV.replicationName;

/** The apply function's variables (tables, Regions, target role, key schema, policy) plus the verification's own. */
export function sampledVerifyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SampledVerifyEnvConfig {
  const { policy, ...target } = applyConfigFromEnv(env);
  const autoRepair = optionalEnv(ENV.verifyAutoRepair, 'false', env);
  if (autoRepair !== 'true' && autoRepair !== 'false') throw new ConfigurationError(`environment variable ${ENV.verifyAutoRepair} must be "true" or "false", got "${autoRepair}"`);
  const settle = optionalEnv(ENV.verifySettleSeconds, '30', env);
  if (!/^\d+$/.test(settle)) throw new ConfigurationError(`environment variable ${ENV.verifySettleSeconds} must be a whole number of seconds, got "${settle}"`);
  const replicationName = env[REPLICATION_NAME_ENV];
  if (replicationName === undefined || replicationName === '') throw new ConfigurationError(`environment variable ${REPLICATION_NAME_ENV} is not set; it is set by the CDK construct (or by local mode) — redeploy the stack`);
  const queueUrl = optionalEnv(ENV.queueUrl, '', env);
  if (autoRepair === 'true' && queueUrl === '') throw new ConfigurationError(`environment variable ${ENV.queueUrl} is required when ${ENV.verifyAutoRepair} is true`);
  return {
    ...target,
    replicationName,
    sampleSize: intEnv(ENV.verifySampleSize, 100, env),
    settleMs: Number(settle) * 1000,
    autoRepair: autoRepair === 'true',
    ...(queueUrl === '' ? {} : { queueUrl }),
    // Unset policy = every item as is (ApplyConfig.policy).
    view: policy?.view ?? ((item: AttributeMapWire) => item),
  };
}
