import { BatchWriteItemCommand, ConditionalCheckFailedException, DynamoDBClient, DynamoDBServiceException, GetItemCommand, UpdateItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { applyBatch, applyConfigFromEnv, type ApplyDeps } from '../../handlers/core/apply-batch';
import { createReplicationMetrics, MemoryMetricsSink } from '../../handlers/core/metrics';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { change, messageOf } from './support/sqs';

/**
 * The apply records the newest change of each batch it has written in the target's replication
 * state table (docs/disaster-recovery.md, "What the failover reports"), with one conditional
 * UpdateItem, and a failure there never fails the batch.
 */
const ddb = mockClient(DynamoDBClient);
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function setup(stateTableName: string | null = 'ddbrepl-orders-dr-state') {
  const sink = new MemoryMetricsSink();
  const logs: { level: string; message: string; fields: unknown[] }[] = [];
  const record = (level: string) => (message: unknown, ...fields: unknown[]) => { logs.push({ level, message: String(message), fields }); };
  const deps: ApplyDeps = {
    config: { sourceTableName: 'source', targetTableName: 'target', keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } }, ...(stateTableName === null ? {} : { stateTableName }) },
    targetClient: new DynamoDBClient({ region: 'eu-west-2' }),
    sourceClient: new DynamoDBClient({ region: 'eu-west-1' }),
    metrics: createReplicationMetrics({ namespace: 'Test', replication: 'orders', target: 'dr', sink }),
    logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    now: () => NOW,
    writeOptions: { maxAttempts: 1, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { deps, sink, logs };
}

const at = (seq: string, ms: number, pk: string, attrs: Record<string, string> = {}): ChangeEnvelopeV1 => ({ ...change('PUT', pk, '1', attrs, ms), seq, eventId: `ev-${seq}` });
const updates = () => ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
const pkOf = (r: WriteRequest) => (r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.pk?.S;

beforeEach(() => {
  ddb.reset();
  ddb.on(BatchWriteItemCommand).resolves({});
  ddb.on(UpdateItemCommand).resolves({});
});

describe('the apply records the last applied change', () => {
  it('records the newest change of the batch — creation time first, then the sequence number — with one conditional UpdateItem', async () => {
    const { deps, sink } = setup();
    const records = [
      messageOf('m1', at('300000000000000000001', 2_000_000, 'a')),
      // Same creation time as m3, smaller sequence: m3 wins the tiebreak (sequences compare by value, not as text).
      messageOf('m2', at('99999999999999999999', 5_000_000, 'b')),
      messageOf('m3', at('100000000000000000000', 5_000_000, 'c')),
      messageOf('m4', at('900000000000000000000', 4_000_000, 'd')),
    ];

    const response = await applyBatch(records, 60_000, deps);

    expect(response.batchItemFailures).toEqual([]);
    expect(updates()).toHaveLength(1);
    const input = updates()[0];
    expect(input).toMatchObject({ TableName: 'ddbrepl-orders-dr-state', Key: { kind: { S: 'lastApplied' } } });
    expect(input.ExpressionAttributeValues).toMatchObject({
      ':at': { S: new Date(5_000_000).toISOString() },
      ':seq': { S: '100000000000000000000' },
      ':eid': { S: 'ev-100000000000000000000' },
      ':applied': { S: new Date(NOW).toISOString() },
    });
    // Only if the stored change is older: creation time, then the (padded) sequence.
    expect(input.ConditionExpression).toBe('attribute_not_exists(#at) OR #at < :at OR (#at = :at AND #ord < :ord)');
    expect(input.ExpressionAttributeNames).toMatchObject({ '#at': 'approximateCreationDateTime', '#ord': 'sequenceOrder' });
    expect(input.ExpressionAttributeValues?.[':ord']).toEqual({ S: '100000000000000000000'.padStart(40, '0') });
    expect(sink.records[0]).toMatchObject({ ChangesApplied: 4, ApplyStateWriteFailed: 0 });
  });

  it('records only changes that were written: a failed group does not count', async () => {
    const { deps } = setup();
    ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => ({
      UnprocessedItems: { target: (input.RequestItems.target ?? []).filter((r) => pkOf(r) === 'new') },
    }));
    const response = await applyBatch([messageOf('m1', at('5', 1_000, 'old')), messageOf('m2', at('9', 9_000, 'new'))], 60_000, deps);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(updates().map((u) => u.ExpressionAttributeValues?.[':seq'])).toEqual([{ S: '5' }]);
  });

  it('does not record repair or replay RESYNCs (no stream sequence), nor a batch that wrote nothing', async () => {
    const { deps, sink } = setup();
    const repair: ChangeEnvelopeV1 = { ...change('DELETE', 'a', '1'), op: 'RESYNC', seq: '', origin: 'repair' };
    // The RESYNC reads the source: gone there, so it deletes the key in the target.
    ddb.on(GetItemCommand).resolves({});
    await applyBatch([messageOf('r1', repair)], 60_000, deps);
    expect(updates()).toEqual([]);
    expect(sink.records[0]).toMatchObject({ ApplyStateWriteFailed: 0 });
  });

  it('takes "a newer change is already recorded" (ConditionalCheckFailed) as the expected outcome: no warning, no failure', async () => {
    const { deps, sink, logs } = setup();
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    const response = await applyBatch([messageOf('m1', at('5', 1_000, 'a'))], 60_000, deps);
    expect(response.batchItemFailures).toEqual([]);
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect(sink.records[0]).toMatchObject({ ApplyStateWriteFailed: 0 });
  });

  it('a failed state write fails nothing: the batch is applied, a warning without item values, ApplyStateWriteFailed = 1', async () => {
    const { deps, sink, logs } = setup();
    ddb.on(UpdateItemCommand).rejects(new DynamoDBServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'not authorized to perform: dynamodb:UpdateItem' }));
    const response = await applyBatch([messageOf('m1', at('5', 1_000, 'secret-pk', { card: 'secret-value' }))], 60_000, deps);

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(1);
    expect(sink.records[0]).toMatchObject({ ChangesApplied: 1, ApplyFailures: 0, ApplyStateWriteFailed: 1 });
    const warning = logs.find((l) => l.level === 'warn');
    expect(warning?.fields[0]).toMatchObject({ eventId: 'ev-5', errorName: 'AccessDeniedException' });
    expect(JSON.stringify(logs)).not.toContain('secret');
  });

  it('without a state table (STATE_TABLE_NAME unset) records nothing and publishes no ApplyStateWriteFailed', async () => {
    const { deps, sink } = setup(null);
    await applyBatch([messageOf('m1', at('5', 1_000, 'a'))], 60_000, deps);
    expect(updates()).toEqual([]);
    expect(sink.records[0]).not.toHaveProperty('ApplyStateWriteFailed');
  });

  it('reads the table name from STATE_TABLE_NAME', () => {
    const env = {
      REPLICATION_NAME: 'orders', TARGET_NAME: 'dr', SOURCE_TABLE_NAME: 's', SOURCE_REGION: 'eu-west-1', TARGET_TABLE_NAME: 't', TARGET_REGION: 'eu-west-2',
      TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/r', TARGET_EXTERNAL_ID: 'x', KEY_SCHEMA: JSON.stringify({ partitionKey: { name: 'pk', type: 'S' } }),
    };
    expect(applyConfigFromEnv({ ...env, STATE_TABLE_NAME: 'ddbrepl-orders-dr-state' }).stateTableName).toBe('ddbrepl-orders-dr-state');
    expect(applyConfigFromEnv(env).stateTableName).toBeUndefined();
  });
});
