import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
  type BatchWriteItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { canonicalKey, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { targetFilterSchema, targetRedactionSchema } from '../../schemas/replication-config';
import { ConfigurationError } from '../../handlers/core/errors';
import { copyTableDirect, type DirectCopyProgress } from '../../cli/bootstrap/direct-engine';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import { expectedTargetItems } from './support/oracle';

/** The direct engine against a real DynamoDB Local: exact copies, every item once, exclusions, cancellation. */
jest.setTimeout(60_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
let ddb: DynamoDbLocal;
let client: DynamoDBClient;
let tableSeq = 0;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  client = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  client?.destroy();
  await ddb?.stop();
});

async function createTable(): Promise<string> {
  const name = `table-${++tableSeq}`;
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
  return name;
}

async function scanAll(table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) items.set(canonicalKey(toWireAttributeMap({ pk: item.pk, sk: item.sk })), item);
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** Every AttributeValue type, at the top level and nested; 38-digit and fractional numbers, empty strings, unicode names, binary with 0x00/0xff. */
function itemOf(i: number): Record<string, AttributeValue> {
  return {
    pk: { S: `p${i % 13}` },
    sk: { N: String(i) },
    s: { S: i % 5 === 0 ? '' : `value ${i} ✓` },
    n: { N: i % 2 === 0 ? '12345678901234567890123456789012345678' : `-0.000000000000000000000000000000000001${i % 10}` },
    b: { B: new Uint8Array([0, i % 256, 255]) },
    ss: { SS: ['a', `s${i}`] },
    ns: { NS: ['1', '2.5', String(i + 100)] },
    bs: { BS: [new Uint8Array([1]), new Uint8Array([2, i % 256])] },
    bool: { BOOL: i % 2 === 0 },
    nul: { NULL: true },
    l: { L: [{ S: '' }, { N: '0' }, { M: { deep: { L: [{ BOOL: false }, { B: new Uint8Array([9]) }] } } }] },
    m: { M: { 'ключ ✓': { S: 'ünïcode' }, empty: { M: {} }, list: { L: [] } } },
    secret: { S: 'not for this target' },
  };
}

async function seed(table: string, count: number): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = Array.from({ length: count }, (_, i) => itemOf(i));
  for (let start = 0; start < items.length; start += 25) {
    await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
  return scanAll(table);
}

/** A client to the same emulator that records the keys of every BatchWriteItem put. */
function recordingClient(): { client: DynamoDBClient; putKeys: string[] } {
  const recording = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const putKeys: string[] = [];
  recording.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'BatchWriteItemCommand') {
      for (const requests of Object.values((args.input as BatchWriteItemCommandInput).RequestItems ?? {})) {
        for (const request of requests) {
          const item = request.PutRequest?.Item;
          if (item !== undefined) putKeys.push(canonicalKey(toWireAttributeMap({ pk: item.pk, sk: item.sk })));
        }
      }
    }
    return next(args);
  }, { step: 'initialize' });
  return { client: recording, putKeys };
}

test('copies every AttributeValue type exactly; 5 segments with small pages write each item exactly once', async () => {
  const [source, target] = [await createTable(), await createTable()];
  const expected = await seed(source, 230);
  const { client: targetClient, putKeys } = recordingClient();
  const progress: DirectCopyProgress[] = [];

  const result = await copyTableDirect({
    sourceClient: client, sourceTableName: source, targetClient, targetTableName: target, keySchema,
    segments: 5, pageLimit: 17, consistentRead: true, onProgress: (p) => progress.push(p),
  });
  targetClient.destroy();

  expect(result).toMatchObject({ scanned: 230, written: 230, aborted: false, excludedAttributes: 0 });
  expect(result.segments).toHaveLength(5);
  expect(result.segments.every((s) => s.done && s.scanned === s.written)).toBe(true);
  expect(result.segments.filter((s) => s.scanned > 0).length).toBeGreaterThan(1);
  expect(putKeys).toHaveLength(230);
  expect(new Set(putKeys).size).toBe(230);
  const copied = await scanAll(target);
  expect([...copied.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, item] of expected) expect(copied.get(key)).toEqual(item);
  // Progress is per page, monotonic, and ends at the totals.
  expect(progress.length).toBeGreaterThanOrEqual(230 / 17);
  expect(progress.map((p) => p.written)).toEqual([...progress.map((p) => p.written)].sort((a, b) => a - b));
  expect(progress.at(-1)).toMatchObject({ scanned: 230, written: 230 });
  await Promise.all([source, target].map((TableName) => client.send(new DeleteTableCommand({ TableName }))));
});

