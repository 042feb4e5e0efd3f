import { SendMessageBatchCommand, SQSClient, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import {
  envelopeFitProblem, LAMBDA_MAX_SYNC_RESPONSE_BYTES, MAX_RESYNC_ENVELOPE_BYTES, PIPES_SQS_TARGET_MAX_BATCH_SIZE, SQS_LIMITS,
} from '../../handlers/core/aws-limits';
import { envelopesForTarget, planBatches, sendToQueue } from '../../handlers/core/attached-delivery';
import { canonicalKey } from '../../handlers/core/attribute-value';
import { decodeEnvelope, encodeEnvelope, type EnvelopeContext } from '../../handlers/core/envelope';
import { enrichConfigFromEnv, enrichRecords } from '../../handlers/core/enrich-records';
import { AttachedDeliveryError, ConfigurationError } from '../../handlers/core/errors';
import { compileTargetPolicy } from '../../handlers/core/target-policy';
import { targetFilterSchema, targetOptionsSchema } from '../../schemas/replication-config';
import { change, keySchema } from './support/sqs';
import { streamRecord } from './support/fixtures';

/**
 * Issue 12 §1 c, d, e and §5 on the enrichment side: SendMessageBatch byte cap, last change per item
 * in a batch, the owner's full filter in enrichment, and DELIVERY=enrichment-send.
 */
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'eu-west-1' });
const ctx: EnvelopeContext = { keySchema, resyncThresholdBytes: 240_000, sourceTableName: 'orders' };
beforeEach(() => sqsMock.reset());
const sent = (): SendMessageBatchCommandInput[] => sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
const noWait = { maxAttempts: 2, sleep: async () => undefined, random: () => 0 };
const bytesOf = (input: SendMessageBatchCommandInput): number => (input.Entries ?? []).reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? '', 'utf8'), 0);

/** A PUT envelope of about `size` bytes for item `pk`. */
function bigChange(pk: string, size: number) {
  return change('PUT', pk, '1', { blob: 'x'.repeat(size) });
}

