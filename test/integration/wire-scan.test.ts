import { BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import { keepProtoAttributes } from '../../handlers/core/proto-attributes';
import { scanWirePage } from '../../cli/aws/wire-scan';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';

/**
 * scanWirePage (what verify scans with) returns the items DynamoDB sent, page after page, as the
 * SDK's own Scan returns them converted back to wire form: every AttributeValue type, nested, with
 * attribute names that are properties of every JS object, in a table whose partition key is binary
 * (each page's LastEvaluatedKey goes back as the next ExclusiveStartKey). The oracle is the
 * SDK's deserializer (through keepProtoAttributes, as the CLI's clients are), compared after a
 * normalisation written here, not verify's digest.
 */
jest.setTimeout(120_000);

const TABLE = 'wire-scan';
let ddb: DynamoDbLocal;
let client: DynamoDBClient;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  client = keepProtoAttributes(new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
  await client.send(new CreateTableCommand({
    TableName: TABLE,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'B' }, { AttributeName: 'sk', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
});

afterAll(async () => {
  client?.destroy();
  await ddb?.stop();
});

const NAMES = ['a', 'b', '__proto__', 'constructor', 'toString'] as const;
const scalar: fc.Arbitrary<AttributeValueWire> = fc.oneof(
  fc.string({ maxLength: 8 }).map((S) => ({ S })),
  fc.oneof(fc.integer().map(String), fc.constantFrom('1.50', '-0.001', '12345678901234567890123456789012345678', '1E+5')).map((N) => ({ N })),
  fc.uint8Array({ maxLength: 6 }).map((bytes) => ({ B: Buffer.from(bytes).toString('base64') })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true as const }),
  fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })),
  fc.uniqueArray(fc.integer({ min: -999, max: 999 }), { minLength: 1, maxLength: 3 }).map((ns) => ({ NS: ns.map(String) })),
  fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }).map((bs) => ({ BS: bs.map((b) => Buffer.from([b, 7]).toString('base64')) })),
);
const value: fc.Arbitrary<AttributeValueWire> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }).map((L) => ({ L })) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...NAMES), scalar, { maxKeys: 3, noNullPrototype: true }).map((M) => ({ M })) },
);
const itemsArb = fc.uniqueArray(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 3 })), {
  minLength: 0, maxLength: 12, selector: ([pk, sk]) => `${Buffer.from(pk).toString('hex')}/${sk}`,
}).chain((keys) => fc.tuple(...keys.map(([pk, sk]) => fc.dictionary(fc.constantFrom(...NAMES), value, { maxKeys: 4, noNullPrototype: true }).map((attributes): AttributeMapWire => {
  const item = { ...attributes };
  // defineProperty: "__proto__" as an attribute, like JSON.parse makes it.
  for (const [name, v] of Object.entries({ pk: { B: Buffer.from(pk).toString('base64') }, sk: { N: String(sk) } })) Object.defineProperty(item, name, { value: v, enumerable: true, writable: true, configurable: true });
  return item;
}))));

/** Keys sorted at every level, set members sorted: what is not part of an item does not count. */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.keys(value).sort().map((name) => {
    const member = Object.getOwnPropertyDescriptor(value, name)?.value as unknown;
    return [name, ['SS', 'NS', 'BS'].includes(name) ? [...(member as string[])].sort() : normalise(member)] as const;
  });
  return entries;
}
const sortedItems = (items: readonly unknown[]): string[] => items.map((item) => JSON.stringify(normalise(item))).sort();

async function sdkScan(): Promise<unknown[]> {
  const items: unknown[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) items.push(sdkToWire(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** The SDK's AttributeValues in wire form, converted here (B and BS as base64), not by the code under test. */
function sdkToWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(sdkToWire);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    Object.defineProperty(out, name, { value: sdkToWire(Object.getOwnPropertyDescriptor(value, name)?.value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

async function wireScan(segments: number, limit: number): Promise<{ items: AttributeMapWire[]; pages: number }> {
  const items: AttributeMapWire[] = [];
  let pages = 0;
  for (let segment = 0; segment < segments; segment++) {
    let startKey: AttributeMapWire | undefined;
    do {
      const page = await scanWirePage(client, { TableName: TABLE, Segment: segment, TotalSegments: segments, ConsistentRead: true, Limit: limit, ExclusiveStartKey: startKey });
      pages += 1;
      items.push(...page.items);
      startKey = page.lastEvaluatedKey;
    } while (startKey !== undefined);
  }
  return { items, pages };
}

test('pages of wire items are the items the SDK returns, across segments and binary start keys', async () => {
  await fc.assert(fc.asyncProperty(itemsArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), async (items, segments, limit) => {
    for (let i = 0; i < items.length; i += 25) {
      await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: toSdkAttributeMap(item) } })) } }));
    }
    try {
      const wire = await wireScan(segments, limit);
      expect(sortedItems(wire.items)).toEqual(sortedItems(await sdkScan()));
      expect(wire.items).toHaveLength(items.length);
      // More items than one page holds: the start keys were used.
      if (items.length > limit * segments) expect(wire.pages).toBeGreaterThan(segments);
    } finally {
      for (const item of items) await client.send(new DeleteItemCommand({ TableName: TABLE, Key: toSdkAttributeMap({ pk: item.pk, sk: item.sk }) }));
    }
  }), { numRuns: 25 });
});

test('an error response is still the SDK\'s exception', async () => {
  await expect(scanWirePage(client, { TableName: 'no-such-table' })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
});