test('leaves excluded attributes out, never a key attribute', async () => {
  const [source, target] = [await createTable(), await createTable()];
  const expected = await seed(source, 40);
  await expect(copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema, excludeAttributes: ['secret', 'sk'] }))
    .rejects.toThrow(new ConfigurationError('excludeAttributes names key attribute(s) sk; key attributes are always copied'));
  expect((await scanAll(target)).size).toBe(0);

  const result = await copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema, excludeAttributes: ['secret', 'absent'], segments: 2 });
  expect(result).toMatchObject({ scanned: 40, written: 40, excludedAttributes: 40 });
  const copied = await scanAll(target);
  for (const [key, item] of expected) {
    const { secret: _secret, ...kept } = item;
    expect(copied.get(key)).toEqual(kept);
  }
});

test('with a target policy, copies each item\'s view: outside the filter skipped, redacted, excluded (both exclusion lists)', async () => {
  const [source, target] = [await createTable(), await createTable()];
  const expected = await seed(source, 60);
  const config = {
    filter: { partitionKeyPrefixes: ['p1'], attributeEquals: [{ attribute: 'bool', anyOf: [{ BOOL: true }] }] },
    redaction: { exclude: ['ns'], redact: ['s', 'm'], redactWith: { sha256: true as const } },
  };
  const policy = { filter: targetFilterSchema.parse(config.filter), redaction: targetRedactionSchema.parse(config.redaction) };
  const result = await copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema, policy, excludeAttributes: ['secret'], segments: 3, pageLimit: 7 });

  // The oracle (test code, no production policy code): pk p1, p10, p11, p12 (i % 13 in 1, 10, 11, 12) and bool true (i even).
  const inView = expectedTargetItems([...expected.values()].map(toWireAttributeMap), config, { partitionKey: 'pk', sortKey: 'sk' })
    .map(({ secret: _secret, ...kept }) => kept);
  expect(inView.length).toBeGreaterThan(5);
  expect(result).toMatchObject({ scanned: 60, written: inView.length, skipped: 60 - inView.length, excludedAttributes: inView.length });
  const copied = await scanAll(target);
  expect(copied.size).toBe(inView.length);
  for (const item of inView) {
    const key = canonicalKey({ pk: item.pk, sk: item.sk });
    expect(toWireAttributeMap(copied.get(key)!)).toEqual(item);
    expect(copied.get(key)?.m?.S).toMatch(/^sha256:[0-9a-f]{64}$/);
  }
});

test('an abort stops between pages: what was read is written, nothing after; a re-run completes the copy', async () => {
  const [source, target] = [await createTable(), await createTable()];
  const expected = await seed(source, 120);
  const controller = new AbortController();
  const result = await copyTableDirect({
    sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema,
    segments: 1, pageLimit: 10, signal: controller.signal,
    onProgress: (p) => { if (p.written >= 30) controller.abort(); },
  });
  expect(result).toMatchObject({ aborted: true, scanned: 30, written: 30 });
  expect((await scanAll(target)).size).toBe(30);

  const rerun = await copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema, segments: 3 });
  expect(rerun).toMatchObject({ aborted: false, written: 120 });
  const copied = await scanAll(target);
  expect(copied.size).toBe(120);
  for (const [key, item] of expected) expect(copied.get(key)).toEqual(item);
});

test('the write-rate cap paces the copy (on an injected clock that only moves when the limiter waits)', async () => {
  const [source, target] = [await createTable(), await createTable()];
  await seed(source, 60);
  let clock = 0;
  const waits: number[] = [];
  const written: { at: number; written: number }[] = [];
  const result = await copyTableDirect({
    sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: target, keySchema, segments: 2, pageLimit: 10, writeRateItemsPerSecond: 40,
    now: () => clock,
    sleep: async (ms) => { waits.push(ms); clock += ms; },
    writer: { now: () => clock },
    onProgress: (p) => written.push({ at: clock, written: p.written }),
  });
  expect(result.written).toBe(60);
  // 60 items at 40/s with a one-second burst allowance: the limiter waits exactly (60 - 40) / 40 s.
  expect(waits.reduce((a, b) => a + b, 0)).toBe(500);
  expect(result.elapsedMs).toBe(500);
  // At no moment more than the burst plus the rate times the time elapsed.
  for (const { at, written: n } of written) expect(n).toBeLessThanOrEqual(40 + (40 * at) / 1000);
});

test('a write that fails for good fails the copy with the counts and the cause', async () => {
  const source = await createTable();
  await seed(source, 10);
  await expect(copyTableDirect({ sourceClient: client, sourceTableName: source, targetClient: client, targetTableName: 'no-such-table', keySchema }))
    .rejects.toThrow(/^the direct copy failed after writing 0 of 10 items scanned \(\d of 4 segments failed\): segment \d: \d+ of \d+ items for no-such-table failed: ResourceNotFoundException/);
});
