import { SendMessageBatchCommand, SQSClient, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  deliverToAttachedTargets, parseAttachedTargets, planBatches, sendToQueue, type DeliveryOptions,
} from '../../handlers/core/attached-delivery';
import { decodeEnvelope, encodeEnvelope, type EnvelopeContext } from '../../handlers/core/envelope';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { AttachedDeliveryError, ConfigurationError, UnencodableRecordError } from '../../handlers/core/errors';
import { change, keySchema } from './support/sqs';
import { streamRecord } from './support/fixtures';

const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'eu-west-1' });
const ctx: EnvelopeContext = { keySchema, resyncThresholdBytes: 200_000, sourceTableName: 'orders' };
beforeEach(() => sqsMock.reset());

function fastOptions(): DeliveryOptions & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { maxAttempts: 4, baseDelayMs: 100, random: () => 0.5, sleep: async (ms) => { sleeps.push(ms); }, sleeps };
}
const sent = (): SendMessageBatchCommandInput[] => sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);

/** A record of item `pk`/`sk` with its own eventID and sequence number. */
function insert(i: number, pk = `user#${i}`): DynamoDBRecord {
  const r = streamRecord('insert');
  const keys = { pk: { S: pk }, sk: { N: '1' } };
  return { ...r, eventID: `ev-${i}`, dynamodb: { ...r.dynamodb, Keys: keys, NewImage: { ...r.dynamodb?.NewImage, ...keys }, SequenceNumber: String(1000 + i) } };
}

const ATTACHED = JSON.stringify([
  { targetName: 'users', queueUrl: 'https://sqs/users.fifo', filter: { eventNames: ['INSERT', 'MODIFY', 'REMOVE'], replicateTtlDeletes: true, partitionKeyPrefixes: ['user#'] }, redaction: { exclude: [], redact: ['name'], redactWith: { token: 'X' } } },
  { targetName: 'all', queueUrl: 'https://sqs/all.fifo', filter: { eventNames: ['INSERT', 'MODIFY', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: [] } },
]);

describe('planBatches', () => {
  it('makes batches of at most 10 with each message group at most once per batch, in order', () => {
    const a = change('PUT', 'a', '1');
    const others = Array.from({ length: 12 }, (_, i) => change('PUT', `k${i}`, '1'));
    const a2 = change('PUT', 'a', '1');
    const batches = planBatches([a, ...others.slice(0, 3), a2, ...others.slice(3)]);
    expect(batches.map((b) => b.length)).toEqual([4, 10]); // "a" again starts the second batch early
    expect(batches.flat().map((e) => e.eventId)).toEqual([a, ...others.slice(0, 3), a2, ...others.slice(3)].map((e) => e.eventId));
    for (const batch of batches) expect(new Set(batch.map((e) => e.groupId)).size).toBe(batch.length);
  });
});

describe('sendToQueue', () => {
  it('sends each envelope with MessageGroupId = groupId and MessageDeduplicationId = eventId, ≤ 10 per request', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const envelopes = Array.from({ length: 23 }, (_, i) => change('PUT', `k${i}`, '1'));
    await sendToQueue(sqs, 'https://sqs/q.fifo', 'q', envelopes, fastOptions());
    expect(sent().map((i) => i.Entries?.length)).toEqual([10, 10, 3]);
    const entries = sent().flatMap((i) => i.Entries ?? []);
    expect(entries.map((e) => [e.MessageGroupId, e.MessageDeduplicationId])).toEqual(envelopes.map((e) => [e.groupId, e.eventId]));
    expect(entries.map((e) => decodeEnvelope(e.MessageBody as string))).toEqual(envelopes);
    expect(sent().every((i) => i.QueueUrl === 'https://sqs/q.fifo')).toBe(true);
  });

  it('retries only the refused entries, with growing full-jitter backoff, before the next batch', async () => {
    sqsMock.on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }, { Id: '3', Code: 'ThrottlingException', SenderFault: false }] })
      .resolvesOnce({ Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false }] })
      .resolves({});
    const opts = fastOptions();
    const envelopes = Array.from({ length: 12 }, (_, i) => change('PUT', `k${i}`, '1'));
    await sendToQueue(sqs, 'q', 'q', envelopes, opts);
    expect(sent().map((i) => i.Entries?.map((e) => e.MessageDeduplicationId))).toEqual([
      envelopes.slice(0, 10).map((e) => e.eventId),
      [envelopes[1]?.eventId, envelopes[3]?.eventId],
      [envelopes[3]?.eventId],
      envelopes.slice(10).map((e) => e.eventId),
    ]);
    expect(opts.sleeps).toEqual([50, 100]);
  });

  it('throws AttachedDeliveryError naming the eventIds (no values) when SQS still refuses', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    const envelope = change('PUT', 'secret-key', '1', { name: 'secret-value' });
    const promise = sendToQueue(sqs, 'q', 'eu', [envelope], fastOptions());
    await expect(promise).rejects.toThrow(AttachedDeliveryError);
    await expect(sendToQueue(sqs, 'q', 'eu', [envelope], fastOptions())).rejects.toThrow(
      `delivery to attached target eu failed after 4 attempt(s): SQS refused 1 of 1 message(s) (InternalError); eventIds ${envelope.eventId}`,
    );
    expect(sent()).toHaveLength(8);
  });

  it('does not retry a sender fault (it would fail the same way)', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', Code: 'InvalidParameterValue', SenderFault: true }] });
    await expect(sendToQueue(sqs, 'q', 'eu', [change('PUT', 'a', '1')], fastOptions())).rejects.toThrow('(InvalidParameterValue (sender fault))');
    expect(sent()).toHaveLength(1);
  });

  it('wraps an SDK error with its cause', async () => {
    const boom = new Error('socket hang up');
    sqsMock.on(SendMessageBatchCommand).rejects(boom);
    const error = await sendToQueue(sqs, 'q', 'eu', [change('PUT', 'a', '1')], fastOptions()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachedDeliveryError);
    expect((error as Error).cause).toBe(boom);
  });

  it('writes characters outside the BMP as JSON escapes (fauxqs accepts them; the JSON value is the same)', () => {
    const envelope = change('PUT', 'emoji-🙂', '1');
    expect(encodeEnvelope(envelope)).not.toMatch(/[\u{10000}-\u{10FFFF}]/u);
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });
});

