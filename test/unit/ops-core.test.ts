import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { groupIdFor } from '../../handlers/core/group-id';
import { parseFraction, parsePositiveInt } from '../../cli/operator/args';
import { messageOf, repairEnvelope, replayEventId, resyncEnvelope } from '../../cli/operator/queues';
import { formatDuration, statusWarnings, type TargetStatus } from '../../cli/operator/status';
import { runVerify } from '../../cli/operator/verify';
import { measuredSettleMs } from '../../cli/commands/verify';
import { readSessionFile } from '../../local/control';
import { CliError, EXIT } from '../../cli/errors';
import { localTarget } from '../../cli/local/target';
import type { AttributeMapWire } from '../../schemas/attribute-value';

/** The pure parts of the operator commands: envelopes, warnings, argument parsing, the verify core over a mocked DynamoDB. */

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };

describe('RESYNC envelopes', () => {
  it('replay ids are deterministic, distinct per message, valid dedup ids (≤ 128 chars)', () => {
    const id = replayEventId('0f9e6c1a-6f1b-4a55-9d6c-2c0d3f1f7f10');
    expect(id).toBe(replayEventId('0f9e6c1a-6f1b-4a55-9d6c-2c0d3f1f7f10'));
    expect(id).not.toBe(replayEventId('0f9e6c1a-6f1b-4a55-9d6c-2c0d3f1f7f11'));
    expect(id).toMatch(/^replay-[A-Za-z0-9_-]{43}$/);
  });

  it('a replay RESYNC decodes as a valid v1 envelope, keys only, the failed message\'s group', () => {
    const keys = { pk: { S: 'emoji 🎉 key' }, sk: { N: '12345678901234567890123456789012345678' } };
    const envelope = resyncEnvelope({ table: 'orders', keys, groupId: groupIdFor(keys, keySchema), eventId: replayEventId('m'), origin: 'replay', now: 1 });
    const message = messageOf(envelope);
    expect(message.MessageBody).not.toMatch(/[\u{10000}-\u{10FFFF}]/u); // fauxqs-safe, same JSON value
    expect(decodeEnvelope(message.MessageBody)).toEqual({ v: 1, op: 'RESYNC', table: 'orders', keys, seq: '', at: 1, eventId: replayEventId('m'), groupId: groupIdFor(keys, keySchema), origin: 'replay' });
    expect(message).toMatchObject({ MessageGroupId: envelope.groupId, MessageDeduplicationId: envelope.eventId });
  });

  it('repair RESYNCs get a fresh id each time (a later repair of the same key is not deduplicated away)', () => {
    const keys = { pk: { S: 'a' }, sk: { N: '1' } };
    const [a, b] = [repairEnvelope('orders', keys, keySchema), repairEnvelope('orders', keys, keySchema)];
    expect(a.eventId).not.toBe(b.eventId);
    expect(decodeEnvelope(messageOf(a).MessageBody)).toMatchObject({ op: 'RESYNC', origin: 'repair', groupId: groupIdFor(keys, keySchema) });
  });
});

