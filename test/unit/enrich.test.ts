import type { DynamoDBRecord } from 'aws-lambda';
import { decodeEnvelope, encodeEnvelope, envelopeFromStreamRecord, type EnvelopeContext } from '../../handlers/core/envelope';
import { enrichConfigFromEnv, enrichRecords } from '../../handlers/core/enrich-records';
import { ConfigurationError, UnencodableRecordError } from '../../handlers/core/errors';
import { groupIdFor } from '../../handlers/core/group-id';
import { keySchema } from './support/sqs';
import { allStreamRecords, streamRecord } from './support/fixtures';

const ctx: EnvelopeContext = { keySchema, resyncThresholdBytes: 200_000, sourceTableName: 'fallback-table' };

describe('envelopeFromStreamRecord', () => {
  it('turns an INSERT into a PUT of the new image', () => {
    const record = streamRecord('insert');
    expect(envelopeFromStreamRecord(record, ctx)).toEqual({
      v: 1,
      op: 'PUT',
      table: 'orders',
      keys: record.dynamodb?.Keys,
      image: record.dynamodb?.NewImage,
      seq: '100000000000000000001',
      at: 1_732_700_000_000,
      eventId: '1e0c6b3f2a7d4e5f8a9b0c1d2e3f4a5b',
      groupId: groupIdFor({ pk: { S: 'user#0001' } }, keySchema),
      origin: 'user',
    });
  });

  it('carries attributes named "__proto__", "constructor" and "toString" (top level and nested) exactly', () => {
    const record = streamRecord('insert');
    const image = '"__proto__":{"M":{"__proto__":{"N":"1"},"constructor":{"S":"c"}}},"toString":{"L":[{"M":{"__proto__":{"BOOL":true}}}]},';
    record.dynamodb = JSON.parse(JSON.stringify(record.dynamodb).replace('"NewImage":{', `"NewImage":{${image}`)) as DynamoDBRecord['dynamodb'];
    const envelope = envelopeFromStreamRecord(record, ctx);
    const body = encodeEnvelope(envelope);
    expect((JSON.parse(body) as { image: unknown }).image).toEqual(JSON.parse(JSON.stringify(record.dynamodb?.NewImage)));
    expect(body).toContain(`{${image}`);
    expect(JSON.stringify(decodeEnvelope(body))).toBe(body);
  });

  it('turns a MODIFY into a PUT of the new image, not the old one', () => {
    const record = streamRecord('modify');
    const envelope = envelopeFromStreamRecord(record, ctx);
    expect(envelope).toMatchObject({ op: 'PUT', image: record.dynamodb?.NewImage, origin: 'user' });
    expect(envelope.image?.balance).toEqual({ N: '-1.5E-130' });
  });

  it('turns a REMOVE into a DELETE with keys only', () => {
    const envelope = envelopeFromStreamRecord(streamRecord('remove'), ctx);
    expect(envelope).toMatchObject({ op: 'DELETE', keys: { pk: { S: 'order#0007' }, sk: { N: '3' } }, origin: 'user' });
    expect(envelope).not.toHaveProperty('image');
  });

  it('marks a TTL delete (userIdentity dynamodb.amazonaws.com) as origin ttl', () => {
    expect(envelopeFromStreamRecord(streamRecord('ttl-remove'), ctx)).toMatchObject({ op: 'DELETE', origin: 'ttl' });
  });

  it('sends an envelope over the threshold as RESYNC with keys only', () => {
    const record = streamRecord('insert-large-item');
    const envelope = envelopeFromStreamRecord(record, ctx);
    expect(envelope).toEqual(expect.objectContaining({ op: 'RESYNC', keys: record.dynamodb?.Keys, origin: 'user' }));
    expect(envelope).not.toHaveProperty('image');
    expect(envelopeFromStreamRecord(record, { ...ctx, resyncThresholdBytes: 240_000 })).toMatchObject({ op: 'PUT' });
  });

  it('throws, naming the eventID and the view type but no values, when NewImage is missing', () => {
    const record = streamRecord('modify-keys-only');
    expect(() => envelopeFromStreamRecord(record, ctx)).toThrow(UnencodableRecordError);
    expect(() => envelopeFromStreamRecord(record, ctx)).toThrow(
      'stream record 6e0c6b3f2a7d4e5f8a9b0c1d2e3f4a5b cannot be encoded: it has no NewImage (stream view type KEYS_ONLY; replication needs NEW_IMAGE or NEW_AND_OLD_IMAGES)',
    );
  });

  it.each([
    ['keys that do not match KEY_SCHEMA', (r: DynamoDBRecord) => { (r.dynamodb as { Keys: unknown }).Keys = { pk: { N: '1' }, sk: { N: '1' } }; }, 'key attribute "pk" is not of type S as KEY_SCHEMA says'],
    ['no sort key', (r: DynamoDBRecord) => { (r.dynamodb as { Keys: unknown }).Keys = { pk: { S: 'x' } }; }, 'Keys lack key attribute "sk"'],
    ['an invalid number', (r: DynamoDBRecord) => { (r.dynamodb?.NewImage as Record<string, unknown>).balance = { N: 'secret-12x' }; }, 'it does not make a valid envelope: image.balance.N: not a DynamoDB number'],
    ['an unknown eventName', (r: DynamoDBRecord) => { (r as { eventName: string }).eventName = 'UPSERT'; }, 'unknown eventName "UPSERT"'],
    ['an attribute named __proto__ holding no AttributeValue', (r: DynamoDBRecord) => { r.dynamodb = JSON.parse(JSON.stringify(r.dynamodb).replace('"name":{"S":"Ada"}', '"__proto__":{"S":"secret","N":"1"}')) as DynamoDBRecord['dynamodb']; }, 'image.__proto__: not an AttributeValue'],
  ])('throws on %s', (_what, mutate, message) => {
    const record = streamRecord('insert');
    mutate(record);
    expect(() => envelopeFromStreamRecord(record, ctx)).toThrow(UnencodableRecordError);
    expect(() => envelopeFromStreamRecord(record, ctx)).toThrow(message);
    try {
      envelopeFromStreamRecord(record, ctx);
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).message).not.toContain('Ada');
    }
  });

  it('takes the table name from ctx when the record has no eventSourceARN', () => {
    const { eventSourceARN: _arn, ...record } = streamRecord('remove');
    expect(envelopeFromStreamRecord(record, ctx).table).toBe('fallback-table');
  });

  it.each(allStreamRecords().filter(([name]) => name !== 'modify-keys-only.json'))('emits an envelope that apply decodes identically (%s)', (_name, record) => {
    const envelope = envelopeFromStreamRecord(record, ctx);
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });
});

