import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record as StreamRecordSdk } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { DynamoDBRecord } from 'aws-lambda';
import * as fc from 'fast-check';
import { FaultInjector } from '../../local/faults';
import { PipeEmulator, type PipeSettings } from '../../local/pipe-emulator';
import { partitionKeyOf, processShardPage, splitByKey, validateParallelizationFactor } from '../../local/shard-parallelism';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';

/**
 * ParallelizationFactor in the local pipe: one shard's records as up to PF concurrent batches,
 * order kept per partition key (as EventBridge Pipes documents for DynamoDB stream sources).
 */

interface Rec {
  key: string;
  seq: number;
}

const yieldTimes = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('processShardPage', () => {
  let sawConcurrency = false;

  it('keeps each key in order, delivers every record once, never runs a key in two batches at once, and stays within PF — with faults', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        // Per attempt: how long the batch takes (in event-loop turns) and whether it fails (a fault).
        fc.infiniteStream(fc.record({ turns: fc.integer({ min: 0, max: 5 }), roll: fc.double({ min: 0, max: 1, noNaN: true }) })),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        async (keys, pf, batchSize, attempts, faultRate) => {
          const records: Rec[] = keys.map((key, seq) => ({ key, seq }));
          const delivered: Rec[] = [];
          const inFlightKeys = new Map<string, number>();
          let inFlight = 0;
          let maxInFlight = 0;
          const plan = attempts[Symbol.iterator]();
          let failures = 0;
          await processShardPage(records, {
            parallelizationFactor: pf,
            batchSize,
            keyOf: (r) => r.key,
            // As the pipe emulator's deliver(): retried as a whole until it succeeds.
            processBatch: async (batch) => {
              expect(batch.length).toBeGreaterThan(0);
              expect(batch.length).toBeLessThanOrEqual(batchSize);
              for (;;) {
                inFlight++;
                maxInFlight = Math.max(maxInFlight, inFlight);
                for (const k of new Set(batch.map((r) => r.key))) {
                  expect(inFlightKeys.get(k) ?? 0).toBe(0); // one key, one batch at a time
                  inFlightKeys.set(k, 1);
                }
                const step = plan.next().value as { turns: number; roll: number };
                await yieldTimes(step.turns);
                for (const k of new Set(batch.map((r) => r.key))) inFlightKeys.set(k, 0);
                inFlight--;
                if (step.roll < faultRate && failures < 50) {
                  failures++;
                  continue;
                }
                delivered.push(...batch);
                return;
              }
            },
          });
          expect(maxInFlight).toBeLessThanOrEqual(pf);
          if (maxInFlight > 1) sawConcurrency = true;
          expect([...delivered].sort((x, y) => x.seq - y.seq)).toEqual(records);
          for (const key of new Set(keys)) {
            const order = delivered.filter((r) => r.key === key).map((r) => r.seq);
            expect(order).toEqual([...order].sort((x, y) => x - y));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('did run batches concurrently (the property above is not vacuous)', () => {
    expect(sawConcurrency).toBe(true);
  });

  it('at PF 1 hands the page over in order, in batches of batchSize', async () => {
    const batches: number[][] = [];
    await processShardPage([1, 2, 3, 4, 5], { parallelizationFactor: 1, batchSize: 2, keyOf: String, processBatch: async (b) => { batches.push(b); } });
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('splitByKey and partitionKeyOf', () => {
  it('puts every record of one key in one lane, in order, and spreads keys over lanes', () => {
    const records = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 40}`, i }));
    const lanes = splitByKey(records, 4, (r) => r.key);
    expect(lanes).toHaveLength(4);
    expect(lanes.flat()).toHaveLength(200);
    for (const lane of lanes) expect(lane.map((r) => r.i)).toEqual([...lane.map((r) => r.i)].sort((x, y) => x - y));
    const laneOfKey = new Map<string, number>();
    lanes.forEach((lane, n) => lane.forEach((r) => {
      expect(laneOfKey.get(r.key) ?? n).toBe(n);
      laneOfKey.set(r.key, n);
    }));
    expect(lanes.filter((lane) => lane.length > 0).length).toBeGreaterThan(1);
  });

  it('keys a record by its partition key when the name is known, else by all of its Keys', () => {
    const r = (sk: string): DynamoDBRecord => ({ dynamodb: { Keys: { pk: { S: 'p1' }, sk: { N: sk } } } });
    expect(partitionKeyOf(r('1'), 'pk')).toBe(partitionKeyOf(r('2'), 'pk'));
    expect(partitionKeyOf(r('1'))).not.toBe(partitionKeyOf(r('2')));
  });

  it.each([0, 11, 1.5, Number.NaN])('refuses parallelizationFactor %p', (pf) => {
    expect(() => validateParallelizationFactor(pf)).toThrow('parallelizationFactor must be an integer from 1 to 10');
  });
});

describe('PipeEmulator at parallelizationFactor 4 with enrichment failures', () => {
  const STREAM_ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/source/stream/2026-12-01T00:00:00.000';
/** The pipe as the stack synthesizes it (local/deployed-definition.ts), without a filter. */
const PIPE: PipeSettings = { name: 'test-pipe', batchSize: 10, parallelizationFactor: 1, maximumRetryAttempts: -1, bisectOnFailure: false, messageGroupIdPath: '$.groupId', messageDeduplicationIdPath: '$.eventId' };
const TARGET = { queueUrl: 'http://q', fifo: true, maximumMessageBytes: 1_048_576 };
  const record = (pk: string, seq: number): StreamRecordSdk => ({
    eventID: `ev-${seq}`, eventName: 'MODIFY', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'ddblocal',
    dynamodb: { Keys: { pk: { S: pk }, sk: { N: String(seq % 3) } }, NewImage: { pk: { S: pk }, sk: { N: String(seq % 3) } }, SequenceNumber: String(1000 + seq), SizeBytes: 10, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  });

  it('sends every record once and each partition key in stream order, while batches of one shard overlap', async () => {
    const streams = mockClient(DynamoDBStreamsClient);
    const sqs = mockClient(SQSClient);
    const total = 80;
    const all = Array.from({ length: total }, (_, i) => record(`p${(i * 7) % 6}`, i));
    streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [{ ShardId: 's1', SequenceNumberRange: { StartingSequenceNumber: '1000' } }] } });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 's1#0' });
    streams.on(GetRecordsCommand).callsFake((input: { ShardIterator: string; Limit: number }) => {
      const from = Number(input.ShardIterator.split('#')[1]);
      const page = all.slice(from, from + input.Limit);
      return { Records: page, NextShardIterator: `s1#${from + page.length}` };
    });
    const sent: { groupId: string; seq: number }[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string; MessageBody: string; MessageGroupId: string }[] }) => {
      for (const e of input.Entries) sent.push({ groupId: e.MessageGroupId, seq: Number((JSON.parse(e.MessageBody) as ChangeEnvelopeV1).seq) });
      return { Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })), Failed: [] };
    });
    let inFlight = 0;
    let maxInFlight = 0;
    const enrich = async (records: DynamoDBRecord[]): Promise<ChangeEnvelopeV1[]> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await yieldTimes(3);
      inFlight--;
      return records.map((r) => ({
        v: 1, op: 'PUT', table: 'source', keys: r.dynamodb?.Keys as ChangeEnvelopeV1['keys'], image: r.dynamodb?.NewImage as ChangeEnvelopeV1['keys'],
        seq: r.dynamodb?.SequenceNumber ?? '', at: 0, eventId: r.eventID ?? '', groupId: (r.dynamodb?.Keys?.pk as { S: string }).S, origin: 'user',
      }));
    };
    const faults = new FaultInjector({ enrichFailure: 0.25 }, 14);
    const pipe = new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, pipe: { ...PIPE, batchSize: 5, parallelizationFactor: 4 }, target: TARGET, enrich, faults,
      partitionKeyName: 'pk', pollIntervalMs: 1,
    });
    pipe.start();
    try {
      // Event-driven wait: until everything was sent (the test's own timeout bounds it).
      while (sent.length < total) await sleep(5);
    } finally {
      await pipe.stop();
      streams.restore();
      sqs.restore();
    }
    expect(pipe.stats().enrichFailures).toBeGreaterThan(0);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(sent.map((s) => s.seq).sort((a, b) => a - b)).toEqual(all.map((r) => Number(r.dynamodb!.SequenceNumber)));
    for (const groupId of new Set(sent.map((s) => s.groupId))) {
      const seqs = sent.filter((s) => s.groupId === groupId).map((s) => s.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('refuses a parallelizationFactor outside 1..10', () => {
    expect(() => new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }),
      streamArn: STREAM_ARN, pipe: { ...PIPE, parallelizationFactor: 11 }, target: TARGET, enrich: () => Promise.resolve([]), faults: new FaultInjector({}, 1),
    })).toThrow('parallelizationFactor must be an integer from 1 to 10, got 11');
  });
});
