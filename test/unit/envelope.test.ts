import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { decodeEnvelope, encodeEnvelope, KNOWN_ENVELOPE_VERSIONS, sqsSafeJson } from '../../handlers/core/envelope';
import { InvalidEnvelopeError, UnknownEnvelopeVersionError } from '../../handlers/core/errors';
import { generateJsonSchemas, JSON_SCHEMA_DIR } from '../../schemas/generate-json-schema';
import { envelope } from './support/arbitraries';
import { ENVELOPE_FIXTURES_DIR, envelopeVersionDirs, fixtureTexts } from './support/fixtures';
import { validateJsonSchema } from './support/json-schema';

describe('encodeEnvelope / decodeEnvelope', () => {
  it('is the identity on valid envelopes (property)', () => {
    fc.assert(fc.property(envelope, (env) => {
      expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
    }), { numRuns: 300 });
  });

  it.each([
    ['not JSON', '{"v":1,', InvalidEnvelopeError, 'message body is not JSON'],
    ['an array', '[1]', InvalidEnvelopeError, 'message body is not a JSON object'],
    ['a string v', '{"v":"1"}', UnknownEnvelopeVersionError, 'unknown envelope version a string; this consumer knows v1'],
  ])('rejects %s', (_what, body, errorClass, message) => {
    expect(() => decodeEnvelope(body)).toThrow(errorClass);
    expect(() => decodeEnvelope(body)).toThrow(message);
  });

  it('never echoes the body in its errors', () => {
    const secret = 'card-4111111111111111';
    for (const body of [`{"v":1,"x":"${secret}"`, `{"v":1,"op":"PUT","keys":{"pk":{"N":"${secret}"}}}`, `{"v":"${secret}"}`]) {
      expect(() => decodeEnvelope(body)).toThrow(InvalidEnvelopeError);
      try {
        decodeEnvelope(body);
      } catch (error) {
        expect((error as Error).message).not.toContain(secret);
      }
    }
  });

  it('never prints a key inside a map value (it can be customer data), only its position', () => {
    const secret = 'alice@example.com';
    const body = JSON.stringify({
      v: 1, op: 'PUT', table: 'orders', keys: { pk: { S: 'a' } }, image: { pk: { S: 'a' }, contacts: { M: { [secret]: { N: 'not a number' } } } },
      seq: '1', at: 0, eventId: 'e1', groupId: 'g1', origin: 'user',
    });
    expect(() => decodeEnvelope(body)).toThrow('image.contacts.M.<map key>');
    expect(() => decodeEnvelope(body)).not.toThrow(secret);
  });

  it('keeps an attribute named "__proto__" through encode and decode (fast path and schema path)', () => {
    const [, text] = fixtureTexts(join(ENVELOPE_FIXTURES_DIR, 'v1')).find(([f]) => f === 'put-unicode-key.json') as [string, string];
    const body = text.replace('"név"', '"__proto__"');
    const decoded = decodeEnvelope(body);
    expect(Object.keys(decoded.image ?? {})).toContain('__proto__');
    expect(Object.getPrototypeOf(decoded.image)).toBe(Object.prototype);
    expect(JSON.parse(encodeEnvelope(decoded))).toEqual(JSON.parse(body));
    expect(encodeEnvelope(decoded)).toContain('"__proto__":{"S":"érték"}');
    // Schema path: an extra top-level field the fast path refuses, still reported by name.
    const withExtra = body.replace('{', '{"extra":1,');
    expect(() => decodeEnvelope(withExtra)).toThrow(/extra/);
  });
});

