import { BatchWriteItemCommand, DynamoDBClient, DynamoDBServiceException, GetItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { applyBatch, applyConfigFromEnv, type ApplyDeps } from '../../handlers/core/apply-batch';
import { compileTargetPolicy } from '../../handlers/core/target-policy';
import { targetFilterSchema, targetRedactionSchema } from '../../schemas/replication-config';
import type { StructuredLogger } from '../../handlers/core/logger';
import { createReplicationMetrics, MemoryMetricsSink } from '../../handlers/core/metrics';
import { change, keySchema, messageOf, sqsRecord } from './support/sqs';

const ddb = mockClient(DynamoDBClient);
const NOW = 10_000;

function setup(overrides: Partial<ApplyDeps> = {}) {
  const sink = new MemoryMetricsSink();
  const logs: { level: string; message: string; fields: unknown[] }[] = [];
  const record = (level: string) => (message: unknown, ...fields: unknown[]) => { logs.push({ level, message: String(message), fields }); };
  const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') } as unknown as StructuredLogger;
  const deps: ApplyDeps = {
    config: { sourceTableName: 'source', targetTableName: 'target', keySchema },
    targetClient: new DynamoDBClient({ region: 'eu-west-2' }),
    sourceClient: new DynamoDBClient({ region: 'eu-west-1' }),
    metrics: createReplicationMetrics({ namespace: 'Test', replication: 'orders', target: 'dr', sink }),
    logger,
    now: () => NOW,
    writeOptions: { maxAttempts: 2, sleep: () => Promise.resolve(), random: () => 0 },
    ...overrides,
  };
  return { deps, sink, logs };
}

const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }) => response.batchItemFailures.map((f) => f.itemIdentifier);
const writtenRequests = (): WriteRequest[] => ddb.commandCalls(BatchWriteItemCommand).flatMap((c) => c.args[0].input.RequestItems?.target ?? []);
const pkOf = (r: WriteRequest) => (r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.pk?.S;
/** Keeps handing back the requests for partition key `pk` as unprocessed. */
const throttleKey = (pk: string) =>
  ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => ({
    UnprocessedItems: { target: (input.RequestItems.target ?? []).filter((r) => pkOf(r) === pk) },
  }));

beforeEach(() => {
  ddb.reset();
  ddb.on(BatchWriteItemCommand).resolves({});
});

