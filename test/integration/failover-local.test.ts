import { DeleteItemCommand, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth, totalDepth } from '../../cli/operator/queues';
import { controlTableName, readFreezeState } from '../../handlers/core/freeze';
import { readReplicationState, recordLastApplied, stateTableName } from '../../handlers/core/replication-state';
import { readSessionFile } from '../../local/control';
import { startSampledVerifier } from '../../local/sampled-verifier';
import type { LocalSession } from '../../local/session';
import { startKeptSession, type KeptSession } from './support/kept-session';
import { runCli as run } from '../support/run-cli';
import { waitFor } from './support/wait';

/**
 * Unplanned failover on the emulators (issue 17 §3, §5): replication stops mid-stream (the apply
 * side goes dark while the source keeps taking writes), `failover --local` freezes the target and
 * reports what is still buffered, the last change applied to the target (the stream record of the
 * last write made before the outage, read here from the stream itself) and the last sampled verify
 * (run once here during the outage), and `--reconcile` names exactly the changes the target lacks —
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

/** Every record of the source table's stream so far (DynamoDB Local: one page loop per shard until an empty page). */
async function streamRecords(): Promise<_Record[]> {
  const { endpoints, region, credentials } = readSessionFile(file);
  const streams = new DynamoDBStreamsClient({ region, credentials, endpoint: endpoints.dynamodb });
  try {
    const table = await session.sourceClient.send(new DescribeTableCommand({ TableName: session.sourceTableName }));
    const StreamArn = table.Table?.LatestStreamArn;
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn }))).StreamDescription?.Shards ?? [];
    const records: _Record[] = [];
    for (const shard of shards) {
      let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (iterator !== undefined) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        records.push(...(page.Records ?? []));
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return records;
  } finally {
    streams.destroy();
  }
}

const put = (pk: string, v: string) => session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: { pk: { S: pk }, v: { N: v } } }));

test('replication dies mid-stream: failover freezes and reports the buffered changes; reconcile names exactly what the target lacks', async () => {
  for (let i = 0; i < 10; i += 1) await put(`a${i}`, '1');
  await session.waitForDrain();
  // The outage: nothing is applied any more, while the source takes more writes.
  await session.pauseApply();
  // The last change the target received: the stream record of a9, the last write before the outage
  // (and the newest record of the stream so far: one writer, one shard).
  const before = await streamRecords();
  const lastReceived = before.find((r) => r.dynamodb?.Keys?.pk?.S === 'a9')!;
  expect(before.every((r) => BigInt(r.dynamodb!.SequenceNumber!) <= BigInt(lastReceived.dynamodb!.SequenceNumber!))).toBe(true);
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
  // One sampled verification during the outage (the scheduled function's handler, as `local --sampled-verify` runs it):
  // small tables are sampled whole, so it finds exactly the four changes the target lacks.
  const verifier = startSampledVerifier(session, { everyMs: 3_600_000, sampleSize: 100, settleSeconds: 0, autoRepair: false });
  const verifiedFrom = new Date().toISOString();
  await verifier.runOnce();
  const verifiedTo = new Date().toISOString();
  await verifier.stop();

  const failover = await run('failover', '--local', file, '--json');
  expect(failover.code).toBe(0);
  const record = JSON.parse(failover.stdout) as {
    mark: string; mapping: string; buffered: { queue: number; dlq: number }; failoverAt: string;
    lastApplied: { approximateCreationDateTime: string; sequenceNumber: string; eventId: string; appliedAt: string };
    lastSampledVerify: { at: string; sampled: number; mismatches: number; repaired: number };
  };
  expect(record).toMatchObject({ mark: 'set', mapping: 'Disabled', buffered: { dlq: 0 } });
  expect(record.lastApplied).toMatchObject({
    approximateCreationDateTime: lastReceived.dynamodb!.ApproximateCreationDateTime!.toISOString(),
    sequenceNumber: lastReceived.dynamodb!.SequenceNumber,
    eventId: lastReceived.eventID,
  });
  // 11 source items (a0–a9 without a7, b1, b2) and 10 target items; a3, a7, b1, b2 differ.
  expect(record.lastSampledVerify).toMatchObject({ sampled: 21, mismatches: lacking.length, repaired: 0 });
  expect(record.lastSampledVerify.at >= verifiedFrom && record.lastSampledVerify.at <= verifiedTo).toBe(true);
  const text = await run('failover', '--local', file);
  expect(text.stdout).toContain(`last applied:  the change of ${record.lastApplied.approximateCreationDateTime}, sequence number ${record.lastApplied.sequenceNumber}`);
  expect(text.stdout).toContain(`last sampled verify: ${record.lastSampledVerify.at}: 4 mismatch(es) in 21 sampled item(s)`);
  // The conditional write, on DynamoDB Local: an older change leaves the record as it is.
  const stateTable = stateTableName('local', 'local');
  expect(await recordLastApplied(session.targetClient, stateTable, { at: Date.parse(record.lastApplied.approximateCreationDateTime) - 60_000, seq: '9'.repeat(30), eventId: 'older' }, Date.now())).toBe('older');
  expect((await readReplicationState(session.targetClient, stateTable)).lastApplied).toEqual(record.lastApplied);
  // Same creation time, a sequence number one digit longer (larger by value, smaller as plain text): newer.
  const longer = `${record.lastApplied.sequenceNumber}0`;
  expect(await recordLastApplied(session.targetClient, stateTable, { at: Date.parse(record.lastApplied.approximateCreationDateTime), seq: longer, eventId: 'tiebreak' }, Date.now())).toBe('recorded');
  expect((await readReplicationState(session.targetClient, stateTable)).lastApplied?.sequenceNumber).toBe(longer);
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