describe('enrichRecords and its config', () => {
  const env = { SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema) };

  it('keeps order and applies TARGET_FILTER when set', () => {
    const records = ['insert', 'modify', 'remove', 'ttl-remove'].map(streamRecord);
    // insert and modify are changes of one item: only the last is kept (test/unit/enrich-batch.test.ts).
    expect(enrichRecords(records, enrichConfigFromEnv(env)).map((e) => e.eventId)).toEqual(records.slice(1).map((r) => r.eventID));
    const filtered = enrichConfigFromEnv({ ...env, TARGET_FILTER: JSON.stringify({ replicateTtlDeletes: false, partitionKeyPrefixes: ['user#', 'session#'] }) });
    expect(enrichRecords(records, filtered).map((e) => e.eventId)).toEqual([records[1]?.eventID]);
    expect(enrichRecords([records[0], records[2]], filtered).map((e) => e.eventId)).toEqual([records[0]?.eventID]);
  });

  it('reads the default threshold from the config schema', () => {
    expect(enrichConfigFromEnv(env).resyncThresholdBytes).toBe(100_000);
    expect(enrichConfigFromEnv({ ...env, RESYNC_THRESHOLD_BYTES: '4096' }).resyncThresholdBytes).toBe(4096);
  });

  it.each([
    [{ SOURCE_TABLE_NAME: 'orders' }, 'environment variable KEY_SCHEMA is not set'],
    [{ ...env, TARGET_FILTER: '{' }, 'TARGET_FILTER is not JSON'],
    [{ ...env, TARGET_FILTER: '{"eventNames":[]}' }, 'TARGET_FILTER is invalid: eventNames: at least one event name'],
  ])('fails fast on bad config %#', (badEnv, message) => {
    expect(() => enrichConfigFromEnv(badEnv)).toThrow(ConfigurationError);
    expect(() => enrichConfigFromEnv(badEnv)).toThrow(message);
  });
});

describe('enrich handler (module-scope config from env)', () => {
  type EnrichModule = typeof import('../../handlers/enrich');
  let handler: EnrichModule['handler'];

  beforeAll(() => {
    const saved = { ...process.env };
    Object.assign(process.env, { SOURCE_TABLE_NAME: 'orders', KEY_SCHEMA: JSON.stringify(keySchema), LOG_LEVEL: 'SILENT' });
    // Required (not imported) so that it loads after the environment is set, as in Lambda.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the environment above is set
    ({ handler } = require('../../handlers/enrich') as EnrichModule);
    process.env = saved;
  });

  it('accepts the plain array Pipes sends and the { Records } shape', async () => {
    const records = [streamRecord('insert'), streamRecord('remove')];
    const fromArray = await handler(records);
    expect(fromArray.map((e) => e.op)).toEqual(['PUT', 'DELETE']);
    expect(await handler({ Records: records })).toEqual(fromArray);
  });

  it('returns objects the pipe target can read $.groupId and $.eventId from', async () => {
    const [envelope] = await handler([streamRecord('insert')]);
    expect(envelope?.groupId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(envelope?.eventId).toBe('1e0c6b3f2a7d4e5f8a9b0c1d2e3f4a5b');
  });

  it('rejects the whole batch on an unencodable record rather than dropping it', async () => {
    await expect(handler([streamRecord('insert'), streamRecord('modify-keys-only')])).rejects.toThrow(UnencodableRecordError);
  });
});