describe('deliverToAttachedTargets', () => {
  it('applies each attached target\'s own filter and redaction, one queue each', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const targets = parseAttachedTargets(ATTACHED, keySchema, 'ATTACHED_TARGETS');
    const records = [insert(1), streamRecord('remove'), streamRecord('ttl-remove'), insert(2, 'order#2')];
    const counts = await deliverToAttachedTargets(records, targets, { sqs, ctx, options: fastOptions() });
    expect(counts).toEqual({ users: 1, all: 3 });
    const byQueue: Record<string, ChangeEnvelopeV1[]> = Object.fromEntries(sent().map((i) => [i.QueueUrl, (i.Entries ?? []).map((e) => decodeEnvelope(e.MessageBody as string))]));
    expect(byQueue['https://sqs/users.fifo']?.map((e) => e.eventId)).toEqual(['ev-1']);
    expect(byQueue['https://sqs/users.fifo']?.[0]?.image?.name).toEqual({ S: 'X' });
    expect(byQueue['https://sqs/all.fifo']?.map((e) => e.eventId)).toEqual(['ev-1', records[1]?.eventID, 'ev-2']);
    expect(byQueue['https://sqs/all.fifo']?.[0]?.image?.name).toEqual({ S: 'Ada' });
  });

  it('sends nothing when a record cannot be encoded (the pipe retries the batch)', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const targets = parseAttachedTargets(ATTACHED, keySchema, 'ATTACHED_TARGETS');
    const broken = { ...insert(3), eventID: undefined };
    await expect(deliverToAttachedTargets([insert(1), broken], targets, { sqs, ctx, options: fastOptions() })).rejects.toThrow(UnencodableRecordError);
    expect(sent()).toHaveLength(0);
  });

  it('throws if any queue still refuses, after the other queues were tried', async () => {
    sqsMock.on(SendMessageBatchCommand, { QueueUrl: 'https://sqs/users.fifo' }).resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    sqsMock.on(SendMessageBatchCommand, { QueueUrl: 'https://sqs/all.fifo' }).resolves({});
    const targets = parseAttachedTargets(ATTACHED, keySchema, 'ATTACHED_TARGETS');
    await expect(deliverToAttachedTargets([insert(1)], targets, { sqs, ctx, options: fastOptions() })).rejects.toThrow('delivery to attached target users failed after 4 attempt(s)');
    expect(sent().filter((i) => i.QueueUrl === 'https://sqs/all.fifo')).toHaveLength(1);
  });

  it('rejects a malformed ATTACHED_TARGETS at cold start', () => {
    expect(() => parseAttachedTargets('[', keySchema, 'ATTACHED_TARGETS')).toThrow(ConfigurationError);
    expect(() => parseAttachedTargets('[{"targetName":"x"}]', keySchema, 'ATTACHED_TARGETS')).toThrow(/ATTACHED_TARGETS is invalid: 0\.queueUrl/);
  });
});

