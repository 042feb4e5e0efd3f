import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from './support/wait';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startLocalReverse } from '../../cli/local/reverse';
import { controlTableName, readFreezeState } from '../../handlers/core/freeze';
import { queueDepth, totalDepth } from '../../cli/operator/queues';
import { localTarget } from '../../cli/local/target';
import type { OperatorTarget } from '../../cli/targets/types';
import type { LocalSession } from '../../local/session';
import { startKeptSession, type KeptSession } from './support/kept-session';
import { runCli as run } from '../support/run-cli';

/**
 * Planned cutover on the emulators (issue 17 §2, §5): writes go on while the cutover waits for a
 * quiet stream; it drains, verifies and freezes; a change made on the old source afterwards is
 * delivered to the frozen apply and is neither written nor lost (it ends in the DLQ). Then failback:
 * the new primary replicates back into the old source, the application writes on the new primary,
 * and both tables agree on everything except that one post-freeze change.
 */
jest.setTimeout(180_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
let kept: KeptSession;
let session: LocalSession;
let file: string;
let target: OperatorTarget;

beforeAll(async () => {
  kept = await startKeptSession(keySchema, 17);
  ({ session, file } = kept);
  target = localTarget({ sessionFile: file });
});

afterAll(async () => {
  target?.close();
  await kept?.stop();
});

const put = (pk: string, v: string) => session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: { pk: { S: pk }, v: { N: v } } }));
const inTarget = async (pk: string) => (await session.targetClient.send(new GetItemCommand({ TableName: session.targetTableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;

test('cutover while writes continue until the stream is quiet; after the freeze a stale change is kept, never written', async () => {
  // Writes go on until the cutover has started waiting for a quiet stream.
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      await put(`k${written % 20}`, String(written));
      written += 1;
      await sleep(20);
    }
  })();
  const cutover = run('cutover', '--local', file, '--quiet-seconds', '2', '--json');
  // The stream keeps moving while we write: the cutover cannot get past writes-stopped.
  while (written < 60) await sleep(20);
  writing = false;
  await writer;

  const result = await cutover;
  expect(result.stderr).toContain('[2/5 writes-stopped] done: no new stream record for 2 s');
  expect(result.code).toBe(0);
  const record = JSON.parse(result.stdout) as { completedAt: string; steps: { verify: { equal: boolean; checked: number }; freeze: { frozenAt: string; mapping: string } } };
  expect(record.steps.verify).toMatchObject({ equal: true, checked: 20 });
  expect(record.steps.freeze.mapping).toBe('Disabled');
  expect(await session.diffTables()).toMatchObject({ missing: 0, extra: 0, different: 0 });
  expect(await readFreezeState(session.sourceClient, controlTableName('local'), 'local')).toMatchObject({ frozen: true, reason: 'cutover' });

  // A stale write on the old source after the freeze: queued, then delivered once the mapping is
  // (wrongly) re-enabled — the frozen apply keeps it: it moves to the DLQ, the target never gets it.
  await put('late', '1');
  const { stdout } = await run('resume', '--local', file);
  expect(stdout).toContain('apply of target local is running');
  await waitFor('the stale change to reach the DLQ', async () => totalDepth(await queueDepth(target.sqs, target.deadLetterQueueUrl)) >= 1, { timeoutMs: 90_000, intervalMs: 200 });
  expect(await inTarget('late')).toBeUndefined();
  expect(await inTarget('k0')).toBeDefined();

  // Failback: the new primary replicates back into the old source; the application writes there.
  const reverse = await startLocalReverse(file);
  try {
    const primary = (pk: string, v?: string) => (v === undefined
      ? session.targetClient.send(new DeleteItemCommand({ TableName: session.targetTableName, Key: { pk: { S: pk } } }))
      : session.targetClient.send(new PutItemCommand({ TableName: session.targetTableName, Item: { pk: { S: pk }, v: { N: v } } })));
    await primary('n1', '1');
    await primary('k1', '999');
    await primary('k2');
    await primary('n2', '2');
    const inSource = async (pk: string) => (await session.sourceClient.send(new GetItemCommand({ TableName: session.sourceTableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
    await waitFor('the reverse replication to bring the old source up to date',
      async () => (await inSource('n2')) !== undefined && (await inSource('k2')) === undefined && (await inSource('k1'))?.v?.N === '999', { intervalMs: 100 });
    // Both directions agree on everything but the change made on the old source after the freeze:
    // it was never applied to the new primary (failover --reconcile would name it).
    const diff = await session.diffTables({ limit: 10 });
    expect(diff).toMatchObject({ missing: 1, extra: 0, different: 0 });
    expect(await inTarget('late')).toBeUndefined();
    // The reverse counts a message once it is deleted, after its write landed: wait for the count.
    await waitFor(() => `the reverse apply to count 4 changes (counted ${reverse.applied()})`, () => reverse.applied() >= 4);
    expect(totalDepth(await queueDepth(target.sqs, reverse.deadLetterQueueUrl))).toBe(0);
  } finally {
    await reverse.stop();
  }

  // Run again: a completed cutover changes nothing and prints the same record.
  const again = await run('cutover', '--local', file, '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ completedAt: record.completedAt });
});
