import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { applyUnlessFrozen, cachedFreezeReader, controlTableName, readFreezeState, type FreezeState } from '../../handlers/core/freeze';
import type { StructuredLogger } from '../../handlers/core/logger';
import { change, keySchema, messageOf } from './support/sqs';

/**
 * The freeze (issue 17 §2): a batch delivered after a target was frozen is written nowhere and kept
 * (every message reported failed, none deleted); an unreadable mark keeps the batch too.
 */
const logs: { level: string; message: string }[] = [];
const logger: StructuredLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => void logs.push({ level: 'warn', message }),
  error: (message: string) => void logs.push({ level: 'error', message }),
};
const records = [messageOf('m1', change('PUT', 'a', '1', { x: '1' })), messageOf('m2', change('PUT', 'b', '1', { x: '2' }))];

describe('cachedFreezeReader', () => {
  test('keeps a read for the TTL, then reads again', async () => {
    let now = 0;
    const states: FreezeState[] = [{ frozen: false }, { frozen: true, frozenAt: 't', reason: 'cutover' }];
    let reads = 0;
    const reader = cachedFreezeReader(async () => states[reads++], { ttlMs: 1000, now: () => now });
    expect(await reader.state()).toEqual({ frozen: false });
    now = 999;
    expect(await reader.state()).toEqual({ frozen: false });
    now = 1000;
    expect(await reader.state()).toEqual({ frozen: true, frozenAt: 't', reason: 'cutover' });
    expect(reads).toBe(2);
  });

  test('a failed read is not cached', async () => {
    let calls = 0;
    const reader = cachedFreezeReader(async () => {
      calls += 1;
      if (calls === 1) throw new Error('throttled');
      return { frozen: false };
    }, { now: () => 0 });
    await expect(reader.state()).rejects.toThrow('throttled');
    expect(await reader.state()).toEqual({ frozen: false });
  });
});

describe('applyUnlessFrozen', () => {
  beforeEach(() => logs.splice(0));
  const applied = jest.fn(async (): Promise<SQSBatchResponse> => ({ batchItemFailures: [] }));
  beforeEach(() => applied.mockClear());

  test('not frozen: the batch is applied', async () => {
    expect(await applyUnlessFrozen(records, { state: async () => ({ frozen: false }) }, logger, applied)).toEqual({ batchItemFailures: [] });
    expect(applied).toHaveBeenCalledTimes(1);
  });

  test('frozen: nothing applied, every message reported failed (kept in the queue)', async () => {
    const result = await applyUnlessFrozen(records, { state: async () => ({ frozen: true, frozenAt: '2026-12-01T00:00:00Z', reason: 'cutover' }) }, logger, applied);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    expect(applied).not.toHaveBeenCalled();
    expect(logs).toEqual([{ level: 'warn', message: 'target is frozen; batch kept in the queue, nothing written' }]);
  });

  test('mark unreadable: fail closed, every message kept', async () => {
    const result = await applyUnlessFrozen(records, { state: async () => { throw new Error('AccessDenied'); } }, logger, applied);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m1', 'm2']);
    expect(applied).not.toHaveBeenCalled();
    expect(logs[0].level).toBe('error');
  });

  test('no control table configured: applied as before', async () => {
    await applyUnlessFrozen(records, undefined, logger, applied);
    expect(applied).toHaveBeenCalledTimes(1);
  });
});

const sts = mockClient(STSClient);
const ddb = mockClient(DynamoDBClient);

describe('the apply handler with a control table', () => {
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-1', functionName: 'apply' } as unknown as Context;
  let handler: (typeof import('../../handlers/apply'))['handler'];

  beforeAll(() => {
    ddb.reset();
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'AKID', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } });
    ddb.on(BatchWriteItemCommand).resolves({});
    const saved = { ...process.env };
    Object.assign(process.env, {
      REPLICATION_NAME: 'orders', TARGET_NAME: 'dr', SOURCE_TABLE_NAME: 'source', SOURCE_REGION: 'eu-west-1', KEY_SCHEMA: JSON.stringify(keySchema),
      TARGET_TABLE_NAME: 'target', TARGET_REGION: 'eu-west-2', TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/r', TARGET_EXTERNAL_ID: 'ext-123',
      LOG_LEVEL: 'SILENT', METRICS_SINK: 'off', CONTROL_TABLE_NAME: controlTableName('demo'),
    });
    // Required after the environment is set: the module reads it at load, as in Lambda.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the environment above is set
    ({ handler } = require('../../handlers/apply') as typeof import('../../handlers/apply'));
    process.env = saved;
  });

  test('frozen after the first batch: the next batch (after the cache TTL) is not written and is kept', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'queueMicrotask'] });
    try {
      ddb.on(GetItemCommand, { TableName: 'ddbrepl-demo-control' }).resolvesOnce({}).resolves({ Item: { target: { S: 'dr' }, frozen: { BOOL: true }, frozenAt: { S: '2026-12-01T00:00:00.000Z' }, reason: { S: 'cutover' } } });
      const event: SQSEvent = { Records: records };
      expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
      expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(1);

      jest.setSystemTime(Date.now() + 10_000); // the TTL has passed: the mark is read again
      expect(await handler(event, context)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
      expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(1); // nothing more written
      const reads = ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input);
      expect(reads).toEqual([
        { TableName: 'ddbrepl-demo-control', Key: { target: { S: 'dr' } }, ConsistentRead: true },
        { TableName: 'ddbrepl-demo-control', Key: { target: { S: 'dr' } }, ConsistentRead: true },
      ]);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('readFreezeState', () => {
  test('no item, or frozen not true: not frozen', async () => {
    ddb.reset();
    ddb.on(GetItemCommand).resolvesOnce({}).resolvesOnce({ Item: { target: { S: 'dr' }, frozen: { BOOL: false } } });
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    expect(await readFreezeState(client, 't', 'dr')).toEqual({ frozen: false });
    expect(await readFreezeState(client, 't', 'dr')).toEqual({ frozen: false });
  });
});