describe('SendMessageBatch byte cap (§1d)', () => {
  it('splits six 200 KB envelopes into requests of at most 1 MiB (one request would be refused as BatchRequestTooLong)', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const envelopes = Array.from({ length: 6 }, (_, i) => bigChange(`k${i}`, 200_000));
    expect(envelopes.reduce((sum, e) => sum + encodeEnvelope(e).length, 0)).toBeGreaterThan(SQS_LIMITS.maxBatchPayloadBytes);
    await sendToQueue(sqs, 'q', 'q', envelopes, noWait);
    expect(sent().map((i) => i.Entries?.length)).toEqual([5, 1]);
    for (const input of sent()) expect(bytesOf(input)).toBeLessThanOrEqual(SQS_LIMITS.maxBatchPayloadBytes);
    expect(sent().flatMap((i) => i.Entries ?? []).map((e) => e.MessageDeduplicationId)).toEqual(envelopes.map((e) => e.eventId));
  });

  it('counts UTF-8 bytes of the body as sent (escaped characters included), not string length', () => {
    // 3-byte characters: 120,000 of them are 360 KB in UTF-8 — three fit in 1 MiB, not eight.
    const envelopes = Array.from({ length: 4 }, (_, i) => change('PUT', `k${i}`, '1', { text: '€'.repeat(120_000) }));
    expect(planBatches(envelopes).map((b) => b.length)).toEqual([2, 2]);
  });

  it('keeps the 10-entry and one-group-per-request rules with the byte cap', () => {
    const small = Array.from({ length: 25 }, (_, i) => change('PUT', `k${i}`, '1'));
    expect(planBatches(small).map((b) => b.length)).toEqual([10, 10, 5]);
    const a1 = bigChange('a', 100);
    const a2 = bigChange('a', 100);
    expect(planBatches([a1, a2]).map((b) => b.map((e) => e.eventId))).toEqual([[a1.eventId], [a2.eventId]]);
  });

  it('property: every planned request has ≤ 10 entries, ≤ 1 MiB of bodies, distinct groups, and the order is kept', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ pk: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'), size: fc.integer({ min: 0, max: 240_000 }) }), { maxLength: 40 }),
      (specs) => {
        const envelopes = specs.map((s) => bigChange(s.pk, s.size));
        const batches = planBatches(envelopes);
        expect(batches.flat().map((e) => e.eventId)).toEqual(envelopes.map((e) => e.eventId));
        for (const batch of batches) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(SQS_LIMITS.maxEntriesPerBatch);
          expect(batch.reduce((sum, e) => sum + Buffer.byteLength(encodeEnvelope(e), 'utf8'), 0)).toBeLessThanOrEqual(SQS_LIMITS.maxBatchPayloadBytes);
          expect(new Set(batch.map((e) => e.groupId)).size).toBe(batch.length);
        }
      },
    ), { numRuns: 60 });
  });

  it('refuses, before sending anything, an envelope too large for one SQS message', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const huge = bigChange('h', SQS_LIMITS.maxMessageBytes);
    await expect(sendToQueue(sqs, 'q', 'q', [change('PUT', 'ok', '1'), huge], noWait)).rejects.toThrow(AttachedDeliveryError);
    await expect(sendToQueue(sqs, 'q', 'q', [huge], noWait)).rejects.toThrow(`over the ${SQS_LIMITS.maxMessageBytes}-byte limit; lower resyncThresholdBytes`);
    expect(sent()).toHaveLength(0);
  });

  it('any envelope the enrichment makes at the largest allowed threshold fits one request on its own', () => {
    const largest = targetOptionsSchema.shape.resyncThresholdBytes.unwrap().maxValue as number;
    const record = streamRecord('insert');
    const image = { ...record.dynamodb?.NewImage, blob: { S: '\u{1F642}'.repeat(largest / 4) } };
    const big = { ...record, dynamodb: { ...record.dynamodb, NewImage: image } } as DynamoDBRecord;
    const [envelope] = envelopesForTarget([big], compileTargetPolicy({ filter: targetFilterSchema.parse({}) }, keySchema), { ...ctx, resyncThresholdBytes: largest });
    expect(envelope?.op).toBe('RESYNC');
    const justUnder = { ...record, dynamodb: { ...record.dynamodb, NewImage: { ...record.dynamodb?.NewImage, blob: { S: '\u{1F642}'.repeat(Math.floor(largest / 4) - 200) } } } } as DynamoDBRecord;
    const [put] = envelopesForTarget([justUnder], compileTargetPolicy({ filter: targetFilterSchema.parse({}) }, keySchema), { ...ctx, resyncThresholdBytes: largest });
    expect(put?.op).toBe('PUT');
    // Non-BMP characters are written as escapes in the body: about 3 × the JSON size, still one message.
    expect(Buffer.byteLength(encodeEnvelope(put), 'utf8')).toBeGreaterThan(2 * largest);
    expect(planBatches([put, put, put].map((e, i) => ({ ...e, eventId: `e${i}`, groupId: `g${i}` }))).map((b) => b.length)).toEqual([1, 1, 1]);
  });
});

describe('RESYNC threshold vs. the limits (validated with the config)', () => {
  it('the schema\'s largest threshold fits one SQS message and a full SQS-target batch fits one enrichment response', () => {
    const largest = targetOptionsSchema.shape.resyncThresholdBytes.unwrap().maxValue as number;
    expect(envelopeFitProblem({ resyncThresholdBytes: largest, pipeBatchSize: PIPES_SQS_TARGET_MAX_BATCH_SIZE })).toBeUndefined();
  });

  it('names the limit a threshold breaks, and what to do', () => {
    expect(envelopeFitProblem({ resyncThresholdBytes: 400_000, pipeBatchSize: 1 })).toBe(
      'an envelope of up to 1200000 bytes (3 × 400000, escaped characters included) would not fit in one SQS message of 1048576 bytes; lower resyncThresholdBytes to at most 349525',
    );
    expect(envelopeFitProblem({ resyncThresholdBytes: 300_000, pipeBatchSize: 25 })).toBe(
      `25 envelopes of up to 300000 bytes would exceed the enrichment's ${LAMBDA_MAX_SYNC_RESPONSE_BYTES}-byte response limit; lower resyncThresholdBytes or pipeBatchSize`,
    );
    // A queue with a smaller MaximumMessageSize lowers what fits; a small threshold is bounded by the largest RESYNC.
    expect(envelopeFitProblem({ resyncThresholdBytes: 100_000, pipeBatchSize: 10, maxMessageBytes: 262_144 })).toMatch(/not fit in one SQS message of 262144 bytes/);
    expect(envelopeFitProblem({ resyncThresholdBytes: 1024, pipeBatchSize: 10, maxMessageBytes: 3 * MAX_RESYNC_ENVELOPE_BYTES - 1 })).toMatch(/would not fit/);
  });

  it('the options schema accepts the largest batch with the default threshold', () => {
    expect(targetOptionsSchema.safeParse({ pipeBatchSize: PIPES_SQS_TARGET_MAX_BATCH_SIZE }).success).toBe(true);
  });
});

