import fc from 'fast-check';
import type { AttributeMapWire, AttributeValueWire } from '../../../schemas/attribute-value';
import type { ChangeEnvelopeV1 } from '../../../schemas/change-envelope.v1';
import { groupIdFor } from '../../../handlers/core/group-id';
import type { KeySchema } from '../../../handlers/core/key-schema';

/** DynamoDB numbers as strings: up to 38 significant digits, a decimal point anywhere, optional exponent. */
export const numberString: fc.Arbitrary<string> = fc
  .tuple(
    fc.boolean(),
    fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 38 }),
    fc.nat(38),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 125 }))),
  )
  .map(([negative, digits, point, exponent]) => {
    const at = Math.min(point, digits.length);
    const mantissa = at === digits.length ? digits : `${digits.slice(0, at) || '0'}.${digits.slice(at)}`;
    return `${negative ? '-' : ''}${mantissa}${exponent === null ? '' : `${exponent[0]}${exponent[1]}${exponent[2]}`}`;
  });

export const base64Bytes: fc.Arbitrary<string> = fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes).toString('base64'));

/**
 * Names that are properties of every JS object: code that assigns (`obj[name] = v`) or looks up
 * (`obj[name]`) attribute names without care loses or invents them. DynamoDB allows them all; it
 * refuses only the empty name (at the top level and in maps alike, verified on DynamoDB Local).
 */
export const OBJECT_PROPERTY_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'] as const;

/** Any Unicode (incl. astral planes), often one of OBJECT_PROPERTY_NAMES. */
export const attributeName: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.constantFrom(...OBJECT_PROPERTY_NAMES),
);

const { value: attributeValueArb } = fc.letrec<{ value: AttributeValueWire }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: 'binary', maxLength: 16 }).map((S) => ({ S })),
    numberString.map((N) => ({ N })),
    base64Bytes.map((B) => ({ B })),
    fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 8 }), { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(numberString, { minLength: 1, maxLength: 4 }).map((NS) => ({ NS })),
    fc.uniqueArray(base64Bytes, { minLength: 1, maxLength: 4 }).map((BS) => ({ BS })),
    fc.dictionary(attributeName, tie('value'), { maxKeys: 4, noNullPrototype: true }).map((M) => ({ M })),
    fc.array(tie('value'), { maxLength: 4 }).map((L) => ({ L })),
    fc.constant({ NULL: true as const }),
    fc.boolean().map((BOOL) => ({ BOOL })),
  ),
}));
export const attributeValue = attributeValueArb;

export const attributeMap: fc.Arbitrary<AttributeMapWire> = fc.dictionary(attributeName, attributeValue, { maxKeys: 6, noNullPrototype: true });

export const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

export const keyValue: fc.Arbitrary<AttributeValueWire> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).map((S) => ({ S })),
  numberString.map((N) => ({ N })),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((bytes) => ({ B: Buffer.from(bytes).toString('base64') })),
);

/** Valid v1 envelopes (keys pk + sk of any key type, any image). */
export const envelope: fc.Arbitrary<ChangeEnvelopeV1> = fc
  .record({
    op: fc.constantFrom('PUT', 'DELETE', 'RESYNC' as const),
    pk: keyValue,
    sk: keyValue,
    rest: attributeMap,
    seq: fc.stringMatching(/^\d{0,40}$/),
    at: fc.nat(),
    eventId: fc.stringMatching(/^[0-9a-f]{32}$/),
    origin: fc.constantFrom('user', 'ttl', 'replay', 'repair' as const),
  })
  .map(({ op, pk, sk, rest, seq, at, eventId, origin }) => {
    const keys = { pk, sk };
    const base = { v: 1 as const, op, table: 'orders', keys, seq, at, eventId, groupId: groupIdFor(keys, keySchema), origin };
    return op === 'PUT' ? { ...base, image: { ...rest, ...keys } } : base;
  });
