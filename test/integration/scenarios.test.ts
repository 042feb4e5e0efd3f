import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import type { KeySchema } from '../../handlers/core/key-schema';
import type { WorkloadOp } from '../../local/input';
import { queueDepth, totalDepth } from '../../cli/operator/queues';
import { LOCAL_REGION, startLocalSession, type LocalSession } from '../../local/session';
import { applyOps, writeOp } from '../../local/workload';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';
import { setMaxReceiveCount, waitFor } from './support/wait';

/**
 * End-to-end scenarios through the real pipeline on emulators (DynamoDB Local → pipe emulator →
 * fauxqs FIFO → event-source emulator → apply → DynamoDB Local), one session for the whole file.
 * Each scenario uses its own partition-key prefix; after each, the whole target must equal the
 * whole source (diffTables), and the scenario's items are compared attribute by attribute.
 */
jest.setTimeout(120_000);

const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
let session: LocalSession;

beforeAll(async () => {
  session = await startLocalSession({ keySchema, seed: 7, onLog: process.env.LOCAL_LOG ? (l) => process.stderr.write(`${l}\n`) : undefined });
  await session.startReplication();
});

afterAll(async () => {
  await session?.stop();
});

const key = (pk: string, sk: string | number): AttributeMapWire => ({ pk: { S: pk }, sk: { N: String(sk) } });

async function getItem(client: DynamoDBClient, tableName: string, k: AttributeMapWire): Promise<AttributeMapWire | undefined> {
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: toSdkAttributeMap(k), ConsistentRead: true }));
  return out.Item === undefined ? undefined : toWireAttributeMap(out.Item);
}

const sourceItem = (k: AttributeMapWire): Promise<AttributeMapWire | undefined> => getItem(session.sourceClient, session.sourceTableName, k);
const targetItem = (k: AttributeMapWire): Promise<AttributeMapWire | undefined> => getItem(session.targetClient, session.targetTableName, k);

async function run(ops: WorkloadOp[]): Promise<void> {
  await applyOps(session, ops, { keySchema });
  await session.waitForDrain({ timeoutMs: 60_000 });
}

async function expectConverged(): Promise<void> {
  const diff = await session.diffTables({ limit: 5 });
  expect(diff).toEqual({ missing: 0, extra: 0, different: 0, examples: [] });
}

function nested(depth: number): AttributeValueWire {
  let value: AttributeValueWire = { S: 'bottom' };
  for (let i = 1; i < depth; i++) value = i % 2 === 0 ? { L: [value, { N: String(i) }] } : { M: { [`level${i}`]: value } };
  return value;
}

