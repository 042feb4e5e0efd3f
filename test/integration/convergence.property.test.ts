import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { canonicalKey, toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { ReplicationError } from '../../handlers/core/errors';
import type { KeySchema } from '../../handlers/core/key-schema';
import { itemsEqual } from '../../local/compare';
import type { FaultRates } from '../../local/faults';
import type { WorkloadOp } from '../../local/input';
import { startLocalSession, type LocalSession } from '../../local/session';
import { applyOps } from '../../local/workload';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';

/**
 * Convergence, as a property: for random op sequences over a small key space, under random fault
 * rates (set per run with session.setFaults), once replication has drained the target equals the
 * source. One session for all runs; each run writes in its own key namespace and is checked on its
 * own keys, so shrinking a failure is not confused by earlier runs; a whole-table diffTables closes.
 * NUM_RUNS (default 100) sets the number of runs; `npm run test:soak` runs 1000; FC_SEED repeats a run.
 */
const NUM_RUNS = Number(process.env.NUM_RUNS ?? 100);
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
const PARTITIONS = ['a', 'b', 'c'] as const;
const SORT_KEYS = ['0', '1', '2.50'] as const;
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
type RelativeOp =
  | { op: 'put'; key: { pk: string; sk: string }; attributes: AttributeMapWire }
  | { op: 'delete'; key: { pk: string; sk: string } }
  | { op: 'update'; key: { pk: string; sk: string }; set: AttributeMapWire; remove: string[] };

const opArb: fc.Arbitrary<RelativeOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, attributes }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 3,
    arbitrary: fc
      .record({ op: fc.constant('update' as const), key: keyArb, set: attributes, remove: fc.subarray([...NAMES]) })
      .map((u) => ({ ...u, remove: u.remove.filter((name) => !(name in u.set)) })),
  },
);

const faultRatesArb: fc.Arbitrary<FaultRates> = fc.record({
  applyThrottle: fc.double({ min: 0.01, max: 0.3, noNaN: true }),
  applyCrash: fc.double({ min: 0.01, max: 0.1, noNaN: true }),
  duplicateDelivery: fc.double({ min: 0.01, max: 0.3, noNaN: true }),
  enrichFailure: fc.double({ min: 0.01, max: 0.1, noNaN: true }),
  poisonMessage: fc.double({ min: 0.005, max: 0.03, noNaN: true }),
});

function absoluteKey(namespace: string, key: { pk: string; sk: string }): AttributeMapWire {
  return { pk: { S: `${namespace}#${key.pk}` }, sk: { N: key.sk } };
}

function toOps(namespace: string, ops: RelativeOp[]): WorkloadOp[] {
  return ops.map((op) => {
    const key = absoluteKey(namespace, op.key);
    if (op.op === 'put') return { op: 'put', item: { ...op.attributes, ...key } };
    if (op.op === 'delete') return { op: 'delete', key };
    return { op: 'update', key, set: op.set, remove: op.remove };
  });
}

/** This run's items in one table, by canonical key. */
async function itemsOf(client: DynamoDBClient, tableName: string, keys: AttributeMapWire[]): Promise<Map<string, AttributeMapWire>> {
  const out = await client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys.map(toSdkAttributeMap), ConsistentRead: true } } }));
  if (Object.keys(out.UnprocessedKeys ?? {}).length > 0) throw new ReplicationError('BatchGetItem left keys unprocessed on DynamoDB Local');
  const items = (out.Responses?.[tableName] ?? []).map(toWireAttributeMap);
  return new Map(items.map((item) => [canonicalKey({ pk: item.pk!, sk: item.sk! }), item]));
}

let session: LocalSession;
let runs = 0;

beforeAll(async () => {
  // Short visibility timeout and few receives: a crashed batch or a poison message costs ~1-2 s, not 10.
  session = await startLocalSession({ keySchema, seed: SEED, visibilityTimeoutSeconds: 1, maxReceiveCount: 2 });
  await session.startReplication();
}, 60_000);

afterAll(async () => {
  await session?.stop();
  process.stderr.write(`convergence property: ${runs} of ${NUM_RUNS} runs converged (fast-check seed ${SEED}; FC_SEED=${SEED} repeats them)\n`);
});

it(
  `converges for ${NUM_RUNS} random op sequences under random fault rates`,
  async () => {
    await fc.assert(
      fc.asyncProperty(faultRatesArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), async (faults, relativeOps) => {
        const namespace = `r${runs}-${Math.random().toString(36).slice(2, 8)}`;
        session.setFaults(faults);
        await applyOps(session, toOps(namespace, relativeOps), { keySchema });
        await session.waitForDrain({ timeoutMs: 60_000 });
        const keys = PARTITIONS.flatMap((pk) => SORT_KEYS.map((sk) => absoluteKey(namespace, { pk, sk })));
        const [source, target] = await Promise.all([itemsOf(session.sourceClient, session.sourceTableName, keys), itemsOf(session.targetClient, session.targetTableName, keys)]);
        expect([...target.keys()].sort()).toEqual([...source.keys()].sort());
        for (const [key, item] of source) expect(itemsEqual(item, target.get(key)!)).toBe(true);
        runs += 1;
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
    session.setFaults({});
    expect(await session.diffTables({ limit: 5 })).toEqual({ missing: 0, extra: 0, different: 0, examples: [] });
    const { faults } = session.stats();
    process.stderr.write(`faults injected: ${JSON.stringify(faults)}\n`);
    // The faults did fire (hundreds of batches at rates ≥ 1 %). Poison messages are rarer by design
    // (each costs a redrive); scenarios.test.ts covers them deterministically.
    if (NUM_RUNS >= 100) {
      for (const count of [faults.throttled + faults.partial, faults.crashed, faults.duplicateDeliveries, faults.enrichFailures]) expect(count).toBeGreaterThan(0);
    }
  },
  60_000 + NUM_RUNS * 5_000,
);
