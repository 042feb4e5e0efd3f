import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth, totalDepth } from '../../cli/operator/queues';
import { controlTableName, readFreezeState } from '../../handlers/core/freeze';
import { readSessionFile } from '../../local/control';
import type { LocalSession } from '../../local/session';
import { startKeptSession, type KeptSession } from './support/kept-session';
import { runCli as run } from '../support/run-cli';
import { waitFor } from './support/wait';

/**
 * Unplanned failover on the emulators (issue 17 §3, §5): replication stops mid-stream (the apply
 * side goes dark while the source keeps taking writes), `failover --local` freezes the target and
 * reports what is still buffered, and `--reconcile` names exactly the changes the target lacks —
 * the test's own list of the writes made after the outage, not a second run of the same diff.
 */
jest.setTimeout(180_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
let kept: KeptSession;
let session: LocalSession;
let file: string;

beforeAll(async () => {
  kept = await startKeptSession(keySchema, 23);
  ({ session, file } = kept);
});

afterAll(async () => {
  await kept?.stop();
});

const put = (pk: string, v: string) => session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: { pk: { S: pk }, v: { N: v } } }));

test('replication dies mid-stream: failover freezes and reports the buffered changes; reconcile names exactly what the target lacks', async () => {
  for (let i = 0; i < 10; i += 1) await put(`a${i}`, '1');
  await session.waitForDrain();
  // The outage: nothing is applied any more, while the source takes more writes.
  await session.pauseApply();
  const lacking = ['a3', 'b1', 'b2'];
  await put('a3', '2'); // a change to an item the target has
  await put('b1', '1'); // new items
  await put('b2', '1');
  await session.sourceClient.send(new DeleteItemCommand({ TableName: session.sourceTableName, Key: { pk: { S: 'a7' } } }));
  lacking.push('a7');
  // The pipe still delivers them to the queue (the part of the pipeline that survived): wait for that event.
  const sqs = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, endpoint: readSessionFile(file).endpoints.sqs });
  await waitFor('the four changes to reach the queue', async () => totalDepth(await queueDepth(sqs, session.queueUrl)) >= 4, { intervalMs: 100 });
  sqs.destroy();

  const failover = await run('failover', '--local', file, '--json');
  expect(failover.code).toBe(0);
  const record = JSON.parse(failover.stdout) as { mark: string; mapping: string; buffered: { queue: number; dlq: number }; failoverAt: string };
  expect(record).toMatchObject({ mark: 'set', mapping: 'Disabled', buffered: { dlq: 0 } });
  expect(await readFreezeState(session.sourceClient, controlTableName('local'), 'local')).toMatchObject({ frozen: true, reason: 'failover', frozenAt: record.failoverAt });

  const reconcile = await run('failover', '--local', file, '--reconcile', '--json');
  expect(reconcile.code).toBe(1);
  const result = JSON.parse(reconcile.stdout) as { changedKeys: number; entries: { keys: { pk: { S: string } }; kind: string }[] };
  expect(result.changedKeys).toBe(12);
  expect(result.entries.map((e) => `${e.keys.pk.S}:${e.kind}`).sort()).toEqual(['a3:different', 'a7:deleted', 'b1:missing', 'b2:missing']);
  expect(result.entries.map((e) => e.keys.pk.S).sort()).toEqual(lacking.sort());
  // The buffered changes are the same four (one message each), still queued: nothing was lost or written.
  expect(record.buffered.queue).toBe(4);
});