describe('local replication scenarios', () => {
  it('replicates every AttributeValue type and edge case exactly', async () => {
    const items: AttributeMapWire[] = [
      {
        ...key('types', 1),
        s: { S: 'plain' }, emptyS: { S: '' }, emptyB: { B: '' },
        n38: { N: '12345678901234567890123456789012345678' }, nNeg38: { N: '-0.00000000000000000000000000000000000012345678901234567890123456789012345678' },
        nExp: { N: '1E+125' }, nSmall: { N: '1E-130' }, nTrailing: { N: '1.50' },
        b: { B: Buffer.from([0, 1, 2, 255]).toString('base64') },
        ss: { SS: ['b', 'a', 'ünï'] }, ns: { NS: ['3', '1.0', '-2E+3'] }, bs: { BS: ['AAE=', '/w=='] },
        bool: { BOOL: false }, nul: { NULL: true },
        emptyM: { M: {} }, emptyL: { L: [] },
        list: { L: [{ S: '' }, { N: '0' }, { NULL: true }, { SS: ['x'] }, { M: { ' ': { S: 'blank name' } } }] },
        deep: nested(32),
      },
      { pk: { S: '日本語-キー 🔑' }, sk: { N: '-99999999999999999999999999999999999999' }, 'ключ 🗝': { S: 'unicode attribute name' }, 'a.b#c:d': { S: 'punctuation' } },
      { pk: { S: 'types-zero' }, sk: { N: '0' }, v: { N: '-0' } },
    ];
    await run(items.map((item) => ({ op: 'put', item })));
    await expectConverged();
    for (const item of items) {
      const k: AttributeMapWire = { pk: item.pk, sk: item.sk };
      const source = await sourceItem(k);
      expect(source).toBeDefined();
      // Byte for byte: the target holds exactly what the source (DynamoDB-normalised) holds.
      expect(await targetItem(k)).toEqual(source);
    }
  });

  it('replicates a 400 KB item (over the envelope threshold: it travels as a keys-only RESYNC)', async () => {
    const k = key('large', 1);
    // Just under DynamoDB's 409,600-byte limit, far over the envelope threshold.
    const item = { ...k, blob: { B: Buffer.alloc(399 * 1024, 7).toString('base64') } };
    await run([{ op: 'put', item }]);
    const target = await targetItem(k);
    expect(target?.blob).toEqual(item.blob);
    await expectConverged();
  });

  it('applies a delete of an item the target never saw', async () => {
    await run([{ op: 'delete', key: key('never-seen', 1) }]);
    expect(await targetItem(key('never-seen', 1))).toBeUndefined();
    expect(session.stats().deadLettered).toBe(0);
    await expectConverged();
  });

  it('ends with the last write for put/delete/put of one key in quick succession', async () => {
    const k = key('flip', 1);
    for (let round = 0; round < 5; round++) {
      await writeOp(session, { op: 'put', item: { ...k, round: { N: String(round) }, phase: { S: 'first' } } }, keySchema);
      await writeOp(session, { op: 'delete', key: k }, keySchema);
      await writeOp(session, { op: 'put', item: { ...k, round: { N: String(round) }, phase: { S: 'second' } } }, keySchema);
    }
    await writeOp(session, { op: 'put', item: { ...key('flip', 2), v: { S: 'x' } } }, keySchema);
    await writeOp(session, { op: 'delete', key: key('flip', 2) }, keySchema);
    await session.waitForDrain({ timeoutMs: 60_000 });
    expect(await targetItem(k)).toEqual({ ...k, round: { N: '4' }, phase: { S: 'second' } });
    expect(await targetItem(key('flip', 2))).toBeUndefined();
    await expectConverged();
  });

  it('keeps order within one partition (one FIFO group): the last write wins, as in the source', async () => {
    const ops: WorkloadOp[] = [];
    for (let i = 0; i < 150; i++) {
      const sk = i % 10;
      if (i % 7 === 3) ops.push({ op: 'delete', key: key('one-group', sk) });
      else if (i % 3 === 0) ops.push({ op: 'update', key: key('one-group', sk), set: { seq: { N: String(i) } }, remove: i % 2 === 0 ? ['payload'] : [] });
      else ops.push({ op: 'put', item: { ...key('one-group', sk), seq: { N: String(i) }, payload: { S: `p${i}` } } });
    }
    await run(ops);
    for (let sk = 0; sk < 10; sk++) expect(await targetItem(key('one-group', sk))).toEqual(await sourceItem(key('one-group', sk)));
    await expectConverged();
  });

  it('treats numerically equal sort keys as one item (composite key pk:S, sk:N)', async () => {
    await run([
      { op: 'put', item: { ...key('composite', '1.50'), v: { S: 'first' } } },
      { op: 'update', key: key('composite', '15E-1'), set: { v: { S: 'second' } }, remove: [] },
      { op: 'put', item: { ...key('composite', 2), v: { S: 'other' } } },
      { op: 'delete', key: key('composite', '2.0') },
    ]);
    expect(await targetItem(key('composite', '1.5'))).toEqual({ ...key('composite', '1.5'), v: { S: 'second' } });
    expect(await targetItem(key('composite', 2))).toBeUndefined();
    await expectConverged();
  });

  it('a poison message blocks only its own group: every other group is applied while it is retried, then it is dead-lettered', async () => {
    const before = session.stats();
    const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: session.endpoints.sqs, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      // Keep the poison out of the DLQ for as long as the other groups take, on any machine: raise
      // maxReceiveCount now, put it back once they are in.
      await setMaxReceiveCount(sqs, session.queueUrl, 1000);
      session.setFaults({ poisonMessage: 1 });
      await writeOp(session, { op: 'put', item: { ...key('poison-trigger', 1), v: { N: '1' } } }, keySchema);
      await waitFor('the poison message to be sent', () => session.stats().faults.poisonSent > before.faults.poisonSent);
      session.setFaults({});
      // Its first apply has failed: from here on its group is blocked until it leaves the queue.
      await waitFor('the poison message to fail an apply', () => session.stats().applyFailures > before.applyFailures);

      // 200 changes over 40 partitions = 40 FIFO groups, written behind the poison message.
      const ops: WorkloadOp[] = Array.from({ length: 200 }, (_, i) => ({ op: 'put', item: { ...key(`flow-${i % 40}`, i), v: { N: String(i) } } }));
      await applyOps(session, ops, { keySchema });
      const expectedApplied = before.messagesApplied + 1 + ops.length;
      await waitFor('every other group to be applied', () => session.stats().messagesApplied >= expectedApplied, { timeoutMs: 90_000 });
      // The poison is still in its queue, not in the DLQ, and still failing. An applied message is
      // deleted only after its handler returns: wait for those deletes, not for a time.
      await waitFor('only the poison message to be left in the queue', async () => totalDepth(await queueDepth(sqs, session.queueUrl)) === 1, { intervalMs: 100 });
      expect(totalDepth(await queueDepth(sqs, session.deadLetterQueueUrl))).toBe(before.deadLettered);

      await setMaxReceiveCount(sqs, session.queueUrl, 3);
      await session.waitForDrain({ timeoutMs: 60_000 });
      expect(totalDepth(await queueDepth(sqs, session.deadLetterQueueUrl))).toBe(before.deadLettered + 1);
      await waitFor('the session to count the dead-lettered message', () => session.stats().deadLettered === before.deadLettered + 1);
      await expectConverged(); // the poison has no item key: nothing is missing in the target
    } finally {
      // Even when a step above fails, the poison must be let go, or every later test waits on it.
      await setMaxReceiveCount(sqs, session.queueUrl, 3);
      sqs.destroy();
    }
  });
});