describe('status warnings', () => {
  const base: Omit<TargetStatus, 'warnings'> = {
    target: 'dr', where: 'stack S', pipe: { name: 'p', state: 'RUNNING' }, stream: { enabled: true, pipeStreamArn: 'arn:1', currentStreamArn: 'arn:1' },
    mapping: { id: 'uuid', state: 'Enabled' }, queue: { visible: 0, inFlight: 0, delayed: 0 }, dlq: { visible: 0, inFlight: 0, delayed: 0 },
    queueRedrive: { visibilityTimeoutSeconds: 360, maxReceiveCount: 5 },
    oldestMessageAgeSeconds: 10, appliedLastMinute: 5, lagLastMinute: {}, unreachable: [],
  };
  const target = { selector: '--target dr', retentionSeconds: 1_209_600 };
  const warn = (over: Partial<typeof base>) => statusWarnings({ ...base, ...over }, target);

  it('nothing to say about a healthy target', () => expect(warn({})).toEqual([]));

  it.each([
    [{ dlq: { visible: 1, inFlight: 0, delayed: 0 } }, 'dlq-not-empty', 'DLQ has 1 message: run `ddb-replicate replay --target dr`; any it cannot decode stay in the DLQ, listed by message id: they name no item, so inspect them (`aws sqs receive-message`), then delete them'],
    [{ mapping: { id: 'uuid', state: 'Disabling' } }, 'apply-paused', 'apply is paused: run `ddb-replicate resume --target dr`'],
    [{ mapping: { id: 'uuid', state: 'Enabling' } }, 'mapping-not-enabled', 'the apply\'s event source mapping uuid is Enabling'],
    [{ pipe: { name: 'p', state: 'UPDATING' } }, 'pipe-not-running', 'pipe p is UPDATING: changes are not read from the stream'],
    [{ stream: { enabled: true, pipeStreamArn: 'arn:old', currentStreamArn: 'arn:new' } }, 'stream-replaced', 'the pipe reads stream arn:old, but the source table\'s current stream is arn:new: the pipe can never recover'],
    [{ oldestMessageAgeSeconds: 8 * 86_400, mapping: { id: 'uuid', state: 'Disabled' } }, 'queue-old', 'the oldest queued change is 8 days old; SQS drops messages after 14 days: run `ddb-replicate resume --target dr`'],
  ])('%j → %s', (over, code, text) => {
    const warnings = warn(over);
    const found = warnings.find((w) => w.code === code);
    expect(found?.text).toContain(text);
  });

  // A FIFO message that keeps failing holds its group until it reaches the DLQ (docs/operating.md, "A message that keeps failing").
  it('a change older than one visibility timeout while apply runs: a group is held by a failing message; says for how long at most and what to run', () => {
    const stuck = warn({ oldestMessageAgeSeconds: 1200, queue: { visible: 3, inFlight: 1, delayed: 0 } }).find((w) => w.code === 'group-stuck');
    expect(stuck).toEqual({
      severity: 'warning',
      code: 'group-stuck',
      text: 'the oldest queued change has waited 20 min, longer than one visibility timeout (6 min), while apply runs: a message that keeps failing is probably holding its item\'s group (every later change of that item waits behind it; other items keep flowing). It moves to the DLQ after at most 5 receives × 6 min = 30 min. To name the group, run the Logs Insights query in docs/operating.md ("A message that keeps failing") on the apply function\'s log group; once it is in the DLQ, run `ddb-replicate replay --target dr`',
    });
  });

  it('no group-stuck warning while apply is paused, for a young queue, or when the queue\'s settings could not be read', () => {
    const codes = (over: Partial<typeof base>) => warn(over).map((w) => w.code);
    expect(codes({ oldestMessageAgeSeconds: 1200, mapping: { id: 'uuid', state: 'Disabled' } })).not.toContain('group-stuck');
    expect(codes({ oldestMessageAgeSeconds: 300 })).not.toContain('group-stuck');
    expect(codes({ oldestMessageAgeSeconds: 1200, queueRedrive: null })).not.toContain('group-stuck');
  });

  it('formats durations for people', () => {
    expect([45, 600, 3 * 3600 + 120, 3 * 86_400 + 7200, 14 * 86_400, 2 * 86_400 + 3600].map(formatDuration)).toEqual(['45 s', '10 min', '3 h 2 min', '3 days 2 h', '14 days', '2 days 1 h']);
  });
});

describe('argument parsers', () => {
  it.each(['0.01', '1', '1e-3', '0.5'])('fraction %s is accepted', (v) => expect(parseFraction(v)).toBe(Number(v)));
  it.each(['0', '-0.1', '1.01', 'abc', '', '5%', 'Infinity'])('fraction %j is refused', (v) => expect(() => parseFraction(v)).toThrow('must be a fraction greater than 0 and at most 1'));
  it.each(['0', '-1', '1.5', '1e3', 'x', '11'])('integer %j out of 1..10 is refused', (v) => expect(() => parsePositiveInt(10)(v)).toThrow('must be an integer from 1 to 10'));
});