/** Records of a few items (pk × sk), each change with its own eventID and sequence number. */
const itemChange = fc.record({
  pk: fc.constantFrom('a', 'b', 'c'),
  sk: fc.constantFrom('1', '2'),
  kind: fc.constantFrom('INSERT', 'MODIFY', 'REMOVE' as const),
  v: fc.nat({ max: 99 }),
});
function toRecords(changes: { pk: string; sk: string; kind: 'INSERT' | 'MODIFY' | 'REMOVE'; v: number }[]): DynamoDBRecord[] {
  const base = streamRecord('insert');
  return changes.map((c, i) => {
    const Keys = { pk: { S: c.pk }, sk: { N: c.sk } };
    const image = { ...Keys, v: { N: String(c.v) } };
    return {
      ...base,
      eventID: `ev-${i}`,
      eventName: c.kind,
      dynamodb: { ...base.dynamodb, Keys, SequenceNumber: String(1000 + i), ...(c.kind === 'REMOVE' ? { OldImage: image, NewImage: undefined } : { NewImage: image }) },
    };
  });
}

describe('last change per item in a batch (§1e)', () => {
  const policy = compileTargetPolicy({ filter: targetFilterSchema.parse({}) }, keySchema);

  it('property: a batch never carries two changes of one item, and each item\'s change is its last one', () => {
    fc.assert(fc.property(fc.array(itemChange, { maxLength: 30 }), (changes) => {
      const records = toRecords(changes);
      const envelopes = envelopesForTarget(records, policy, ctx);
      const keys = envelopes.map((e) => canonicalKey(e.keys));
      expect(new Set(keys).size).toBe(keys.length);
      // Expected: the last record of every item (full key pk + sk), in the order of those last records.
      const lastByKey = new Map<string, DynamoDBRecord>();
      for (const r of records) {
        const key = canonicalKey(r.dynamodb?.Keys as never);
        lastByKey.delete(key);
        lastByKey.set(key, r);
      }
      expect(envelopes.map((e) => e.eventId)).toEqual([...lastByKey.values()].map((r) => r.eventID));
      // Two items of one partition (same groupId, different sk) are both kept.
      for (const e of envelopes) expect(e.op).toBe(lastByKey.get(canonicalKey(e.keys))?.eventName === 'REMOVE' ? 'DELETE' : 'PUT');
    }), { numRuns: 200 });
  });

  it('applies to the owner and to each attached queue alike (both go through envelopesForTarget)', () => {
    const records = toRecords([
      { pk: 'a', sk: '1', kind: 'INSERT', v: 1 }, { pk: 'a', sk: '2', kind: 'INSERT', v: 1 }, { pk: 'a', sk: '1', kind: 'REMOVE', v: 1 },
    ]);
    const config = enrichConfigFromEnv({ SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema) });
    expect(enrichRecords(records, config).map((e) => [e.eventId, e.op])).toEqual([['ev-1', 'PUT'], ['ev-2', 'DELETE']]);
  });
});

