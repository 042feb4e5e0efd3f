import { BatchWriteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { directCopyPorts } from '../../cli/bootstrap/direct-copy-port';
import { copyTableDirect } from '../../cli/bootstrap/direct-engine';
import type { CopyPorts } from '../../cli/bootstrap/direct-copy-port';
import type { CopyHandle, CopyProgress } from '../../cli/bootstrap/ports';

/** The direct engine behind the orchestrator's copy ports: RUNNING → SUCCEEDED / FAILED / STOPPED with exact counts. */

const ddb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'us-east-1' });
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
const item = (i: number) => ({ pk: { S: `k${i}` }, n: { N: '12345678901234567890123456789012345678' } });
const ports = (): CopyPorts => directCopyPorts({ sourceClient: client, sourceTableName: 'src', targetClient: client, targetTableName: 'dst', keySchema, segments: 1, writer: { sleep: async () => undefined } });

async function settle(p: CopyPorts, handle: CopyHandle): Promise<CopyProgress> {
  for (let i = 0; i < 100; i += 1) {
    const progress = await p.copyProgress(handle);
    if (progress.state !== 'RUNNING') return progress;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the copy did not settle');
}

beforeEach(() => ddb.reset());

test('a completed copy is SUCCEEDED with the items written', async () => {
  ddb.on(ScanCommand).resolvesOnce({ Items: [item(1), item(2)], LastEvaluatedKey: { pk: { S: 'k2' } } }).resolvesOnce({ Items: [item(3)] });
  ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
  const p = ports();
  const handle = await p.startCopy();
  expect(handle.description).toBe('the direct engine (1 segments, src → dst)');
  expect(await settle(p, handle)).toMatchObject({ state: 'SUCCEEDED', itemsCopied: 3 });
  expect(ddb.commandCalls(BatchWriteItemCommand)[0].args[0].input.RequestItems!.dst).toEqual([{ PutRequest: { Item: item(1) } }, { PutRequest: { Item: item(2) } }]);
});

test('a write DynamoDB rejects makes the copy FAILED, with the reason', async () => {
  ddb.on(ScanCommand).resolves({ Items: [item(1)] });
  ddb.on(BatchWriteItemCommand).rejects(Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }));
  const p = ports();
  const progress = await settle(p, await p.startCopy());
  expect(progress.state).toBe('FAILED');
  expect(progress.itemsCopied).toBe(0);
  expect(progress.message).toMatch(/^WriteFailedError: the direct copy failed after writing 0 of 1 items scanned .*ValidationException: Item size has exceeded/);
});

test('cancelCopy stops it between pages: STOPPED, with what was written', async () => {
  let release: () => void = () => undefined;
  ddb.on(ScanCommand).callsFakeOnce(async () => ({ Items: [item(1)], LastEvaluatedKey: { pk: { S: 'k1' } } }))
    .callsFake(async () => { await new Promise<void>((resolve) => { release = resolve; }); return { Items: [item(2)], LastEvaluatedKey: { pk: { S: 'k2' } } }; });
  ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
  const p = ports();
  const handle = await p.startCopy();
  while (ddb.commandCalls(ScanCommand).length < 2) await new Promise((resolve) => setImmediate(resolve));
  await p.cancelCopy(handle);
  release();
  expect(await settle(p, handle)).toMatchObject({ state: 'STOPPED', itemsCopied: 2 });
  expect(ddb.commandCalls(ScanCommand)).toHaveLength(2);
});

test('afterPage holds the copy: the next page is not scanned until it resolves (what tests use to write during a copy)', async () => {
  ddb.on(ScanCommand).resolvesOnce({ Items: [item(1)], LastEvaluatedKey: { pk: { S: 'k1' } } }).resolvesOnce({ Items: [item(2)] });
  ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
  let release: () => void = () => undefined;
  const seen: { written: number; scansSoFar: number }[] = [];
  const copying = copyTableDirect({
    sourceClient: client, sourceTableName: 'src', targetClient: client, targetTableName: 'dst', keySchema, segments: 1,
    afterPage: async (progress) => {
      seen.push({ written: progress.written, scansSoFar: ddb.commandCalls(ScanCommand).length });
      if (seen.length === 1) await new Promise<void>((resolve) => { release = resolve; });
    },
  });
  while (seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
  expect(ddb.commandCalls(ScanCommand)).toHaveLength(1); // held
  release();
  expect(await copying).toMatchObject({ written: 2, aborted: false });
  expect(seen).toEqual([{ written: 1, scansSoFar: 1 }, { written: 2, scansSoFar: 2 }]);
});