describe('session file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ops-core-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('missing: says how to start one', () => {
    expect(() => readSessionFile(join(dir, 'none.json'))).toThrow(/does not exist; start one with `ddb-replicate local --keep --demo`/);
  });
  it('a session whose process has exited: says it is not running', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const file = join(dir, 'dead.json');
    writeFileSync(file, JSON.stringify({
      version: 1, target: 'local', pid: dead, startedAt: new Date().toISOString(), controlUrl: 'http://127.0.0.1:1', token: 'x'.repeat(32), region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, endpoints: { dynamodb: 'http://127.0.0.1:2', sqs: 'http://127.0.0.1:3', sts: 'http://127.0.0.1:4' },
      sourceTableName: 'source', targetTableName: 'target', queueUrl: 'q', deadLetterQueueUrl: 'd', keySchema,
    }));
    expect(() => localTarget({ sessionFile: file })).toThrow(new CliError(`the local session of ${file} is not running (its process ${dead} has exited); start one with \`ddb-replicate local --keep --demo\``, EXIT.failure));
  });

  it('not a session file: says what is wrong', () => {
    writeFileSync(join(dir, 'bad.json'), '{"version":1}');
    expect(() => readSessionFile(join(dir, 'bad.json'))).toThrow(/is not a local session file of this version \(target: /);
  });
});

/** One DynamoDB request as the fake below received it: the operation and its JSON input (wire form). */
interface DynamoDbCall { readonly operation: string; readonly input: { TableName?: string; Segment?: number; TotalSegments?: number; ConsistentRead?: boolean; Key?: AttributeMapWire } }

/**
 * A DynamoDB client whose requests are answered here, at the HTTP layer: the SDK's middleware
 * (serialisation, verify's wire Scan, deserialisation) runs as it does against DynamoDB.
 */
function fakeDynamoDb(answer: (call: DynamoDbCall) => object | undefined): { client: DynamoDBClient; calls: DynamoDbCall[] } {
  const calls: DynamoDbCall[] = [];
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      handle: async (request: { headers: Record<string, string>; body: string }) => {
        const call = { operation: request.headers['x-amz-target'].split('.')[1], input: JSON.parse(request.body) as DynamoDbCall['input'] };
        calls.push(call);
        return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: new TextEncoder().encode(JSON.stringify(answer(call) ?? {})) } };
      },
    },
  });
  return { client, calls };
}

