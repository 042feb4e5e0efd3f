import { GetItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The replication state of one target (docs/disaster-recovery.md, "What the failover reports"):
 * what an unplanned failover must be able to tell with the target account's credentials alone,
 * because the source account or Region may be dark. A small table in the target account
 * (`ddbrepl-<replication>-<target>-state`, created by the target-access stack), one item per
 * kind, written through the target role the apply and the sampled verify already assume:
 *
 * - `lastApplied`: the newest stream change the apply has written into the target — its
 *   ApproximateCreationDateTime (ISO), SequenceNumber, eventId and when it was applied;
 * - `lastSampledVerify`: the last run of the continuous sampled verification.
 */
export const STATE_TABLE_KEY = 'kind' as const;

export const STATE_KINDS = { lastApplied: 'lastApplied', lastSampledVerify: 'lastSampledVerify' } as const;

/** The state table's fixed name, known to infra (which creates it), the handlers (env) and the CLI (which reads it). */
export function stateTableName(replicationName: string, targetName: string): string {
  return `ddbrepl-${replicationName}-${targetName}-state`;
}

export interface LastApplied {
  /** The change's ApproximateCreationDateTime as the stream gave it (millisecond ISO). */
  readonly approximateCreationDateTime: string;
  readonly sequenceNumber: string;
  readonly eventId?: string;
  /** When the apply wrote the batch holding it. */
  readonly appliedAt: string;
}

export interface LastSampledVerify {
  /** When the run finished. */
  readonly at: string;
  readonly sampled: number;
  readonly mismatches: number;
  readonly repaired: number;
}

/** The change fields the state needs (handlers/core/envelope.ts). */
export interface AppliedChange {
  /** ApproximateCreationDateTime in ms. */
  readonly at: number;
  /** Stream sequence number; '' for RESYNCs that do not come from the stream (repair, replay). */
  readonly seq: string;
  readonly eventId: string;
}

/** Stream sequence numbers are strings of up to 40 digits (docs/aws-contracts.md): left-padded, they compare as strings. */
const SEQUENCE_WIDTH = 40;
export const sequenceOrder = (seq: string): string => seq.padStart(SEQUENCE_WIDTH, '0');

/**
 * The newest of `changes` in the order the state keeps: ApproximateCreationDateTime, then the
 * sequence number as a tiebreak. Sequence numbers increase within a shard only, so across shards
 * the tiebreak is an arbitrary but stable choice between changes made in the same millisecond
 * (a second, or a minute locally: their creation times are that coarse). Changes without a
 * stream sequence (repair and replay RESYNCs) are not stream changes and never count.
 */
export function newestChange(changes: Iterable<AppliedChange>): AppliedChange | undefined {
  let newest: AppliedChange | undefined;
  for (const change of changes) {
    if (change.seq === '') continue;
    if (newest === undefined || change.at > newest.at || (change.at === newest.at && sequenceOrder(change.seq) > sequenceOrder(newest.seq))) newest = change;
  }
  return newest;
}

/** 'recorded', or 'older': the table already holds this change or a newer one (nothing written). */
export type RecordOutcome = 'recorded' | 'older';

const isConditionalCheckFailed = (error: unknown): boolean => error instanceof Error && error.name === 'ConditionalCheckFailedException';

/**
 * Records `change` as the last applied one, with one conditional UpdateItem: only if the stored
 * change is older (creation time, then sequence: `newestChange`'s order), so concurrent apply
 * invocations (other message groups) and redeliveries never move it back. Other errors throw.
 */
export async function recordLastApplied(client: DynamoDBClient, tableName: string, change: AppliedChange, appliedAt: number, opts: { abortSignal?: AbortSignal } = {}): Promise<RecordOutcome> {
  const at = new Date(change.at).toISOString();
  try {
    await client.send(new UpdateItemCommand({
      TableName: tableName,
      Key: { [STATE_TABLE_KEY]: { S: STATE_KINDS.lastApplied } },
      UpdateExpression: 'SET #at = :at, #seq = :seq, #ord = :ord, #eid = :eid, #applied = :applied',
      // ISO times of one width compare as strings; so do the padded sequences.
      ConditionExpression: 'attribute_not_exists(#at) OR #at < :at OR (#at = :at AND #ord < :ord)',
      ExpressionAttributeNames: { '#at': 'approximateCreationDateTime', '#seq': 'sequenceNumber', '#ord': 'sequenceOrder', '#eid': 'eventId', '#applied': 'appliedAt' },
      ExpressionAttributeValues: {
        ':at': { S: at },
        ':seq': { S: change.seq },
        ':ord': { S: sequenceOrder(change.seq) },
        ':eid': { S: change.eventId },
        ':applied': { S: new Date(appliedAt).toISOString() },
      },
    }), opts.abortSignal === undefined ? {} : { abortSignal: opts.abortSignal });
    return 'recorded';
  } catch (error) {
    // The expected outcome when another invocation recorded a newer change first (or this one is
    // a redelivery): the stored change stays. Not an error.
    if (isConditionalCheckFailed(error)) return 'older';
    throw error;
  }
}

/** Records a sampled verification run; an older run finishing late does not overwrite a newer one. */
export async function recordSampledVerify(client: DynamoDBClient, tableName: string, run: LastSampledVerify): Promise<RecordOutcome> {
  try {
    await client.send(new UpdateItemCommand({
      TableName: tableName,
      Key: { [STATE_TABLE_KEY]: { S: STATE_KINDS.lastSampledVerify } },
      UpdateExpression: 'SET #at = :at, #sampled = :sampled, #mismatches = :mismatches, #repaired = :repaired',
      ConditionExpression: 'attribute_not_exists(#at) OR #at <= :at',
      ExpressionAttributeNames: { '#at': 'at', '#sampled': 'sampled', '#mismatches': 'mismatches', '#repaired': 'repaired' },
      ExpressionAttributeValues: {
        ':at': { S: run.at },
        ':sampled': { N: String(run.sampled) },
        ':mismatches': { N: String(run.mismatches) },
        ':repaired': { N: String(run.repaired) },
      },
    }));
    return 'recorded';
  } catch (error) {
    if (isConditionalCheckFailed(error)) return 'older';
    throw error;
  }
}

export interface ReplicationState {
  /** Undefined: nothing recorded (no change applied since the table exists). */
  readonly lastApplied?: LastApplied;
  /** Undefined: no sampled verification has run (it is optional: continuousVerify). */
  readonly lastSampledVerify?: LastSampledVerify;
}

const text = (item: Record<string, AttributeValue> | undefined, name: string): string | undefined => item?.[name]?.S;
// Counts this module wrote itself (sampled, mismatches, repaired): small integers, not item data.
const count = (item: Record<string, AttributeValue>, name: string): number => Number(item[name]?.N ?? '0');

/** Both items, strongly consistent (the failover reads them right after the freeze). */
export async function readReplicationState(client: DynamoDBClient, tableName: string): Promise<ReplicationState> {
  const get = (kind: string) => client.send(new GetItemCommand({ TableName: tableName, Key: { [STATE_TABLE_KEY]: { S: kind } }, ConsistentRead: true }));
  const [applied, verify] = await Promise.all([get(STATE_KINDS.lastApplied), get(STATE_KINDS.lastSampledVerify)]);
  const a = applied.Item;
  const at = text(a, 'approximateCreationDateTime');
  const eventId = text(a, 'eventId');
  const v = verify.Item;
  const verifiedAt = text(v, 'at');
  return {
    ...(a === undefined || at === undefined ? {} : {
      lastApplied: {
        approximateCreationDateTime: at,
        sequenceNumber: text(a, 'sequenceNumber') ?? '',
        ...(eventId === undefined ? {} : { eventId }),
        appliedAt: text(a, 'appliedAt') ?? '',
      },
    }),
    ...(v === undefined || verifiedAt === undefined ? {} : {
      lastSampledVerify: { at: verifiedAt, sampled: count(v, 'sampled'), mismatches: count(v, 'mismatches'), repaired: count(v, 'repaired') },
    }),
  };
}