describe('applyBatch', () => {
  it('writes every change in one BatchWriteItem and reports metrics dimensioned by replication and target', async () => {
    const { deps, sink } = setup();
    const records = [messageOf('m1', change('PUT', 'a', '1', { x: 'v' }, 4_000)), messageOf('m2', change('DELETE', 'b', '1', {}, 7_000))];

    const response = await applyBatch(records, 60_000, deps);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(1);
    expect(writtenRequests()).toEqual([
      { PutRequest: { Item: { pk: { S: 'a' }, sk: { N: '1' }, x: { S: 'v' } } } },
      { DeleteRequest: { Key: { pk: { S: 'b' }, sk: { N: '1' } } } },
    ]);
    expect(sink.records).toHaveLength(1);
    const emf = sink.records[0] as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Test', Dimensions: [['Replication', 'Target']] });
    expect(emf._aws.CloudWatchMetrics[0]?.Metrics).toEqual(expect.arrayContaining([{ Name: 'ReplicationLagMs', Unit: 'Milliseconds' }, { Name: 'ChangesApplied', Unit: 'Count' }]));
    expect(emf).toMatchObject({ Replication: 'orders', Target: 'dr', ChangesApplied: 2, ChangesCoalesced: 0, ApplyFailures: 0, ResyncsApplied: 0, ReplicationLagMs: [6_000, 3_000] });
  });

  it('coalesces changes to one item into its last change', async () => {
    const { deps, sink } = setup();
    const records = [messageOf('m1', change('PUT', 'a', '1', { x: '1' })), messageOf('m2', change('PUT', 'a', '1', { x: '2' })), messageOf('m3', change('DELETE', 'a', '1'))];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual([]);
    expect(writtenRequests()).toEqual([{ DeleteRequest: { Key: { pk: { S: 'a' }, sk: { N: '1' } } } }]);
    expect(sink.records[0]).toMatchObject({ ChangesApplied: 3, ChangesCoalesced: 2 });
  });

  it('fails message 2 of group A and every later message of A; group B is unaffected', async () => {
    const { deps, sink } = setup();
    const records = [
      messageOf('b1', change('PUT', 'b', '1')),
      messageOf('a1', change('PUT', 'a', '1')),
      messageOf('b2', change('PUT', 'b', '2')),
      messageOf('a2', change('PUT', 'a', '2')),
      messageOf('a3', change('PUT', 'a', '3')),
      messageOf('b3', change('DELETE', 'b', '3')),
    ];
    // Only a2's item stays unprocessed.
    ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => ({
      UnprocessedItems: { target: (input.RequestItems.target ?? []).filter((r) => pkOf(r) === 'a' && r.PutRequest?.Item?.sk?.N === '2') },
    }));

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['a2', 'a3']);
    expect(sink.records[0]).toMatchObject({ ChangesApplied: 4, ApplyFailures: 2 });
  });

  it('fails an invalid body and the rest of its group, and never writes them', async () => {
    const { deps } = setup();
    const a1 = change('PUT', 'a', '1');
    const a3 = change('PUT', 'a', '3');
    const records = [
      messageOf('a1', a1),
      sqsRecord('a2', '{"v":1,"op":"PUT"', a1.groupId),
      messageOf('a3', a3),
      messageOf('b1', change('PUT', 'b', '1')),
    ];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['a2', 'a3']);
    expect(writtenRequests().map((r) => `${pkOf(r)}${r.PutRequest?.Item?.sk?.N}`)).toEqual(['a1', 'b1']);
  });

  it('fails an unknown envelope version like any invalid message', async () => {
    const { deps, logs } = setup();
    const b1 = change('PUT', 'b', '1');
    const records = [sqsRecord('b1', JSON.stringify({ ...b1, v: 2 }), b1.groupId), messageOf('b2', change('PUT', 'b', '2')), messageOf('c1', change('PUT', 'c', '1'))];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['b1', 'b2']);
    expect(logs.find((l) => l.message === 'invalid message body')?.fields[0]).toMatchObject({ messageId: 'b1', errorName: 'UnknownEnvelopeVersionError' });
  });

  it('treats an invalid message without MessageGroupId as its own group', async () => {
    const { deps } = setup();
    const response = await applyBatch([sqsRecord('x', 'nope', undefined), messageOf('a1', change('PUT', 'a', '1'))], 60_000, deps);
    expect(failedIds(response)).toEqual(['x']);
  });

  it('resolves RESYNC with a consistent read of the source: put if present, delete if gone', async () => {
    const { deps, sink } = setup();
    ddb.on(GetItemCommand, { Key: { pk: { S: 'live' }, sk: { N: '1' } } }).resolves({ Item: { pk: { S: 'live' }, sk: { N: '1' }, now: { N: '42' } } });
    ddb.on(GetItemCommand, { Key: { pk: { S: 'gone' }, sk: { N: '1' } } }).resolves({});

    const response = await applyBatch([messageOf('r1', change('RESYNC', 'live', '1')), messageOf('r2', change('RESYNC', 'gone', '1'))], 60_000, deps);

    expect(failedIds(response)).toEqual([]);
    expect(ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input)).toEqual([
      { TableName: 'source', Key: { pk: { S: 'live' }, sk: { N: '1' } }, ConsistentRead: true },
      { TableName: 'source', Key: { pk: { S: 'gone' }, sk: { N: '1' } }, ConsistentRead: true },
    ]);
    expect(writtenRequests()).toEqual([
      { PutRequest: { Item: { pk: { S: 'live' }, sk: { N: '1' }, now: { N: '42' } } } },
      { DeleteRequest: { Key: { pk: { S: 'gone' }, sk: { N: '1' } } } },
    ]);
    expect(sink.records[0]).toMatchObject({ ResyncsApplied: 2 });
  });

  it('resolves RESYNC on a redacted target to the redacted image, never the source item as is', async () => {
    const policy = compileTargetPolicy({ filter: targetFilterSchema.parse({}), redaction: targetRedactionSchema.parse({ exclude: ['ssn'], redact: ['email'] }) }, keySchema);
    const { deps } = setup();
    deps.config = { ...deps.config, policy };
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'live' }, sk: { N: '1' }, email: { S: 'a@example.com' }, ssn: { S: '123' }, n: { N: '1.50' } } });

    const response = await applyBatch([messageOf('r1', change('RESYNC', 'live', '1'))], 60_000, deps);

    expect(failedIds(response)).toEqual([]);
    expect(writtenRequests()).toEqual([{ PutRequest: { Item: { pk: { S: 'live' }, sk: { N: '1' }, email: { S: 'REDACTED' }, n: { N: '1.50' } } } }]);
  });

  it('resolves RESYNC of an item outside the target\'s filter to a delete (prefix and attribute conditions on the item)', async () => {
    const filter = targetFilterSchema.parse({ partitionKeyPrefixes: ['eu#'], attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }] }] });
    const { deps } = setup();
    deps.config = { ...deps.config, policy: compileTargetPolicy({ filter }, keySchema) };
    ddb.on(GetItemCommand, { Key: { pk: { S: 'us#1' }, sk: { N: '1' } } }).resolves({ Item: { pk: { S: 'us#1' }, sk: { N: '1' }, status: { S: 'active' } } });
    ddb.on(GetItemCommand, { Key: { pk: { S: 'eu#2' }, sk: { N: '1' } } }).resolves({ Item: { pk: { S: 'eu#2' }, sk: { N: '1' }, status: { S: 'closed' } } });
    ddb.on(GetItemCommand, { Key: { pk: { S: 'eu#3' }, sk: { N: '1' } } }).resolves({ Item: { pk: { S: 'eu#3' }, sk: { N: '1' }, status: { S: 'active' } } });

    const response = await applyBatch(['us#1', 'eu#2', 'eu#3'].map((pk, i) => messageOf(`r${i}`, change('RESYNC', pk, '1'))), 60_000, deps);

    expect(failedIds(response)).toEqual([]);
    expect(writtenRequests()).toEqual([
      { DeleteRequest: { Key: { pk: { S: 'us#1' }, sk: { N: '1' } } } },
      { DeleteRequest: { Key: { pk: { S: 'eu#2' }, sk: { N: '1' } } } },
      { PutRequest: { Item: { pk: { S: 'eu#3' }, sk: { N: '1' }, status: { S: 'active' } } } },
    ]);
  });

  it('reads the target\'s policy from TARGET_FILTER and TARGET_REDACTION', () => {
    const env = {
      REPLICATION_NAME: 'orders', TARGET_NAME: 'dr', SOURCE_TABLE_NAME: 's', SOURCE_REGION: 'eu-west-1', TARGET_TABLE_NAME: 't', TARGET_REGION: 'eu-west-2',
      TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/r', TARGET_EXTERNAL_ID: 'x', KEY_SCHEMA: JSON.stringify(keySchema),
      TARGET_FILTER: JSON.stringify({ partitionKeyPrefixes: ['eu#'] }),
      TARGET_REDACTION: JSON.stringify({ redact: ['email'], redactWith: { token: '***' } }),
    };
    const { view } = applyConfigFromEnv(env).policy ?? { view: undefined };
    expect(view?.({ pk: { S: 'us#1' }, sk: { N: '1' } })).toBeUndefined();
    expect(view?.({ pk: { S: 'eu#1' }, sk: { N: '1' }, email: { S: 'a' } })).toEqual({ pk: { S: 'eu#1' }, sk: { N: '1' }, email: { S: '***' } });
    expect(() => applyConfigFromEnv({ ...env, TARGET_REDACTION: '{' })).toThrow('TARGET_REDACTION is not JSON');
    expect(applyConfigFromEnv(env).replicationName).toBe('orders');
    expect(() => applyConfigFromEnv({ ...env, REPLICATION_NAME: '' })).toThrow('environment variable REPLICATION_NAME is not set');
  });

  it('fails a RESYNC whose source read fails, with the rest of its group', async () => {
    const { deps } = setup();
    ddb.on(GetItemCommand).rejects(new DynamoDBServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'denied' }));
    const records = [messageOf('a1', change('RESYNC', 'a', '1')), messageOf('a2', change('PUT', 'a', '2')), messageOf('b1', change('PUT', 'b', '1'))];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['a1', 'a2']);
    expect(writtenRequests().map(pkOf)).toEqual(['a', 'b']);
  });

  it('fails a coalesced-away message when the surviving write of its key failed', async () => {
    const { deps } = setup();
    throttleKey('a');
    const records = [messageOf('a1', change('PUT', 'a', '1', { x: '1' })), messageOf('b1', change('PUT', 'b', '1')), messageOf('a2', change('PUT', 'a', '1', { x: '2' }))];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['a1', 'a2']);
  });

  it('fails everything a non-retryable write error rejects', async () => {
    const { deps, logs } = setup();
    ddb.on(BatchWriteItemCommand).rejects(new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Item size has exceeded the maximum allowed size' }));
    const response = await applyBatch([messageOf('a1', change('PUT', 'a', '1')), messageOf('b1', change('PUT', 'b', '1'))], 60_000, deps);
    expect(failedIds(response)).toEqual(['a1', 'b1']);
    // Rejected together, then retried one by one (so that one bad change cannot fail the others).
    expect(logs.filter((l) => l.message === 'write rejected').map((l) => l.fields[0])).toEqual([
      expect.objectContaining({ messages: ['a1'], errorName: 'ValidationException' }),
      expect.objectContaining({ messages: ['b1'], errorName: 'ValidationException' }),
    ]);
  });

  it('fails only the group whose change DynamoDB rejects as invalid, never the other groups in the batch', async () => {
    const { deps } = setup();
    ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => {
      if ((input.RequestItems.target ?? []).some((r) => pkOf(r) === 'a')) {
        throw new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Item size has exceeded the maximum allowed size' });
      }
      return {};
    });
    const records = [messageOf('b1', change('PUT', 'b', '1')), messageOf('a1', change('PUT', 'a', '1')), messageOf('c1', change('PUT', 'c', '1')), messageOf('a2', change('PUT', 'a', '2'))];

    const response = await applyBatch(records, 60_000, deps);

    expect(failedIds(response)).toEqual(['a1', 'a2']);
  });

  it('fails every message without writing when the remaining time is within the safety margin', async () => {
    const { deps } = setup();
    const response = await applyBatch([messageOf('a1', change('PUT', 'a', '1'))], 2_000, deps);
    expect(failedIds(response)).toEqual(['a1']);
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(0);
  });

  it('logs counts and identifiers, never keys or values', async () => {
    const { deps, logs } = setup();
    throttleKey('secret-pk');
    const records = [
      messageOf('a1', change('PUT', 'secret-pk', '1', { card: 'secret-value' })),
      sqsRecord('a2', '{"v":1,"keys":{"pk":{"S":"secret-pk"}},"image":"secret-value"}', 'g'),
    ];
    await applyBatch(records, 60_000, deps);
    const text = JSON.stringify(logs);
    expect(text).not.toContain('secret');
    expect(logs.some((l) => l.message === 'batch applied')).toBe(true);
    expect(logs.find((l) => l.message === 'message failed')?.fields[0]).toMatchObject({ messageId: 'a1', reason: 'write', eventId: expect.stringMatching(/^event-/) });
  });
});
