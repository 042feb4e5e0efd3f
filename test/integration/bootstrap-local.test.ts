import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { toWireAttributeMap } from '../../handlers/core/attribute-value';
import { itemsEqual } from '../../common/item-compare';
import { localBootstrapPorts, type LocalBootstrapPorts } from '../../cli/local/bootstrap-ports';
import { runBootstrap, type BootstrapEvent } from '../../cli/bootstrap/orchestrator';
import type { BootstrapPorts } from '../../cli/bootstrap/ports';
import { startLocalSession, type LocalSession } from '../../local/session';

/**
 * The bootstrap orchestrator with local ports on a real local session (DynamoDB Local, fauxqs,
 * pipe and event-source emulators, real handlers), with writes going on during the copy.
 *
 * The writes go in between the copy's pages through the direct engine's `afterPage` hook, so they
 * overlap the copy on any machine, however slow or loaded.
 *
 * Replication starts from "now" (the local equivalent of a pipe at LATEST), so the seed items never
 * travel through the stream: the copy is the only way they reach the target. With the apply paused,
 * the copy puts every seed item into the target; the buffered concurrent writes then replay over the
 * snapshot, and the target converges to the source.
 */
jest.setTimeout(120_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
const SEEDS = 400;
let session: LocalSession;
let ports: LocalBootstrapPorts | undefined;

beforeAll(async () => {
  session = await startLocalSession({ keySchema, seed: 7, visibilityTimeoutSeconds: 1 });
});

afterAll(async () => {
  ports?.close();
  await session?.stop();
});

const key = (i: number): Record<string, AttributeValue> => ({ pk: { S: `item-${i % 37}` }, sk: { N: String(i) } });
const seedItem = (i: number): Record<string, AttributeValue> => ({
  ...key(i), v: { N: String(i) }, big: { N: '98765432109876543210987654321098765432' }, bin: { B: new Uint8Array([i % 256, 0, 255]) },
  tags: { SS: ['seed', `s${i}`] }, doc: { M: { l: { L: [{ NULL: true }, { BOOL: true }, { S: '' }] }, 'ü': { NS: ['1', '2'] } } },
});

async function scanKeys(table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await session.targetClient.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) items.set(`${item.pk.S}/${item.sk.N}`, item);
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

test('copies the seeded table while writes go on, resumes the apply, and the target converges to the source', async () => {
  // Seed first, before replication starts.
  for (let start = 0; start < SEEDS; start += 25) {
    const batch = Array.from({ length: Math.min(25, SEEDS - start) }, (_, j) => ({ PutRequest: { Item: seedItem(start + j) } }));
    await session.sourceClient.send(new BatchWriteItemCommand({ RequestItems: { [session.sourceTableName]: batch } }));
  }
  await session.startReplication({ from: 'now' });

  // Writes during the copy, made deterministic: after every page the direct engine writes, it waits
  // while WRITES_PER_PAGE changes (new items, updates and deletes of seeded ones) go into the source.
  // So they land between scan pages, before and after the pages that hold their keys, whatever the
  // machine's speed.
  const WRITES_PER_PAGE = 4;
  const touched = new Set<number>();
  let writesDuringCopy = 0;
  let n = 0;
  const writeOne = async (): Promise<void> => {
    n += 1;
    const step = n;
    const i = (step * 7919) % SEEDS;
    touched.add(i);
    if (step % 5 === 0) {
      await session.sourceClient.send(new DeleteItemCommand({ TableName: session.sourceTableName, Key: key(i) }));
    } else if (step % 2 === 0) {
      await session.sourceClient.send(new UpdateItemCommand({
        TableName: session.sourceTableName, Key: key(i),
        UpdateExpression: 'SET v = :v ADD hits :one', ExpressionAttributeValues: { ':v': { N: `${step}` }, ':one': { N: '1' } },
      }));
    } else {
      await session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: { ...key(SEEDS + step), v: { S: `new ${step}` } } }));
    }
    writesDuringCopy += 1;
  };
  let pages = 0;
  const afterPage = async (): Promise<void> => {
    pages += 1;
    for (let w = 0; w < WRITES_PER_PAGE; w += 1) await writeOne();
  };

  const local = localBootstrapPorts(session, { keySchema, copy: { segments: 4, pageLimit: 50, afterPage } });
  ports = local;
  // At the moment the apply resumes, everything in the target came from the copy (the apply was paused).
  let atResume: Map<string, Record<string, AttributeValue>> | undefined;
  const observed: BootstrapPorts = {
    ...local,
    enableMapping: async () => {
      atResume ??= await scanKeys(session.targetTableName);
      await local.enableMapping();
    },
  };
  const events: BootstrapEvent[] = [];
  const summary = await runBootstrap({ ports: observed, pollIntervalMs: 100, onEvent: (e) => events.push(e) });

  expect(summary.outcome).toBe('succeeded');
  // At least one page per 50 items, each followed by its writes.
  expect(pages).toBeGreaterThanOrEqual(SEEDS / 50);
  expect(writesDuringCopy).toBe(pages * WRITES_PER_PAGE);
  expect(summary.itemsCopied).toBeGreaterThanOrEqual(SEEDS - touched.size);
  expect(events.filter((e) => e.kind === 'step').map((e) => e.kind === 'step' && e.step)).toEqual(['check', 'pause', 'copy', 'resume', 'drain']);
  expect(events.some((e) => e.kind === 'copy-progress' && e.state === 'SUCCEEDED')).toBe(true);
  // Every seed item no concurrent write touched is in the target, exactly, before any buffered change is applied.
  const untouched = Array.from({ length: SEEDS }, (_, i) => i).filter((i) => !touched.has(i));
  expect(untouched.length).toBeGreaterThan(0);
  const differing = untouched.filter((i) => {
    const copied = atResume!.get(`item-${i % 37}/${i}`);
    return copied === undefined || !itemsEqual(toWireAttributeMap(copied), toWireAttributeMap(seedItem(i)));
  });
  expect(differing).toEqual([]);

  await session.waitForDrain({ timeoutMs: 60_000 });
  // Only the concurrent writes went through the stream (at most one record each), never the seeds.
  expect(session.stats().recordsRead).toBeLessThanOrEqual(writesDuringCopy);
  const diff = await session.diffTables();
  expect(diff).toEqual({ missing: 0, extra: 0, different: 0, examples: [] });
  expect(session.stats().deadLettered).toBe(0);
});
