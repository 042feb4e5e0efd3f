import fc from 'fast-check';
import {
  canonicalKey,
  canonicalNumber,
  hasProtoKey,
  itemSizeBytes,
  toSdkAttributeMap,
  toSdkAttributeValue,
  toWireAttributeMap,
  toWireAttributeValue,
} from '../../handlers/core/attribute-value';
import { attributeMap, attributeValue } from './support/arbitraries';
import type { AttributeMapWire } from '../../schemas/attribute-value';

describe('wire ↔ SDK AttributeValue codec', () => {
  it('converts binaries to Uint8Array and back, leaving every other type untouched', () => {
    const wire = {
      n: { N: '-1234567890.1234567890123456789012345678' },
      e: { N: '1E+125' },
      b: { B: Buffer.from([0, 255, 1]).toString('base64') },
      bEmpty: { B: '' },
      bs: { BS: ['AA==', ''] },
      s: { S: '' },
      m: { M: { l: { L: [{ NULL: true as const }, { BOOL: false }, { NS: ['1.50', '2'] }, { SS: ['ü', ''] }] } } },
    };
    const sdk = toSdkAttributeMap(wire);
    expect(sdk.b?.B).toEqual(new Uint8Array([0, 255, 1]));
    expect(sdk.b?.B?.constructor).toBe(Uint8Array);
    expect(sdk.bEmpty?.B).toEqual(new Uint8Array([]));
    expect(sdk.n).toEqual({ N: '-1234567890.1234567890123456789012345678' });
    expect(sdk.e).toEqual({ N: '1E+125' });
    expect(sdk.m?.M?.l?.L?.[2]).toEqual({ NS: ['1.50', '2'] });
    expect(toWireAttributeMap(sdk)).toEqual(wire);
  });

  it('round-trips wire → SDK → wire exactly (property)', () => {
    fc.assert(fc.property(attributeMap, (wire) => {
      expect(toWireAttributeMap(toSdkAttributeMap(wire))).toEqual(wire);
    }), { numRuns: 300 });
  });

  it('round-trips SDK → wire → SDK exactly (property)', () => {
    fc.assert(fc.property(attributeValue, (wire) => {
      const sdk = toSdkAttributeValue(wire);
      expect(toSdkAttributeValue(toWireAttributeValue(sdk))).toEqual(sdk);
    }), { numRuns: 300 });
  });

  it('keeps an attribute named "__proto__" as an attribute, and reports where it is', () => {
    const wire = JSON.parse('{"a":{"M":{"__proto__":{"S":"x"}}}}') as Parameters<typeof toSdkAttributeMap>[0];
    expect(Object.keys(toSdkAttributeMap(wire).a?.M ?? {})).toEqual(['__proto__']);
    expect(hasProtoKey(wire)).toBe(true);
    expect(hasProtoKey({ a: { L: [{ M: JSON.parse('{"__proto__":{"S":"x"}}') as AttributeMapWire }] } })).toBe(true);
    expect(hasProtoKey({ a: { L: [{ S: 'x' }] } })).toBe(false);
    // The SDK form, too: an own attribute, and the object keeps its ordinary prototype.
    const sdk = toSdkAttributeMap(JSON.parse('{"__proto__":{"S":"top"}}') as AttributeMapWire);
    expect(Object.getOwnPropertyDescriptor(sdk, '__proto__')?.value).toEqual({ S: 'top' });
    expect(Object.getPrototypeOf(sdk)).toBe(Object.prototype);
  });

  it('refuses an SDK value of unknown type with its tag, not its value', () => {
    expect(() => toWireAttributeValue({ $unknown: ['X', 'secret'] })).toThrow('unknown AttributeValue type ["$unknown"]');
  });
});

describe('canonical numbers and keys', () => {
  it.each([
    ['1.50', '15E-1'],
    ['1.5', '15E-1'],
    ['15E-1', '15E-1'],
    ['0.0', '0'],
    ['-0', '0'],
    ['100', '1E2'],
    ['1E+2', '1E2'],
    ['-0.00120e3', '-12E-1'],
    ['.5', '5E-1'],
    ['12345678901234567890123456789012345678', '12345678901234567890123456789012345678E0'],
  ])('canonicalNumber(%s) = %s', (input, expected) => {
    expect(canonicalNumber(input)).toBe(expected);
  });

  it('gives equal numbers the same canonical form whatever the notation (property)', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 38 });
    fc.assert(fc.property(fc.boolean(), digits, fc.integer({ min: -100, max: 100 }), fc.nat(38), (negative, d, e, k) => {
      const sign = negative ? '-' : '';
      const at = k % (d.length + 1);
      const forms = [
        `${sign}${d}E${e}`,
        `${sign}${d}0E${e - 1}`,
        `${sign}00${d}e${e}`,
        `${sign}${d.slice(0, at) || '0'}.${d.slice(at)}E${e + d.length - at}`,
      ];
      expect(new Set(forms.map(canonicalNumber)).size).toBe(1);
    }));
  });

  it('encodes a key independently of attribute order, with types', () => {
    expect(canonicalKey({ pk: { S: 'a' }, sk: { N: '1.0' } })).toBe(canonicalKey({ sk: { N: '1' }, pk: { S: 'a' } }));
    expect(canonicalKey({ pk: { S: '1' } })).not.toBe(canonicalKey({ pk: { N: '1' } }));
    expect(canonicalKey({ pk: { B: 'AA' } })).toBe(canonicalKey({ pk: { B: 'AA==' } }));
  });

  it('refuses non-key types in a key', () => {
    expect(() => canonicalKey({ pk: { BOOL: true } })).toThrow('DynamoDB keys are S, N or B');
  });
});

describe('itemSizeBytes', () => {
  it('follows DynamoDB sizing rules', () => {
    expect(itemSizeBytes({ ab: { S: 'héllo' } })).toBe(2 + 6);
    expect(itemSizeBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemSizeBytes({ b: { B: Buffer.from('abc').toString('base64') } })).toBe(1 + 3);
    expect(itemSizeBytes({ m: { M: { x: { BOOL: true } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSizeBytes({ l: { L: [{ NULL: true }, { S: 'ab' }] } })).toBe(1 + 3 + (1 + 1) + (1 + 2));
  });
});