describe('fixture compatibility', () => {
  it('has fixtures for every known version', () => {
    expect(envelopeVersionDirs()).toEqual(KNOWN_ENVELOPE_VERSIONS.map((v) => `v${v}`));
  });

  const valid = envelopeVersionDirs().flatMap((dir) => fixtureTexts(join(ENVELOPE_FIXTURES_DIR, dir)).map(([f, text]) => [`${dir}/${f}`, text] as const));

  it.each(valid)('decodes %s, and re-encodes it byte for byte', (_name, text) => {
    const decoded = decodeEnvelope(text);
    // Byte for byte, with characters outside the BMP as \u escapes (the same JSON value; fauxqs needs it).
    expect(encodeEnvelope(decoded)).toBe(sqsSafeJson(JSON.parse(text)));
    expect(JSON.parse(encodeEnvelope(decoded))).toEqual(JSON.parse(text));
    if (decoded.image !== undefined) expect(toWireAttributeMap(toSdkAttributeMap(decoded.image))).toEqual(decoded.image);
  });

  it('covers PUT, DELETE, RESYNC, TTL deletes and every AttributeValue type', () => {
    const envelopes = valid.map(([, text]) => decodeEnvelope(text));
    expect(new Set(envelopes.map((e) => e.op))).toEqual(new Set(['PUT', 'DELETE', 'RESYNC']));
    expect(envelopes.some((e) => e.op === 'DELETE' && e.origin === 'ttl')).toBe(true);
    const types = new Set<string>();
    const depth = (value: unknown): number => {
      if (typeof value !== 'object' || value === null) return 0;
      const [type, inner] = Object.entries(value)[0] as [string, unknown];
      types.add(type);
      if (type === 'M') return 1 + Math.max(0, ...Object.values(inner as object).map(depth));
      if (type === 'L') return 1 + Math.max(0, ...(inner as unknown[]).map(depth));
      return 0;
    };
    const maxDepth = Math.max(...envelopes.flatMap((e) => Object.values(e.image ?? {}).map(depth)));
    expect([...types].sort()).toEqual(['B', 'BOOL', 'BS', 'L', 'M', 'N', 'NS', 'NULL', 'S', 'SS']);
    expect(maxDepth).toBeGreaterThanOrEqual(32);
    const all = valid.map(([, text]) => text).join('');
    expect(all).toContain('"N": "12345678901234567890123456789012345678"');
    expect(all).toContain('"N": "1E+125"');
    expect(all).toContain('"S": ""');
    expect(all).toContain('"B": ""');
    expect(envelopes.some((e) => Buffer.byteLength((e.keys.pk as { S?: string }).S ?? '', 'utf8') === 2048)).toBe(true);
  });

  const invalid: Record<string, [typeof InvalidEnvelopeError, string]> = {
    'bad-group-id.json': [InvalidEnvelopeError, 'invalid v1 envelope: groupId: Invalid string: must match pattern'],
    'bad-number.json': [InvalidEnvelopeError, 'invalid v1 envelope: keys.sk.N: not a DynamoDB number'],
    'delete-with-image.json': [InvalidEnvelopeError, 'invalid v1 envelope: image: a DELETE carries keys only, no image'],
    'extra-field.json': [InvalidEnvelopeError, 'invalid v1 envelope: (root): Unrecognized key: "secret"'],
    'missing-version.json': [InvalidEnvelopeError, 'message body has no envelope version "v"'],
    'non-key-type-in-keys.json': [InvalidEnvelopeError, 'invalid v1 envelope: keys.pk: key attributes are S, N or B'],
    'put-missing-image.json': [InvalidEnvelopeError, 'invalid v1 envelope: image: a PUT carries the full new image'],
    'unknown-attribute-type.json': [InvalidEnvelopeError, 'invalid v1 envelope: keys.pk: not an AttributeValue (exactly one of S, N, B, SS, NS, BS, M, L, NULL, BOOL)'],
    'unknown-op.json': [InvalidEnvelopeError, 'invalid v1 envelope: op: Invalid option: expected one of "PUT"|"DELETE"|"RESYNC"'],
    'unknown-version.json': [UnknownEnvelopeVersionError, 'unknown envelope version 99; this consumer knows v1'],
  };
  const invalidFixtures = fixtureTexts(join(ENVELOPE_FIXTURES_DIR, 'invalid'));

  it('has an expectation for every invalid fixture', () => {
    expect(invalidFixtures.map(([f]) => f)).toEqual(Object.keys(invalid).sort());
  });

  it.each(invalidFixtures)('rejects invalid/%s with a clear message', (name, text) => {
    const [errorClass, message] = invalid[name];
    expect(() => decodeEnvelope(text)).toThrow(errorClass);
    expect(() => decodeEnvelope(text)).toThrow(message);
  });
});

describe('JSON Schemas', () => {
  const committed = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(JSON_SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;

  it('are up to date with the zod schemas', () => {
    for (const [file, text] of Object.entries(generateJsonSchemas())) {
      expect(readFileSync(join(JSON_SCHEMA_DIR, file), 'utf8')).toBe(text);
    }
  });

  it('accept every v1 fixture', () => {
    const schema = committed('change-envelope.v1.schema.json');
    for (const [name, text] of fixtureTexts(join(ENVELOPE_FIXTURES_DIR, 'v1'))) {
      expect([name, validateJsonSchema(schema, JSON.parse(text))]).toEqual([name, []]);
    }
  });

  // Cross-field rules (image iff PUT, key types) are zod refinements that JSON Schema does not carry.
  it.each(['bad-group-id.json', 'bad-number.json', 'extra-field.json', 'missing-version.json', 'unknown-attribute-type.json', 'unknown-op.json', 'unknown-version.json'])(
    'rejects invalid/%s',
    (name) => {
      const text = readFileSync(join(ENVELOPE_FIXTURES_DIR, 'invalid', name), 'utf8');
      expect(validateJsonSchema(committed('change-envelope.v1.schema.json'), JSON.parse(text))).not.toEqual([]);
    },
  );

  it('describe the example replication config', () => {
    const example = JSON.parse(readFileSync(join(__dirname, '..', '..', 'replication.config.example.json'), 'utf8')) as unknown;
    expect(validateJsonSchema(committed('replication-config.schema.json'), example)).toEqual([]);
    // The `replications: [ … ]` shape too (issue 17), and a list holding a bad replication is refused.
    expect(validateJsonSchema(committed('replication-config.schema.json'), { replications: [example, example] })).toEqual([]);
    expect(validateJsonSchema(committed('replication-config.schema.json'), { replications: [{ replicationName: 'x' }] })).not.toEqual([]);
  });
});