describe('per-target RESYNC threshold', () => {
  it('uses the attached target\'s own threshold when ATTACHED_TARGETS gives one', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const filter = { eventNames: ['INSERT', 'MODIFY', 'REMOVE'], replicateTtlDeletes: true, partitionKeyPrefixes: [] };
    const targets = parseAttachedTargets(JSON.stringify([
      { targetName: 'small', queueUrl: 'https://sqs/small.fifo', filter, resyncThresholdBytes: 200 },
      { targetName: 'default', queueUrl: 'https://sqs/default.fifo', filter },
    ]), keySchema, 'ATTACHED_TARGETS');
    await deliverToAttachedTargets([insert(1)], targets, { sqs, ctx, options: fastOptions() });
    const op = (url: string) => decodeEnvelope(sent().find((i) => i.QueueUrl === url)?.Entries?.[0]?.MessageBody as string).op;
    expect(op('https://sqs/small.fifo')).toBe('RESYNC');
    expect(op('https://sqs/default.fifo')).toBe('PUT');
  });
});

describe('enrich handler with ATTACHED_TARGETS (module-scope config, as in Lambda)', () => {
  type EnrichModule = typeof import('../../handlers/enrich');
  let handler: EnrichModule['handler'];

  beforeAll(() => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1', SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema), LOG_LEVEL: 'SILENT',
      TARGET_FILTER: JSON.stringify({ partitionKeyPrefixes: ['order#'] }),
      TARGET_REDACTION: JSON.stringify({ exclude: ['total'] }),
      ATTACHED_TARGETS: ATTACHED,
    });
    // Required (not imported) so that it loads after the environment is set.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the environment above is set
    ({ handler } = require('../../handlers/enrich') as EnrichModule);
    process.env = saved;
  });

  it('delivers the attached targets\' envelopes, then returns the owner\'s own (filtered and redacted)', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const records = [insert(1), streamRecord('remove'), { ...streamRecord('remove'), eventName: 'INSERT' as const, dynamodb: { ...streamRecord('remove').dynamodb, NewImage: streamRecord('remove').dynamodb?.OldImage } }];
    const own = await handler(records);
    // The REMOVE and the INSERT of one item: only the last change of the item is kept (issue 12 §1e).
    expect(own.map((e) => e.op)).toEqual(['PUT']);
    expect(own[0]?.image).not.toHaveProperty('total');
    expect(sent().map((i) => i.QueueUrl).sort()).toEqual(['https://sqs/all.fifo', 'https://sqs/users.fifo']);
    expect(sent().find((i) => i.QueueUrl === 'https://sqs/all.fifo')?.Entries?.map((e) => e.MessageDeduplicationId)).toEqual(['ev-1', records[2]?.eventID]);
  });

  it('throws (so the pipe retries the batch) when an attached queue keeps refusing', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: true }] });
    await expect(handler([insert(1)])).rejects.toThrow(AttachedDeliveryError);
  });
});
