import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { canonicalKey, toSdkAttributeMap, toWireAttributeMap } from '../../../handlers/core/attribute-value';
import { ReplicationError } from '../../../handlers/core/errors';
import type { KeySchema } from '../../../handlers/core/key-schema';
import { itemsEqual } from '../../../common/item-compare';
import type { WorkloadOp } from '../../../local/input';
import type { LocalSession } from '../../../local/session';
import type { AttributeMapWire, AttributeValueWire } from '../../../schemas/attribute-value';

/**
 * Random op sequences over a small key space (3 partitions × 3 sort keys, a few attribute names, every
 * AttributeValue type), with keys relative to a run's namespace — shared by the property tests that
 * run many sequences against one local session.
 */
export const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
export const PARTITIONS = ['a', 'b', 'c'] as const;
export const SORT_KEYS = ['0', '1', '2.50'] as const;
const NAMES = ['x', 'y', 'z'] as const;

const scalar: fc.Arbitrary<AttributeValueWire> = fc.oneof(
  fc.string({ maxLength: 8 }).map((S) => ({ S })),
  fc.oneof(fc.integer().map(String), fc.constant('12345678901234567890123456789012345678'), fc.constant('-1.5E-7')).map((N) => ({ N })),
  fc.uint8Array({ maxLength: 6 }).map((bytes) => ({ B: Buffer.from(bytes).toString('base64') })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true as const }),
  fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })),
);
const value: fc.Arbitrary<AttributeValueWire> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }).map((L) => ({ L })) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...NAMES), scalar, { maxKeys: 2 }).map((M) => ({ M })) },
);
const attributes = fc.dictionary(fc.constantFrom(...NAMES), value, { maxKeys: 3 });
const keyArb = fc.record({ pk: fc.constantFrom(...PARTITIONS), sk: fc.constantFrom(...SORT_KEYS) });

/** Ops with keys relative to a run's namespace. */
export type RelativeOp =
  | { op: 'put'; key: { pk: string; sk: string }; attributes: AttributeMapWire }
  | { op: 'delete'; key: { pk: string; sk: string } }
  | { op: 'update'; key: { pk: string; sk: string }; set: AttributeMapWire; remove: string[] };

export const opArb: fc.Arbitrary<RelativeOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, attributes }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 3,
    arbitrary: fc
      .record({ op: fc.constant('update' as const), key: keyArb, set: attributes, remove: fc.subarray([...NAMES]) })
      .map((u) => ({ ...u, remove: u.remove.filter((name) => !(name in u.set)) })),
  },
);

export function absoluteKey(namespace: string, key: { pk: string; sk: string }): AttributeMapWire {
  return { pk: { S: `${namespace}#${key.pk}` }, sk: { N: key.sk } };
}

export function toOps(namespace: string, ops: RelativeOp[]): WorkloadOp[] {
  return ops.map((op) => {
    const key = absoluteKey(namespace, op.key);
    if (op.op === 'put') return { op: 'put', item: { ...op.attributes, ...key } };
    if (op.op === 'delete') return { op: 'delete', key };
    return { op: 'update', key, set: op.set, remove: op.remove };
  });
}

/** This run's items in one table, by canonical key. */
export async function itemsOf(client: DynamoDBClient, tableName: string, keys: AttributeMapWire[]): Promise<Map<string, AttributeMapWire>> {
  const out = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys.map(toSdkAttributeMap), ConsistentRead: true } } }));
  if (Object.keys(out.UnprocessedKeys ?? {}).length > 0) throw new ReplicationError('BatchGetItem left keys unprocessed on DynamoDB Local');
  const items = (out.Responses?.[tableName] ?? []).map(toWireAttributeMap);
  return new Map(items.map((item) => [canonicalKey({ pk: item.pk, sk: item.sk }), item]));
}


/** Every key of a run's namespace. */
export function namespaceKeys(namespace: string): AttributeMapWire[] {
  return PARTITIONS.flatMap((pk) => SORT_KEYS.map((sk) => absoluteKey(namespace, { pk, sk })));
}

/** After a drain: this run's items in the target are exactly those in the source. */
export async function expectNamespaceConverged(session: LocalSession, namespace: string): Promise<void> {
  const keys = namespaceKeys(namespace);
  const [source, target] = await Promise.all([itemsOf(session.sourceClient, session.sourceTableName, keys), itemsOf(session.targetClient, session.targetTableName, keys)]);
  expect([...target.keys()].sort()).toEqual([...source.keys()].sort());
  for (const [key, item] of source) expect(itemsEqual(item, target.get(key)!)).toBe(true);
}
