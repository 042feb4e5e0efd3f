import { GetQueueAttributesCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createHash, randomUUID } from 'node:crypto';
import { encodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import type { KeySchema } from '../../handlers/core/key-schema';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { ENVELOPE_VERSION_1, type ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { awsCall } from '../aws/errors';
import { CliError, EXIT } from '../errors';

/** Queue figures and RESYNC envelopes, shared by replay, verify --repair, status and pause. */

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export const totalDepth = (d: QueueDepth): number => d.visible + d.inFlight + d.delayed;

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const out = await awsCall('sqs:GetQueueAttributes', `queue ${queueUrl}`, () => sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  })));
  const n = (name: 'ApproximateNumberOfMessages' | 'ApproximateNumberOfMessagesNotVisible' | 'ApproximateNumberOfMessagesDelayed'): number => Number(out.Attributes?.[name] ?? '0');
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

/** What bounds how long a failing message can hold its FIFO group: visibility timeout × maxReceiveCount. */
export interface QueueRedrive {
  visibilityTimeoutSeconds: number;
  /** From the queue's RedrivePolicy; undefined without one. */
  maxReceiveCount?: number;
}

/** Reads the queue's VisibilityTimeout and RedrivePolicy: attributes only, no message is received (receiving would lock a FIFO group). */
export async function queueRedrive(sqs: SQSClient, queueUrl: string): Promise<QueueRedrive> {
  const out = await awsCall('sqs:GetQueueAttributes', `queue ${queueUrl}`, () => sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'],
  })));
  const policy = out.Attributes?.RedrivePolicy;
  const maxReceiveCount = policy === undefined ? undefined : Number((JSON.parse(policy) as { maxReceiveCount?: number | string }).maxReceiveCount);
  return {
    visibilityTimeoutSeconds: Number(out.Attributes?.VisibilityTimeout ?? '30'),
    ...(maxReceiveCount === undefined || !Number.isFinite(maxReceiveCount) ? {} : { maxReceiveCount }),
  };
}

/** eventId (= FIFO dedup id) of the RESYNC that replays DLQ message `messageId`: the same on every run, ≤ 128 chars. */
export function replayEventId(messageId: string): string {
  return `replay-${createHash('sha256').update(messageId, 'utf8').digest('base64url')}`;
}

/**
 * A RESYNC envelope: keys only; the apply re-reads the item from the source (consistent GetItem)
 * and puts it — or deletes it when the source no longer has it. So a RESYNC can never write an
 * image older than the source's current item.
 */
export function resyncEnvelope(opts: { table: string; keys: AttributeMapWire; groupId: string; eventId: string; origin: 'replay' | 'repair'; now?: number }): ChangeEnvelopeV1 {
  return { v: ENVELOPE_VERSION_1, op: 'RESYNC', table: opts.table, keys: opts.keys, seq: '', at: opts.now ?? Date.now(), eventId: opts.eventId, groupId: opts.groupId, origin: opts.origin };
}

/** A repair RESYNC for `keys`; a fresh eventId each time, so a later repair of the same key is not deduplicated away. */
export function repairEnvelope(table: string, keys: AttributeMapWire, keySchema: KeySchema): ChangeEnvelopeV1 {
  return resyncEnvelope({ table, keys, groupId: groupIdFor(keys, keySchema), eventId: `repair-${randomUUID()}`, origin: 'repair' });
}

/** The SendMessage parameters of an envelope: group = groupId, dedup id = eventId, body as the enrichment encodes it (fauxqs-safe). */
export function messageOf(envelope: ChangeEnvelopeV1): { MessageBody: string; MessageGroupId: string; MessageDeduplicationId: string } {
  return { MessageBody: encodeEnvelope(envelope), MessageGroupId: envelope.groupId, MessageDeduplicationId: envelope.eventId };
}

/** Sends envelopes 10 per SendMessageBatch; any entry SQS refuses fails the call, naming the eventId. */
export async function sendEnvelopes(sqs: SQSClient, queueUrl: string, envelopes: readonly ChangeEnvelopeV1[], onSent?: (n: number) => void): Promise<void> {
  for (let start = 0; start < envelopes.length; start += 10) {
    const chunk = envelopes.slice(start, start + 10);
    const out = await awsCall('sqs:SendMessageBatch', `queue ${queueUrl}`, () => sqs.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: chunk.map((envelope, i) => ({ Id: String(i), ...messageOf(envelope) })),
    })));
    const failed = out.Failed ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      throw new CliError(`sqs:SendMessageBatch on queue ${queueUrl}: ${failed.length} of ${chunk.length} messages refused, e.g. ${chunk[Number(first.Id)]?.eventId ?? '?'}: ${first.Code ?? ''} ${first.Message ?? ''}`.trim(), EXIT.failure);
    }
    onSent?.(chunk.length);
  }
}