describe('verify core (DynamoDB answered over a fake HTTP handler)', () => {
  const item = (pk: string, extra: AttributeMapWire = {}): AttributeMapWire => ({ pk: { S: pk }, sk: { N: '1' }, ...extra });
  const tables = (client: DynamoDBClient) => ({ source: { client, tableName: 'src', description: 'table src' }, target: { client, tableName: 'tgt', description: 'table tgt' } });
  const keyOf = (call: DynamoDbCall): string | undefined => (call.input.Key?.pk as { S?: string } | undefined)?.S;

  it('compares by exact value across segments; a difference that is gone when read again is not reported', async () => {
    const scans: Record<string, AttributeMapWire[]> = {
      'src/0': [item('a', { n: { N: '1.5' } }), item('b', { s: { SS: ['x', 'y'] } })],
      'src/1': [item('c'), item('d', { v: { S: 'new' } })],
      'tgt/0': [item('a', { n: { N: '1.50' } }), item('d', { v: { S: 'old' } })],
      'tgt/1': [item('b', { s: { SS: ['y', 'x'] } }), item('e')],
    };
    // On re-read, d has caught up; c is still missing and e still extra.
    const reads: Record<string, AttributeMapWire | undefined> = {
      'src/d': item('d', { v: { S: 'new' } }), 'tgt/d': item('d', { v: { S: 'new' } }), 'src/c': item('c'), 'tgt/c': undefined, 'src/e': undefined, 'tgt/e': item('e'),
    };
    const { client, calls } = fakeDynamoDb((call) => {
      if (call.operation === 'Scan') return { Items: scans[`${call.input.TableName}/${call.input.Segment}`] };
      const found = reads[`${call.input.TableName}/${keyOf(call)}`];
      return found === undefined ? {} : { Item: found };
    });
    const result = await runVerify({ ...tables(client), keySchema, segments: 2 });
    expect(result).toMatchObject({ mode: 'full', sourceItems: 4, targetItems: 4, missing: 1, extra: 1, different: 0, resolvedOnRecheck: 1, extraChecked: true, buckets: 65_536, mismatchingBuckets: 3 });
    expect(result.diffs).toEqual([{ kind: 'missing', keys: { pk: { S: 'c' }, sk: { N: '1' } } }, { kind: 'extra', keys: { pk: { S: 'e' }, sk: { N: '1' } } }]);
    const scanCalls = calls.filter((c) => c.operation === 'Scan');
    expect(scanCalls.every((c) => c.input.ConsistentRead === true && c.input.TotalSegments === 2)).toBe(true);
  });

  it('pass 2 keeps only the keys of mismatching buckets; equal tables are scanned once', async () => {
    const many = Array.from({ length: 200 }, (_, i) => item(`k${i}`, { v: { N: String(i) } }));
    const equal = fakeDynamoDb((call) => ({ Items: call.input.TableName === 'src' ? many : [...many].reverse() }));
    const same = await runVerify({ ...tables(equal.client), keySchema, segments: 1, buckets: 16, settleMs: () => Promise.reject(new Error('not asked when nothing differs')) });
    expect(same).toMatchObject({ sourceItems: 200, targetItems: 200, checked: 200, mismatchingBuckets: 0, missing: 0, extra: 0, different: 0, settledMs: 0 });
    expect(equal.calls.filter((c) => c.operation === 'Scan')).toHaveLength(2);

    // One item differs in a nested attribute, written with other number spellings and attribute order elsewhere.
    const changed = many.map((it, i) => (i === 42 ? item('k42', { v: { N: '42' }, doc: { M: { a: { L: [{ N: '1' }] } } } }) : { v: { N: `${(it.v as { N: string }).N}.0` }, ...it }));
    const differing = fakeDynamoDb((call) => {
      const side = call.input.TableName === 'src' ? many : changed;
      return call.operation === 'Scan' ? { Items: side } : { Item: side[42] };
    });
    const slept: number[] = [];
    const result = await runVerify({ ...tables(differing.client), keySchema, segments: 1, buckets: 16, settleMs: () => Promise.resolve(1500), sleep: (ms) => Promise.resolve(void slept.push(ms)) });
    expect(result).toMatchObject({ mismatchingBuckets: 1, missing: 0, extra: 0, different: 1, settledMs: 1500, differences: [{ kind: 'different', keys: { pk: { S: 'k42' }, sk: { N: '1' } } }] });
    expect(slept).toEqual([1500]);
    expect(differing.calls.filter((c) => c.operation === 'Scan')).toHaveLength(4);
    // Only the one differing key is read again.
    expect(differing.calls.filter((c) => c.operation === 'GetItem').map(keyOf)).toEqual(['k42', 'k42']);
  });

  it('a key in flight is not reported: re-read after the settle time, it matches', async () => {
    let applied = false;
    // The pipeline applies the change while verify waits; GetItem before that would still see 'old'.
    const { client } = fakeDynamoDb((call) => {
      if (call.operation === 'Scan') return { Items: [item('a', { v: { S: call.input.TableName === 'src' ? 'new' : 'old' } })] };
      return { Item: item('a', { v: { S: call.input.TableName === 'src' || applied ? 'new' : 'old' } }) };
    });
    const result = await runVerify({ ...tables(client), keySchema, segments: 1, settleMs: 30_000, sleep: (ms) => Promise.resolve(void (applied = ms === 30_000)) });
    expect(result).toMatchObject({ different: 0, resolvedOnRecheck: 1, settledMs: 30_000, differences: [] });
  });

  it('compares in the target\'s view: filtered-out source items are not expected, redacted ones compare redacted', async () => {
    const { client } = fakeDynamoDb((call) => ({
      Items: call.input.TableName === 'src' ? [item('in', { secret: { S: 's' }, v: { N: '1' } }), item('out', { v: { N: '2' } })] : [item('in', { v: { N: '1' } })],
    }));
    const view = (it: AttributeMapWire): AttributeMapWire | undefined =>
      ((it.pk as { S?: string }).S === 'out' ? undefined : Object.fromEntries(Object.entries(it).filter(([n]) => n !== 'secret')));
    const result = await runVerify({ ...tables(client), keySchema, segments: 1, view });
    expect(result).toMatchObject({ sourceItems: 2, outOfView: 1, checked: 1, mismatchingBuckets: 0, missing: 0, extra: 0, different: 0 });
  });

  it('binary attributes compare as bytes, binary sets in any order', async () => {
    const bin = (pk: string, b: string, bs: string[]): AttributeMapWire => ({ pk: { S: pk }, sk: { N: '1' }, b: { B: b }, bs: { BS: bs } });
    const sides: Record<string, AttributeMapWire[]> = {
      src: [bin('x', 'AAE=', ['AAE=', 'AQ==']), bin('y', 'AAI=', ['AQ=='])],
      tgt: [bin('x', 'AAE=', ['AQ==', 'AAE=']), bin('y', 'AAM=', ['AQ=='])],
    };
    const { client } = fakeDynamoDb((call) => {
      const side = sides[call.input.TableName ?? ''];
      return call.operation === 'Scan' ? { Items: side } : { Item: side.find((it) => (it.pk as { S: string }).S === keyOf(call)) };
    });
    const result = await runVerify({ ...tables(client), keySchema, segments: 1 });
    expect(result).toMatchObject({ mismatchingBuckets: 1, different: 1, missing: 0, extra: 0, differences: [{ kind: 'different', keys: { pk: { S: 'y' }, sk: { N: '1' } } }] });
  });

  it('sample mode reads only the sampled source items from the target and does not look for extras', async () => {
    const reads: Record<string, AttributeMapWire> = { 'tgt/a': item('a'), 'tgt/c': item('c', { v: { N: '2' } }), 'src/c': item('c') };
    const { client, calls } = fakeDynamoDb((call) => {
      if (call.operation === 'Scan') return { Items: [item('a'), item('b'), item('c'), item('d')] };
      return { Item: reads[`${call.input.TableName}/${keyOf(call)}`] ?? item('x') };
    });
    const draws = [0.1, 0.9, 0.2, 0.95];
    const result = await runVerify({ ...tables(client), keySchema, segments: 1, sample: 0.5, random: () => draws.shift()!, showValues: true });
    expect(result).toMatchObject({ mode: 'sample', sample: 0.5, sourceItems: 4, checked: 2, missing: 0, extra: 0, different: 1, extraChecked: false });
    expect(result.diffs).toEqual([{ kind: 'different', keys: { pk: { S: 'c' }, sk: { N: '1' } }, source: { pk: { S: 'c' }, sk: { N: '1' } }, target: { pk: { S: 'c' }, sk: { N: '1' }, v: { N: '2' } } }]);
    expect(calls.filter((c) => c.operation === 'GetItem' && c.input.TableName === 'tgt').map(keyOf).sort()).toEqual(['a', 'c', 'c']);
  });
});

describe('verify: the default settle time', () => {
  const health = (lag: { p99Ms?: number; maxMs?: number } | undefined) => ({ health: () => Promise.resolve({ pipe: { name: 'p', state: 'RUNNING' }, unreachable: [], ...(lag === undefined ? {} : { lagLastMinute: lag }) }) });
  it('is twice the measured lag (max, else p99) plus a second, capped at 5 minutes; 10 s when the lag is unknown', async () => {
    expect(await measuredSettleMs(health({ p99Ms: 800, maxMs: 2000 }))).toBe(5000);
    expect(await measuredSettleMs(health({ p99Ms: 800 }))).toBe(2600);
    expect(await measuredSettleMs(health({}))).toBe(10_000);
    expect(await measuredSettleMs(health(undefined))).toBe(10_000);
    expect(await measuredSettleMs(health({ maxMs: 3_600_000 }))).toBe(300_000);
  });
});
