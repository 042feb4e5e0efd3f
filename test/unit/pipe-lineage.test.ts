import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecordSdk,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { DynamoDBRecord } from 'aws-lambda';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { FaultInjector } from '../../local/faults';
import { PipeEmulator, toPipesRecord, type PipeSettings } from '../../local/pipe-emulator';
import { describeAllShards } from '../../common/stream-shards';
import { readableShards } from '../../local/pipe-lineage';

const STREAM_ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/source/stream/2026-11-27T00:00:00.000';
/** The pipe settings the stack synthesizes (local/deployed-definition.ts reads them from the template). */
const PIPE: PipeSettings = { name: 'test-pipe', batchSize: 10, parallelizationFactor: 1, maximumRetryAttempts: 10, bisectOnFailure: true, messageGroupIdPath: '$.groupId', messageDeduplicationIdPath: '$.eventId' };
const TARGET = { queueUrl: 'http://q', fifo: true, maximumMessageBytes: 1_048_576 };
const shard = (id: string, parent?: string): Shard => ({ ShardId: id, ParentShardId: parent, SequenceNumberRange: { StartingSequenceNumber: '1' } });

function streamRecord(pk: string, seq: string): StreamRecordSdk {
  return {
    eventID: `ev-${seq}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'ddblocal',
    dynamodb: {
      ApproximateCreationDateTime: new Date(1_764_201_600_000),
      Keys: { pk: { S: pk } },
      NewImage: { pk: { S: pk }, bin: { B: new Uint8Array([1, 2, 255]) }, bs: { BS: [new Uint8Array([0])] } },
      SequenceNumber: seq,
      SizeBytes: 20,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** A fake enrichment: one envelope per record, in order (what matters here is what the pipe passes on). */
const fakeEnrich = async (records: DynamoDBRecord[]): Promise<ChangeEnvelopeV1[]> =>
  records.map((r) => ({
    v: 1, op: 'PUT', table: 'source', keys: r.dynamodb?.Keys as ChangeEnvelopeV1['keys'], image: r.dynamodb?.NewImage as ChangeEnvelopeV1['keys'],
    seq: r.dynamodb?.SequenceNumber ?? '', at: 0, eventId: r.eventID ?? '', groupId: 'g', origin: 'user',
  }));

describe('readableShards', () => {
  it('reads a parent before its children, and children once the parent is exhausted', () => {
    const shards = [shard('parent'), shard('child-a', 'parent'), shard('child-b', 'parent'), shard('grandchild', 'child-a')];
    expect(readableShards(shards, new Set()).map((s) => s.ShardId)).toEqual(['parent']);
    expect(readableShards(shards, new Set(['parent'])).map((s) => s.ShardId)).toEqual(['child-a', 'child-b']);
    expect(readableShards(shards, new Set(['parent', 'child-a'])).map((s) => s.ShardId)).toEqual(['child-b', 'grandchild']);
  });

  it('does not wait for a parent that was trimmed from the stream', () => {
    expect(readableShards([shard('child', 'trimmed-parent')], new Set()).map((s) => s.ShardId)).toEqual(['child']);
  });

  it('returns nothing once every shard is exhausted', () => {
    expect(readableShards([shard('a'), shard('b', 'a')], new Set(['a', 'b']))).toEqual([]);
  });
});

describe('describeAllShards', () => {
  it('follows LastEvaluatedShardId pagination', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    streams
      .on(DescribeStreamCommand, { StreamArn: STREAM_ARN, ExclusiveStartShardId: undefined })
      .resolves({ StreamDescription: { Shards: [shard('parent')], LastEvaluatedShardId: 'parent' } })
      .on(DescribeStreamCommand, { StreamArn: STREAM_ARN, ExclusiveStartShardId: 'parent' })
      .resolves({ StreamDescription: { Shards: [shard('child', 'parent')] } });
    const shards = await describeAllShards(new DynamoDBStreamsClient({ region: 'us-east-1' }), STREAM_ARN);
    expect(shards.map((s) => s.ShardId)).toEqual(['parent', 'child']);
    expect(streams.commandCalls(DescribeStreamCommand)).toHaveLength(2);
    streams.restore();
  });
});

describe('toPipesRecord', () => {
  it('converts SDK records to the JSON wire shape Pipes delivers', () => {
    const record = toPipesRecord({ ...streamRecord('a', '100'), userIdentity: { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' } }, STREAM_ARN);
    expect(record).toEqual({
      eventID: 'ev-100', eventName: 'INSERT', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'ddblocal',
      dynamodb: {
        ApproximateCreationDateTime: 1_764_201_600, Keys: { pk: { S: 'a' } },
        NewImage: { pk: { S: 'a' }, bin: { B: 'AQL/' }, bs: { BS: ['AA=='] } },
        SequenceNumber: '100', SizeBytes: 20, StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: STREAM_ARN,
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record); // plain JSON, no Uint8Array or Date left
  });
});

describe('PipeEmulator on a parent → child split', () => {
  // A loaded machine may be slow; the tests wait for the records, not for a time.
  jest.setTimeout(70_000);
  async function runUntil(pipe: PipeEmulator, done: () => boolean): Promise<void> {
    pipe.start();
    // Waits for the event; the deadline only turns a hang into a clear failure (never a timing assertion).
    const deadline = Date.now() + 60_000;
    while (!done() && Date.now() < deadline) await sleep(5);
    await pipe.stop();
    if (!done()) throw new Error('the pipe emulator did not deliver the expected records within 60 s');
  }

  it('delivers every record of the parent before any of the child, in order, each once', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    const sqs = mockClient(SQSClient);
    const events: string[] = [];
    streams
      .on(DescribeStreamCommand, { ExclusiveStartShardId: undefined })
      .resolves({ StreamDescription: { Shards: [shard('parent')], LastEvaluatedShardId: 'parent' } })
      .on(DescribeStreamCommand, { ExclusiveStartShardId: 'parent' })
      .resolves({ StreamDescription: { Shards: [shard('child', 'parent')] } });
    streams.on(GetShardIteratorCommand).callsFake((input: { ShardId: string; ShardIteratorType: string }) => {
      events.push(`iterator ${input.ShardId} ${input.ShardIteratorType}`);
      return { ShardIterator: `${input.ShardId}#0` };
    });
    // parent: two pages, then closed (no NextShardIterator); child: one page, then open and empty.
    const pages: Record<string, { Records: StreamRecordSdk[]; NextShardIterator?: string }> = {
      'parent#0': { Records: [streamRecord('a', '1'), streamRecord('b', '2')], NextShardIterator: 'parent#1' },
      'parent#1': { Records: [streamRecord('a', '3')] },
      'child#0': { Records: [streamRecord('a', '4'), streamRecord('c', '5')], NextShardIterator: 'child#1' },
      'child#1': { Records: [], NextShardIterator: 'child#1' },
    };
    streams.on(GetRecordsCommand).callsFake((input: { ShardIterator: string }) => {
      events.push(`records ${input.ShardIterator}`);
      return pages[input.ShardIterator];
    });
    const sent: string[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { MessageBody: string; MessageDeduplicationId: string }[] }) => {
      sent.push(...input.Entries.map((e) => e.MessageDeduplicationId));
      return { Successful: input.Entries.map((e) => ({ Id: (e as { Id?: string }).Id, MessageId: 'm', MD5OfMessageBody: 'x' })), Failed: [] };
    });

    const pipe = new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, pipe: PIPE, target: TARGET, enrich: fakeEnrich,
      faults: new FaultInjector({}, 1), pollIntervalMs: 1,
    });
    await runUntil(pipe, () => sent.length >= 5 && pipe.caughtUpSince(0));

    expect(sent).toEqual(['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5']);
    expect(events.indexOf('iterator child TRIM_HORIZON')).toBeGreaterThan(events.indexOf('records parent#1'));
    expect(pipe.stats()).toMatchObject({ recordsRead: 5, envelopesSent: 5 });
    streams.restore();
    sqs.restore();
  });

  it('retries a failed batch without advancing, and resumes AFTER the last delivered record when the iterator expires', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    const sqs = mockClient(SQSClient);
    streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [shard('only')] } });
    const iteratorRequests: { type: string; seq?: string }[] = [];
    streams.on(GetShardIteratorCommand).callsFake((input: { ShardIteratorType: string; SequenceNumber?: string }) => {
      iteratorRequests.push({ type: input.ShardIteratorType, seq: input.SequenceNumber });
      return { ShardIterator: input.ShardIteratorType === 'TRIM_HORIZON' ? 'it-0' : 'it-after' };
    });
    let expired = false;
    streams.on(GetRecordsCommand).callsFake((input: { ShardIterator: string }) => {
      if (input.ShardIterator === 'it-0') return { Records: [streamRecord('a', '10'), streamRecord('b', '11')], NextShardIterator: 'it-1' };
      if (input.ShardIterator === 'it-1' && !expired) {
        expired = true;
        throw new ExpiredIteratorException({ message: 'expired', $metadata: {} });
      }
      if (input.ShardIterator === 'it-after') return { Records: [streamRecord('c', '12')], NextShardIterator: 'it-2' };
      return { Records: [], NextShardIterator: input.ShardIterator };
    });
    const sent: string[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { MessageDeduplicationId: string }[] }) => {
      sent.push(...input.Entries.map((e) => e.MessageDeduplicationId));
      return { Successful: [], Failed: [] };
    });
    let enrichCalls = 0;
    const flakyEnrich = async (records: DynamoDBRecord[]) => {
      enrichCalls += 1;
      if (enrichCalls === 1) throw new Error('enrichment unavailable');
      return fakeEnrich(records);
    };
    const pipe = new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, pipe: PIPE, target: TARGET, enrich: flakyEnrich,
      faults: new FaultInjector({}, 1), pollIntervalMs: 1,
    });
    await runUntil(pipe, () => sent.length >= 3 && pipe.caughtUpSince(0));

    expect(sent).toEqual(['ev-10', 'ev-11', 'ev-12']);
    expect(streams.commandCalls(GetRecordsCommand).filter((c) => c.args[0].input.ShardIterator === 'it-0')).toHaveLength(1);
    expect(iteratorRequests).toEqual([{ type: 'TRIM_HORIZON', seq: undefined }, { type: 'AFTER_SEQUENCE_NUMBER', seq: '11' }]);
    expect(pipe.stats()).toMatchObject({ recordsRead: 3, batchRetries: 1, enrichFailures: 1 });
    streams.restore();
    sqs.restore();
  });

  it('bisects a failing batch as the template says and, after MaximumRetryAttempts, sends the poison record\'s metadata to the pipe DLQ and moves on', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    const sqs = mockClient(SQSClient);
    streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [shard('only')] } });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    streams.on(GetRecordsCommand, { ShardIterator: 'it-0' }).resolves({ Records: ['1', '2', '3', '4'].map((seq) => streamRecord(seq === '3' ? 'poison' : `ok-${seq}`, seq)), NextShardIterator: 'it-1' });
    streams.on(GetRecordsCommand, { ShardIterator: 'it-1' }).resolves({ Records: [], NextShardIterator: 'it-1' });
    const sent: string[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { MessageDeduplicationId: string }[] }) => {
      sent.push(...input.Entries.map((e) => e.MessageDeduplicationId));
      return { Successful: [], Failed: [] };
    });
    const deadLettered: string[] = [];
    sqs.on(SendMessageCommand).callsFake((input: { QueueUrl: string; MessageBody: string }) => {
      deadLettered.push(`${input.QueueUrl} ${input.MessageBody}`);
      return {};
    });
    const batches: number[] = [];
    const pipe = new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, pipe: { ...PIPE, maximumRetryAttempts: 2 }, target: TARGET, deadLetterQueueUrl: 'http://pipe-dlq',
      enrich: async (records) => {
        batches.push(records.length);
        if (records.some((r) => r.dynamodb?.Keys?.pk?.S === 'poison')) throw new Error('cannot encode');
        return fakeEnrich(records);
      },
      faults: new FaultInjector({}, 1), pollIntervalMs: 1,
    });
    await runUntil(pipe, () => deadLettered.length === 1 && sent.length >= 3);
    expect(sent).toEqual(['ev-1', 'ev-2', 'ev-4']);
    // [1..4] fails → halves; [1,2] ok; [3,4] fails → halves; [3] fails on its third attempt (2 retries): DLQ; [4] ok.
    expect(batches).toEqual([4, 2, 2, 1, 1]);
    expect(deadLettered).toHaveLength(1);
    expect(JSON.parse(deadLettered[0].replace('http://pipe-dlq ', ''))).toEqual({ pipe: 'test-pipe', streamArn: STREAM_ARN, startSequenceNumber: '3', endSequenceNumber: '3', batchSize: 1, error: 'Error' });
    expect(pipe.stats()).toMatchObject({ recordsRead: 4, recordsDeadLettered: 1, envelopesSent: 3 });
    streams.restore();
    sqs.restore();
  });

  it('drops records the filter rejects before enrichment', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    const sqs = mockClient(SQSClient);
    streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [shard('only')] } });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    streams.on(GetRecordsCommand, { ShardIterator: 'it-0' }).resolves({ Records: [streamRecord('keep-1', '1'), streamRecord('drop-1', '2')], NextShardIterator: 'it-1' });
    streams.on(GetRecordsCommand, { ShardIterator: 'it-1' }).resolves({ Records: [], NextShardIterator: 'it-1' });
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const enriched: string[] = [];
    const pipe = new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, target: TARGET,
      // The template's FilterCriteria, matched with EventBridge semantics.
      pipe: { ...PIPE, filterPatterns: [{ dynamodb: { Keys: { pk: { S: [{ prefix: 'keep' }] } } } }] },
      enrich: async (records) => {
        enriched.push(...records.map((r) => r.eventID ?? ''));
        return fakeEnrich(records);
      },
      faults: new FaultInjector({}, 1), pollIntervalMs: 1,
    });
    await runUntil(pipe, () => pipe.stats().recordsRead >= 2 && pipe.caughtUpSince(0));
    expect(enriched).toEqual(['ev-1']);
    expect(pipe.stats()).toMatchObject({ recordsRead: 2, recordsFiltered: 1, envelopesSent: 1 });
    streams.restore();
    sqs.restore();
  });
});
