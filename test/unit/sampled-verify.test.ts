import { DescribeTableCommand, DynamoDBClient, DynamoDBServiceException, GetItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import { MemoryMetricsSink } from '../../handlers/core/metrics';
import { sampledVerify, sampledVerifyConfigFromEnv, sampleTable, type SampledVerifyConfig } from '../../handlers/core/sampled-verify';
import { compileTargetPolicy } from '../../handlers/core/target-policy';
import { createVerifyMetrics } from '../../handlers/core/verify-metrics';
import { targetFilterSchema } from '../../schemas/replication-config';

/** The sampled verification core over mocked DynamoDB and SQS: sampling, comparison in the target's view, settle re-check, repair, metrics. */

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
const ddb = mockClient(DynamoDBClient);
const sqsMock = mockClient(SQSClient);
const source = new DynamoDBClient({ region: 'eu-west-1' });
const target = new DynamoDBClient({ region: 'eu-central-1' });
const item = (pk: string, v = 'x', extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({ pk: { S: pk }, v: { S: v }, ...extra });
const identity: SampledVerifyConfig['view'] = (i) => i;
const config = (over: Partial<SampledVerifyConfig> = {}): SampledVerifyConfig => ({ sourceTableName: 'src', targetTableName: 'tgt', keySchema, sampleSize: 3, settleMs: 30_000, autoRepair: false, view: identity, ...over });

/** A table as the mocks serve it: DescribeTable's ItemCount, Scan of one segment, GetItem by key. */
function table(name: string, items: Record<string, AttributeValue>[], itemCount = items.length): void {
  ddb.on(DescribeTableCommand, { TableName: name }).resolves({ Table: { ItemCount: itemCount } });
  ddb.on(ScanCommand, { TableName: name }).callsFake((input: { Segment: number; TotalSegments: number; Limit: number }) => ({
    Items: items.filter((_, i) => i % input.TotalSegments === input.Segment).slice(0, input.Limit),
  }));
  ddb.on(GetItemCommand, { TableName: name }).callsFake((input: { Key: { pk: { S: string } } }) => {
    const found = items.find((i) => i.pk.S === input.Key.pk.S);
    return found === undefined ? {} : { Item: found };
  });
}

beforeEach(() => {
  ddb.reset();
  sqsMock.reset();
});

describe('sampleTable', () => {
  it('draws one segment of ItemCount / size segments, Limit = size, and steps on when it runs short', async () => {
    const items = Array.from({ length: 30 }, (_, i) => item(`k${i}`));
    table('src', items);
    const sample = await sampleTable(source, 'src', 5, () => 0.5);
    expect(sample).toHaveLength(5);
    const scans = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input);
    expect(scans[0]).toMatchObject({ TotalSegments: 6, Segment: 3, Limit: 5 });
    // Segment 3 of 6 holds k3, k9, k15, k21, k27: exactly those.
    expect(sample.map((i) => (i.pk as { S: string }).S)).toEqual(['k3', 'k9', 'k15', 'k21', 'k27']);

    ddb.reset();
    table('stale', items, 300); // ItemCount 10× too high: 60 segments of ~½ item, so it steps on to the next ones
    expect((await sampleTable(source, 'stale', 5, () => 0)).map((i) => (i.pk as { S: string }).S)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(ddb.commandCalls(ScanCommand).map((c) => c.args[0].input.Segment)).toEqual([0, 1, 2, 3, 4]);

    ddb.reset();
    table('tiny', items.slice(0, 2), 0); // ItemCount 0 (not refreshed yet): one segment, the whole table
    expect(await sampleTable(source, 'tiny', 5, () => 0.99)).toHaveLength(2);
    expect(ddb.commandCalls(ScanCommand)[0].args[0].input).toMatchObject({ TotalSegments: 1, Segment: 0 });
  });
});

describe('sampledVerify', () => {
  it('finds missing, extra and different items; a change in flight that lands during the settle time is not counted', async () => {
    const src = [item('a'), item('b', 'new'), item('c', 'x', { n: { N: '1.50' } }), item('d', 'new')];
    const tgt = [item('b', 'old'), item('c', 'x', { n: { N: '1.5' } }), item('d', 'old'), item('zz-extra')];
    table('src', src);
    table('tgt', tgt);
    const settled: number[] = [];
    const result = await sampledVerify({
      config: config({ sampleSize: 10 }), source, target, random: () => 0,
      // While verify waits, the pipeline applies d's change.
      sleep: (ms) => {
        settled.push(ms);
        tgt[2] = item('d', 'new');
        return Promise.resolve();
      },
    });
    expect(settled).toEqual([30_000]);
    expect(result).toMatchObject({ sampled: 8, mismatches: 3, missing: 1, extra: 1, different: 1, resolvedOnRecheck: 1, repaired: 0 });
    expect(result.keys.map((k) => `${k.kind} ${(k.keys.pk as { S: string }).S}`).sort()).toEqual(['different b', 'extra zz-extra', 'missing a']);
    // Reads of the target are consistent.
    expect(ddb.commandCalls(GetItemCommand, { TableName: 'tgt' }).every((c) => c.args[0].input.ConsistentRead === true)).toBe(true);
  });

  it('nothing differs: no settle wait, no repair', async () => {
    table('src', [item('a'), item('b')]);
    table('tgt', [item('b'), item('a')]);
    const result = await sampledVerify({ config: config({ autoRepair: true, queueUrl: 'q' }), source, target, sqs: new SQSClient({}), sleep: () => Promise.reject(new Error('no wait expected')) });
    expect(result).toMatchObject({ sampled: 4, mismatches: 0, repaired: 0 });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('compares in the target\'s view: a filtered-out source item is not expected, one in the target is extra', async () => {
    const policy = compileTargetPolicy({ filter: targetFilterSchema.parse({ partitionKeyPrefixes: ['in#'] }) }, keySchema);
    table('src', [item('in#1'), item('out#1'), item('out#2')]);
    table('tgt', [item('in#1'), item('out#2')]);
    const result = await sampledVerify({ config: config({ view: policy.view, sampleSize: 10 }), source, target, sleep: () => Promise.resolve() });
    expect(result).toMatchObject({ mismatches: 1, extra: 1, missing: 0, different: 0 });
    expect(result.keys[0].keys).toEqual({ pk: { S: 'out#2' } });
  });

  it('autoRepair enqueues one RESYNC per confirmed mismatch on the target queue, never writes the target', async () => {
    table('src', [item('a'), item('b', 'new')]);
    table('tgt', [item('b', 'old'), item('c')]);
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const result = await sampledVerify({ config: config({ autoRepair: true, queueUrl: 'https://sqs/q.fifo' }), source, target, sqs: new SQSClient({}), sleep: () => Promise.resolve() });
    expect(result).toMatchObject({ mismatches: 3, repaired: 3 });
    const entries = sqsMock.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(sqsMock.commandCalls(SendMessageBatchCommand).every((c) => c.args[0].input.QueueUrl === 'https://sqs/q.fifo')).toBe(true);
    const envelopes = entries.map((e) => ({ entry: e, envelope: decodeEnvelope(e.MessageBody!) }));
    expect(envelopes.map(({ envelope }) => (envelope.keys.pk as { S: string }).S).sort()).toEqual(['a', 'b', 'c']);
    for (const { entry, envelope } of envelopes) {
      expect(envelope).toMatchObject({ op: 'RESYNC', origin: 'repair', table: 'src', groupId: groupIdFor(envelope.keys, keySchema) });
      expect(entry).toMatchObject({ MessageGroupId: envelope.groupId, MessageDeduplicationId: envelope.eventId });
    }
    expect(ddb.commandCalls(GetItemCommand).length).toBeGreaterThan(0);
    expect(ddb.calls().every((c) => ['DescribeTableCommand', 'ScanCommand', 'GetItemCommand'].includes(c.args[0].constructor.name))).toBe(true);
  });

  it('refuses autoRepair without a queue', async () => {
    await expect(sampledVerify({ config: config({ autoRepair: true }), source, target, sleep: () => Promise.resolve() })).rejects.toThrow('autoRepair needs the target queue');
  });
});

describe('configuration and metrics', () => {
  const env = {
    REPLICATION_NAME: 'orders', TARGET_NAME: 'dr', SOURCE_TABLE_NAME: 'src', SOURCE_REGION: 'eu-west-1', TARGET_TABLE_NAME: 'tgt', TARGET_REGION: 'eu-central-1',
    TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/r', TARGET_EXTERNAL_ID: 'ext', KEY_SCHEMA: JSON.stringify(keySchema),
  };

  it('reads the function environment with defaults and exact errors', () => {
    expect(sampledVerifyConfigFromEnv(env)).toMatchObject({ replicationName: 'orders', sampleSize: 100, settleMs: 30_000, autoRepair: false });
    expect(sampledVerifyConfigFromEnv({ ...env, VERIFY_SAMPLE_SIZE: '20', VERIFY_SETTLE_SECONDS: '5', VERIFY_AUTO_REPAIR: 'true', QUEUE_URL: 'q' })).toMatchObject({ sampleSize: 20, settleMs: 5000, autoRepair: true, queueUrl: 'q' });
    expect(() => sampledVerifyConfigFromEnv({ ...env, VERIFY_AUTO_REPAIR: 'true' })).toThrow('environment variable QUEUE_URL is required when VERIFY_AUTO_REPAIR is true');
    expect(() => sampledVerifyConfigFromEnv({ ...env, VERIFY_AUTO_REPAIR: 'yes' })).toThrow('environment variable VERIFY_AUTO_REPAIR must be "true" or "false", got "yes"');
    expect(() => sampledVerifyConfigFromEnv({ ...env, REPLICATION_NAME: '' })).toThrow('environment variable REPLICATION_NAME is not set');
  });

  it('publish VerifySampled and VerifyMismatches with the Replication and Target dimensions only', async () => {
    const sink = new MemoryMetricsSink();
    await createVerifyMetrics({ namespace: 'Repl', replication: 'orders', target: 'dr', sink }).publish({ sampled: 200, mismatches: 2 });
    const record = sink.records[0] as { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    expect(record._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Replication', 'Target']]);
    expect(record._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name).sort()).toEqual(['VerifyMismatches', 'VerifySampled']);
    expect(record).toMatchObject({ Replication: 'orders', Target: 'dr', VerifySampled: 200, VerifyMismatches: 2 });
  });

  // The module builds its default handler at load, from process.env: load it with a valid environment.
  const buildHandler = (handlerEnv: NodeJS.ProcessEnv) => {
    const saved = { ...process.env };
    Object.assign(process.env, env, { METRICS_SINK: 'off', LOG_LEVEL: 'SILENT' });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the environment is set (see above)
      return (require('../../handlers/sampled-verify') as typeof import('../../handlers/sampled-verify')).buildHandler(handlerEnv);
    } finally {
      process.env = saved;
    }
  };

  it('records each run in the target\'s replication state table (STATE_TABLE_NAME), for the failover report', async () => {
    table('src', [item('a'), item('b')]);
    table('tgt', [item('a')]);
    ddb.on(UpdateItemCommand).resolves({});
    const handler = buildHandler({ ...env, METRICS_SINK: 'off', LOG_LEVEL: 'SILENT', VERIFY_SETTLE_SECONDS: '0', STATE_TABLE_NAME: 'ddbrepl-orders-dr-state' });
    const before = new Date().toISOString();

    const result = await handler({});

    expect(result).toMatchObject({ mismatches: 1, missing: 1, repaired: 0 });
    const [update] = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(update).toMatchObject({ TableName: 'ddbrepl-orders-dr-state', Key: { kind: { S: 'lastSampledVerify' } } });
    expect(update.ExpressionAttributeValues).toMatchObject({ ':sampled': { N: String(result.sampled) }, ':mismatches': { N: '1' }, ':repaired': { N: '0' } });
    expect((update.ExpressionAttributeValues?.[':at']?.S ?? '') >= before).toBe(true);
  });

  it('a failed state write does not fail the run; without STATE_TABLE_NAME nothing is written', async () => {
    table('src', [item('a')]);
    table('tgt', [item('a')]);
    ddb.on(UpdateItemCommand).rejects(new DynamoDBServiceException({ name: 'ResourceNotFoundException', $fault: 'client', $metadata: {}, message: 'Requested resource not found' }));
    await expect(buildHandler({ ...env, METRICS_SINK: 'off', LOG_LEVEL: 'SILENT', STATE_TABLE_NAME: 'missing' })({})).resolves.toMatchObject({ mismatches: 0 });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(1);
    await buildHandler({ ...env, METRICS_SINK: 'off', LOG_LEVEL: 'SILENT' })({});
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(1);
  });
});
