import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { itemSizeBytes } from '../../handlers/core/attribute-value';
import { encodeEnvelope, envelopeFromStreamRecord, type EnvelopeContext } from '../../handlers/core/envelope';
import type { KeySchema } from '../../handlers/core/key-schema';
import { mulberry32 } from '../../local/faults';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { sqsRecord } from '../../test/unit/support/sqs';

/** The bench's tables: a string partition key, no sort key. */
export const BENCH_KEY_SCHEMA: KeySchema = { partitionKey: { name: 'pk', type: 'S' } };
export const BENCH_SOURCE_TABLE = 'source';
const STREAM_ARN = `arn:aws:dynamodb:us-east-1:111111111111:table/${BENCH_SOURCE_TABLE}/stream/2026-11-27T00:00:00.000`;

/**
 * An item of about `bytes` (DynamoDB's size rules) with a realistic mix of types: strings,
 * 38-digit-capable numbers, a set, a boolean, and a list of small maps that grows to reach the
 * size — so a 100 KB item is ~1,000 nested maps (structure-heavy: the costly case for validation),
 * not one long string.
 */
export function makeItem(pk: string, bytes: number, seed: number): AttributeMapWire {
  const random = mulberry32(seed);
  const word = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
  const item: AttributeMapWire = {
    pk: { S: pk },
    name: { S: word(24) },
    count: { N: String(Math.floor(random() * 1e6)) },
    price: { N: `${Math.floor(random() * 1e5)}.${Math.floor(random() * 1e4)}` },
    active: { BOOL: random() < 0.5 },
    tags: { SS: [word(6), word(7), word(8)] },
    updatedAt: { S: new Date(1_790_000_000_000 + Math.floor(random() * 1e9)).toISOString() },
    lines: { L: [] },
  };
  const lines = (item.lines as { L: AttributeMapWire[string][] }).L;
  // Sizes add up (each list element costs its own size + 1), so grow without re-measuring the whole item.
  let size = itemSizeBytes(item);
  while (size < bytes) {
    const line: AttributeMapWire[string] = { M: { sku: { S: word(12) }, qty: { N: String(Math.floor(random() * 100)) }, note: { S: word(48) } } };
    lines.push(line);
    size += itemSizeBytes({ x: line }) - 1 + 1;
  }
  return item;
}

/** A DynamoDB stream record as Pipes hands it to the enrichment (JSON form, NEW_AND_OLD_IMAGES). */
export function streamRecord(item: AttributeMapWire, seq: number, oldImage?: AttributeMapWire): DynamoDBRecord {
  return {
    eventID: `bench-${seq.toString(16).padStart(12, '0')}`,
    eventName: oldImage === undefined ? 'INSERT' : 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_790_000_000 + seq / 1000,
      Keys: { pk: item.pk },
      NewImage: item,
      ...(oldImage === undefined ? {} : { OldImage: oldImage }),
      SequenceNumber: String(1e20 + seq),
      SizeBytes: itemSizeBytes(item),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: STREAM_ARN,
  };
}

export const ENVELOPE_CONTEXT: EnvelopeContext = { keySchema: BENCH_KEY_SCHEMA, resyncThresholdBytes: 200_000, sourceTableName: BENCH_SOURCE_TABLE };

/** SQS FIFO record carrying the real enrichment's envelope for `record` (MessageGroupId = its groupId). */
export function sqsRecordFor(record: DynamoDBRecord): SQSRecord {
  const envelope = envelopeFromStreamRecord(record, ENVELOPE_CONTEXT);
  return sqsRecord(record.eventID!, encodeEnvelope(envelope), envelope.groupId);
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `worker` over `tasks` with `concurrency` loops pulling the next task (like concurrent Lambda invocations). */
export async function runLoops<T>(tasks: readonly T[], concurrency: number, worker: (task: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks.length) await worker(tasks[next++]);
  }));
}