describe('the owner\'s full filter in enrichment (§1c: the pipe filters on dynamodb.* only)', () => {
  const env = { SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema) };
  const ttl = streamRecord('ttl-remove');
  const insert = streamRecord('insert');
  const modify = streamRecord('modify');
  const remove = streamRecord('remove');
  const ids = (filter: object, records: DynamoDBRecord[]): (string | undefined)[] =>
    enrichRecords(records, enrichConfigFromEnv({ ...env, TARGET_FILTER: JSON.stringify(filter) })).map((e) => e.eventId);

  it('drops event names the owner does not keep', () => {
    expect(ids({ eventNames: ['INSERT'] }, [insert, modify, remove])).toEqual([insert.eventID]);
    expect(ids({ eventNames: ['MODIFY', 'REMOVE'] }, [insert, modify, remove])).toEqual([modify.eventID, remove.eventID]);
  });

  it('drops TTL deletes unless replicateTtlDeletes, keeps user deletes', () => {
    expect(ids({ replicateTtlDeletes: false }, [remove, ttl])).toEqual([remove.eventID]);
    expect(ids({ replicateTtlDeletes: true }, [remove, ttl])).toEqual([remove.eventID, ttl.eventID]);
  });

  it('drops keys outside the prefixes and items failing the attribute conditions', () => {
    const pkOf = (r: DynamoDBRecord) => r.dynamodb?.Keys?.pk?.S;
    expect(ids({ partitionKeyPrefixes: [String(pkOf(insert)).slice(0, 3)] }, [insert, remove])).toEqual([insert.eventID]);
    expect(ids({ attributeEquals: [{ attribute: 'name', anyOf: [{ S: 'Ada' }] }] }, [insert])).toEqual([insert.eventID]);
    expect(ids({ attributeEquals: [{ attribute: 'name', anyOf: [{ S: 'Bob' }] }] }, [insert])).toEqual([]);
  });
});

describe('DELIVERY=enrichment-send (§5)', () => {
  type EnrichModule = typeof import('../../handlers/enrich');
  const env = {
    AWS_REGION: 'eu-west-1', SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema), LOG_LEVEL: 'SILENT', TARGET_NAME: 'dr',
    TARGET_FILTER: JSON.stringify({ replicateTtlDeletes: false }), DELIVERY: 'enrichment-send', OWNER_QUEUE_URL: 'https://sqs/dr.fifo',
  };
  let handler: EnrichModule['handler'];

  beforeAll(() => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    // Required (not imported) so that it loads after the environment is set, as in Lambda.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the environment above is set
    ({ handler } = require('../../handlers/enrich') as EnrichModule);
    process.env = saved;
  });

  it('sends the owner\'s envelopes to its queue (group = groupId, dedup = eventId, filter applied) and returns []', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const records = [streamRecord('insert'), streamRecord('ttl-remove'), streamRecord('remove')];
    await expect(handler(records)).resolves.toEqual([]);
    expect(sent().map((i) => i.QueueUrl)).toEqual(['https://sqs/dr.fifo']);
    const entries = sent()[0]?.Entries ?? [];
    const bodies = entries.map((e) => decodeEnvelope(e.MessageBody as string));
    expect(bodies.map((b) => b.eventId)).toEqual([records[0]?.eventID, records[2]?.eventID]);
    expect(entries.map((e) => [e.MessageGroupId, e.MessageDeduplicationId])).toEqual(bodies.map((b) => [b.groupId, b.eventId]));
  });

  it('throws when the owner\'s queue refuses, so the pipe retries the batch', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', Code: 'InvalidParameterValue', SenderFault: true }] });
    await expect(handler([streamRecord('insert')])).rejects.toThrow(AttachedDeliveryError);
  });

  it('needs OWNER_QUEUE_URL and a known mode', () => {
    expect(() => enrichConfigFromEnv({ ...env, OWNER_QUEUE_URL: undefined })).toThrow('environment variable OWNER_QUEUE_URL is not set');
    expect(() => enrichConfigFromEnv({ ...env, DELIVERY: 'both' })).toThrow(ConfigurationError);
    expect(enrichConfigFromEnv({ ...env, DELIVERY: undefined }).ownerQueue).toBeUndefined();
  });
});
