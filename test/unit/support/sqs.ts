import type { SQSRecord } from 'aws-lambda';
import type { ChangeEnvelopeV1 } from '../../../schemas/change-envelope.v1';
import { encodeEnvelope } from '../../../handlers/core/envelope';
import { groupIdFor } from '../../../handlers/core/group-id';
import type { KeySchema } from '../../../handlers/core/key-schema';

export const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

let counter = 0;
export function change(op: ChangeEnvelopeV1['op'], pk: string, sk: string, attrs: Record<string, string> = {}, at = 1_000): ChangeEnvelopeV1 {
  const keys = { pk: { S: pk }, sk: { N: sk } };
  counter += 1;
  const base = { v: 1 as const, op, table: 'source', keys, seq: String(counter), at, eventId: `event-${counter}`, groupId: groupIdFor(keys, keySchema), origin: 'user' as const };
  if (op !== 'PUT') return base;
  return { ...base, image: { ...keys, ...Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { S: v }])) } };
}

/** An SQS FIFO record as the Lambda event source delivers it. */
export function sqsRecord(messageId: string, body: string, messageGroupId: string | undefined): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '0',
      SequenceNumber: '1',
      MessageDeduplicationId: messageId,
      ...(messageGroupId === undefined ? {} : { MessageGroupId: messageGroupId }),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:111111111111:ddbrepl-demo-dr.fifo',
    awsRegion: 'eu-west-1',
  };
}

export function messageOf(messageId: string, envelope: ChangeEnvelopeV1): SQSRecord {
  return sqsRecord(messageId, encodeEnvelope(envelope), envelope.groupId);
}
