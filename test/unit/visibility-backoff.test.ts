import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { applyBatch } from '../../handlers/core/apply-batch';
import type { StructuredLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, MemoryMetricsSink } from '../../handlers/core/metrics';
import { queueUrlFor, shortenVisibility, visibilityBackoffSeconds } from '../../handlers/core/visibility-backoff';
import { change, keySchema, messageOf } from './support/sqs';

const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBClient);
const QUEUE_ARN = 'arn:aws:sqs:eu-west-2:111111111111:ddbrepl-dr.fifo';
const QUEUE_URL = 'https://sqs.eu-west-2.amazonaws.com/111111111111/ddbrepl-dr.fifo';

function recordingLogger(): { logger: StructuredLogger; warnings: { message: string; fields: unknown }[] } {
  const warnings: { message: string; fields: unknown }[] = [];
  const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (message: string, fields: unknown) => warnings.push({ message, fields }) } as unknown as StructuredLogger;
  return { logger, warnings };
}

const received = (record: SQSRecord, receiveCount: number): SQSRecord => ({ ...record, eventSourceARN: QUEUE_ARN, attributes: { ...record.attributes, ApproximateReceiveCount: String(receiveCount) } });

beforeEach(() => {
  sqs.reset();
  ddb.reset();
  sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
});

describe('visibilityBackoffSeconds', () => {
  it('doubles from 2 s with each receive and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((n) => visibilityBackoffSeconds(n))).toEqual([2, 4, 8, 16, 32, 60, 60, 60]);
    expect([1, 2, 3].map((n) => visibilityBackoffSeconds(n, { baseSeconds: 2, maxSeconds: 5 }))).toEqual([2, 4, 5]);
  });

  it('never exceeds the cap, even for absurd receive counts, and reads a missing count as the first receive', () => {
    expect(visibilityBackoffSeconds(Number.MAX_SAFE_INTEGER)).toBe(60);
    expect(visibilityBackoffSeconds(Number.NaN)).toBe(2);
    expect(visibilityBackoffSeconds(0)).toBe(2);
    // A cap below the base wins: the backoff may never be longer than the queue's own timeout.
    expect(visibilityBackoffSeconds(1, { baseSeconds: 2, maxSeconds: 1 })).toBe(1);
  });
});

describe('queueUrlFor', () => {
  it('asks SQS once per queue (name and owner from the ARN) and refuses what is not a queue ARN', async () => {
    const client = new SQSClient({ region: 'eu-west-2' });
    const other = 'arn:aws:sqs:eu-west-2:222222222222:other.fifo';
    await expect(queueUrlFor(client, other)).resolves.toBe(QUEUE_URL);
    await expect(queueUrlFor(client, other)).resolves.toBe(QUEUE_URL);
    expect(sqs.commandCalls(GetQueueUrlCommand).map((c) => c.args[0].input)).toEqual([{ QueueName: 'other.fifo', QueueOwnerAWSAccountId: '222222222222' }]);
    await expect(queueUrlFor(client, 'arn:aws:sns:eu-west-2:1:topic')).rejects.toThrow('not an SQS queue ARN');
  });
});

describe('shortenVisibility', () => {
  it('sets each failed message to the backoff of its own receive count', async () => {
    const { logger } = recordingLogger();
    const a = received(messageOf('m1', change('PUT', 'a', '1')), 1);
    const b = received(messageOf('m2', change('PUT', 'b', '1')), 3);
    await shortenVisibility(new SQSClient({ region: 'eu-west-2' }), [a, b], logger);
    const calls = sqs.commandCalls(ChangeMessageVisibilityBatchCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      Entries: [{ Id: '0', ReceiptHandle: 'rh-m1', VisibilityTimeout: 2 }, { Id: '1', ReceiptHandle: 'rh-m2', VisibilityTimeout: 8 }],
    });
  });

  it('logs and returns when SQS refuses, naming messages, never bodies', async () => {
    const { logger, warnings } = recordingLogger();
    sqs.on(ChangeMessageVisibilityBatchCommand).rejects(new Error('AccessDenied'));
    const a = received(messageOf('m1', change('PUT', 'a', '1', { secret: 'value' })), 1);
    await expect(shortenVisibility(new SQSClient({ region: 'eu-west-2' }), [a], logger)).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).toContain('m1');
    expect(JSON.stringify(warnings)).not.toContain('value');
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] });
    await shortenVisibility(new SQSClient({ region: 'eu-west-2' }), [a], logger);
    expect(warnings[1]?.fields).toEqual({ messageId: 'm1', code: 'ReceiptHandleIsInvalid' });
  });
});

describe('applyBatch with a visibility backoff', () => {
  const deps = (logger: StructuredLogger) => ({
    config: { sourceTableName: 'source', targetTableName: 'target', keySchema, visibilityBackoff: { baseSeconds: 2, maxSeconds: 60 } },
    targetClient: new DynamoDBClient({ region: 'eu-west-2' }),
    sourceClient: new DynamoDBClient({ region: 'eu-west-1' }),
    sqsClient: new SQSClient({ region: 'eu-west-2' }),
    metrics: createReplicationMetrics({ namespace: 'Test', replication: 'test', target: 'dr', sink: new MemoryMetricsSink() }),
    logger,
    writeOptions: { maxAttempts: 1, sleep: () => Promise.resolve(), random: () => 0 },
  });

  it('shortens the visibility of exactly the failed messages (the throttled one and the rest of its group) before reporting them', async () => {
    const { logger } = recordingLogger();
    ddb.on(BatchWriteItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));
    const records = [received(messageOf('m1', change('PUT', 'a', '1')), 2), received(messageOf('m2', change('PUT', 'a', '1', { x: '2' })), 1)];
    const response = await applyBatch(records, 60_000, deps(logger));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m1', 'm2']);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)[0]?.args[0].input.Entries).toEqual([
      { Id: '0', ReceiptHandle: 'rh-m1', VisibilityTimeout: 4 },
      { Id: '1', ReceiptHandle: 'rh-m2', VisibilityTimeout: 2 },
    ]);
  });

  it('still reports every failure when ChangeMessageVisibility itself fails', async () => {
    const { logger, warnings } = recordingLogger();
    ddb.on(BatchWriteItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    sqs.on(ChangeMessageVisibilityBatchCommand).rejects(new Error('network down'));
    const response = await applyBatch([received(messageOf('m1', change('PUT', 'a', '1')), 1)], 60_000, deps(logger));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(warnings.some((w) => w.message.startsWith('visibility backoff not set'))).toBe(true);
  });

  it('calls nothing when the batch succeeds', async () => {
    const { logger } = recordingLogger();
    ddb.on(BatchWriteItemCommand).resolves({});
    await applyBatch([received(messageOf('m1', change('PUT', 'a', '1')), 1)], 60_000, deps(logger));
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
  });
});
