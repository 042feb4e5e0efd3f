import { createHash } from 'node:crypto';
import { compileRedaction, redactRecord, redactedValue } from '../../handlers/core/redaction';
import { ConfigurationError } from '../../handlers/core/errors';
import { targetRedactionSchema } from '../../schemas/replication-config';
import { keySchema } from './support/sqs';
import { streamRecord } from './support/fixtures';

const redaction = (raw: object) => targetRedactionSchema.parse(raw);

describe('redaction', () => {
  it('removes excluded attributes and replaces redacted ones with the token; keys and the rest pass through raw', () => {
    const redact = compileRedaction(redaction({ exclude: ['avatar'], redact: ['name', 'balance'] }), keySchema);
    const image = streamRecord('insert').dynamodb?.NewImage as Record<string, never>;
    const out = redact?.(image) ?? {};
    expect(out).not.toHaveProperty('avatar');
    expect(out.name).toEqual({ S: 'REDACTED' });
    expect(out.balance).toEqual({ S: 'REDACTED' });
    expect(out.pk).toBe(image.pk);
    expect(out.sk).toBe(image.sk);
    expect(out.tags).toBe(image.tags);
    expect(Object.keys(out).sort()).toEqual(Object.keys(image).filter((n) => n !== 'avatar').sort());
  });

  it('keeps an attribute named "__proto__" as an attribute (JSON.parse makes it an own property), never as the prototype', () => {
    const redact = compileRedaction(redaction({ exclude: ['avatar'], redact: [] }), keySchema);
    const image = JSON.parse('{"pk":{"S":"a"},"sk":{"N":"1"},"__proto__":{"S":"kept"},"avatar":{"S":"x"}}') as Record<string, never>;
    const out = redact?.(image) ?? {};
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['pk', 'sk', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ S: 'kept' });
  });

  it('uses a custom token', () => {
    expect(redactedValue({ S: 'x' }, { token: '***' })).toEqual({ S: '***' });
  });

  it('hashes with unkeyed SHA-256 of the canonical JSON: equal values (any map order) hash equal, different values differ', () => {
    const sha = { sha256: true as const };
    const a = redactedValue({ M: { b: { N: '1' }, a: { S: 'x' } } }, sha);
    const b = redactedValue({ M: { a: { S: 'x' }, b: { N: '1' } } }, sha);
    expect(a).toEqual(b);
    expect(redactedValue({ S: 'x' }, sha)).toEqual({ S: `sha256:${createHash('sha256').update('{"S":"x"}').digest('hex')}` });
    expect(redactedValue({ S: 'y' }, sha)).not.toEqual(redactedValue({ S: 'x' }, sha));
  });

  it('is undefined (a no-op) without a policy or with empty lists', () => {
    expect(compileRedaction(undefined, keySchema)).toBeUndefined();
    expect(compileRedaction(redaction({}), keySchema)).toBeUndefined();
  });

  it('refuses key attributes even when the config check was bypassed', () => {
    expect(() => compileRedaction(redaction({ redact: ['pk'] }), keySchema)).toThrow(ConfigurationError);
    expect(() => compileRedaction(redaction({ exclude: ['sk'] }), keySchema)).toThrow('redaction names key attribute(s) sk; keys are always replicated as they are');
  });

  it('redacts only NewImage of a record and leaves records without one unchanged', () => {
    const redact = compileRedaction(redaction({ redact: ['name'] }), keySchema);
    const modify = streamRecord('modify');
    const out = redactRecord(modify, redact);
    expect(out.dynamodb?.NewImage?.name).toEqual({ S: 'REDACTED' });
    expect(out.dynamodb?.OldImage).toBe(modify.dynamodb?.OldImage); // never sent anywhere
    expect(modify.dynamodb?.NewImage?.name).toEqual({ S: 'Ada Lovelace' }); // input not mutated
    const remove = streamRecord('remove');
    expect(redactRecord(remove, redact)).toBe(remove);
  });
});
