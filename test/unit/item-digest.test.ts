import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalNumber } from '../../handlers/core/attribute-value';
import { BucketDigests, canonicalItemBytes, compareCodePoints, ItemDigester } from '../../handlers/core/item-digest';
import { itemsEqual } from '../../common/item-compare';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';
import { base64Bytes, keySchema, numberString } from './support/arbitraries';

/** Well-formed Unicode only: DynamoDB strings are UTF-8, so a lone surrogate never reaches verify. */
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength });
const name = fc.oneof(text(6).filter((s) => s.length > 0), fc.constant('__proto__'));

const { value } = fc.letrec<{ value: AttributeValueWire }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text(8).map((S) => ({ S })),
    numberString.map((N) => ({ N })),
    base64Bytes.map((B) => ({ B })),
    fc.uniqueArray(text(4), { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(numberString, { minLength: 1, maxLength: 4 }).map((NS) => ({ NS })),
    fc.uniqueArray(base64Bytes, { minLength: 1, maxLength: 4 }).map((BS) => ({ BS })),
    fc.dictionary(name, tie('value'), { maxKeys: 4 }).map((M) => ({ M })),
    fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
    fc.constant({ NULL: true as const }),
    fc.boolean().map((BOOL) => ({ BOOL })),
  ),
}));
const item: fc.Arbitrary<AttributeMapWire> = fc.dictionary(name, value, { maxKeys: 5 });

/** Same item, other spelling: attributes and map keys reordered, sets shuffled, numbers respelled. */
function respell(v: AttributeValueWire, seed: number): AttributeValueWire {
  const shuffle = <T>(xs: readonly T[]): T[] => (seed % 2 === 0 ? [...xs].reverse() : [...xs.slice(1), ...xs.slice(0, 1)]);
  if ('N' in v) return { N: respellNumber(v.N, seed) };
  if ('SS' in v) return { SS: shuffle(v.SS) };
  if ('NS' in v) return { NS: shuffle(v.NS.map((n) => respellNumber(n, seed))) };
  if ('BS' in v) return { BS: shuffle(v.BS) };
  if ('L' in v) return { L: v.L.map((x) => respell(x, seed + 1)) };
  if ('M' in v) return { M: respellMap(v.M, seed + 1) };
  return v;
}
function respellMap(m: AttributeMapWire, seed: number): AttributeMapWire {
  const out: AttributeMapWire = Object.create(null) as AttributeMapWire;
  for (const k of Object.keys(m).reverse()) Object.defineProperty(out, k, { value: respell(m[k], seed), enumerable: true });
  return out;
}
/** "1.5" → "1.50", "001.5", "15E-1" … the same decimal value. */
function respellNumber(n: string, seed: number): string {
  const [mantissa = '', exponent] = n.split(/[eE]/);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace(/^-/, '');
  const padded = seed % 3 === 0 ? `0${digits}` : digits.includes('.') ? `${digits}0` : `${digits}.000`;
  const e = Number(exponent ?? 0);
  return `${sign}${padded}${seed % 3 === 1 ? `E${e >= 0 ? '+' : ''}${e}` : exponent === undefined ? '' : `e${exponent}`}`;
}

describe('canonical item bytes', () => {
  it('are the same for every spelling of an item: attribute order, set order, number spelling, nested maps', () => {
    fc.assert(fc.property(item, fc.nat(), (a, seed) => {
      expect(canonicalItemBytes(respellMap(a, seed)).equals(canonicalItemBytes(a))).toBe(true);
    }), { numRuns: 300 });
  });

  it('differ exactly when the items differ (common/item-compare.ts as the oracle)', () => {
    fc.assert(fc.property(item, item, (a, b) => {
      expect(canonicalItemBytes(a).equals(canonicalItemBytes(b))).toBe(itemsEqual(a, b));
    }), { numRuns: 300 });
    // Random pairs are nearly always different: also pairs one edit apart.
    fc.assert(fc.property(item, name, value, (a, n, v) => {
      const b = { ...a };
      Object.defineProperty(b, n, { value: v, enumerable: true, writable: true, configurable: true });
      expect(canonicalItemBytes(a).equals(canonicalItemBytes(b))).toBe(itemsEqual(a, b));
    }), { numRuns: 300 });
  });

  it('order strings by code point (UTF-8 bytes), not by UTF-16 units', () => {
    fc.assert(fc.property(text(6), text(6), (a, b) => {
      expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
    }), { numRuns: 500 });
    expect(compareCodePoints('\uFF01', '😀')).toBeLessThan(0);
  });

  it.each([
    ['1.50', '1.5'], ['1E+2', '100'], ['-0', '0'], ['0.000', '0'], ['-1.0e1', '-10'], ['12345678901234567890123456789012345678', '1.2345678901234567890123456789012345678E37'],
  ])('number %s = %s', (a, b) => {
    expect(canonicalItemBytes({ n: { N: a } })).toEqual(canonicalItemBytes({ n: { N: b } }));
  });

  it('tells apart values that only look alike: types, 1.5 vs 1.50001, binary by bytes, list order, nesting', () => {
    const distinct: AttributeMapWire[] = [
      { a: { S: '1' } }, { a: { N: '1' } }, { a: { N: '1.50001' } }, { a: { B: 'AQ==' } }, { a: { B: 'AQI=' } }, { a: { SS: ['1'] } }, { a: { NS: ['1'] } },
      { a: { L: [{ S: 'x' }, { S: 'y' }] } }, { a: { L: [{ S: 'y' }, { S: 'x' }] } }, { a: { M: { b: { M: { c: { S: 'x' } } } } } }, { a: { M: { b: { M: { c: { S: 'y' } } } } } },
      { a: { NULL: true } }, { a: { BOOL: false } }, { a: { BOOL: true } }, { a: { S: '' } }, { a: { L: [] } }, { a: { M: {} } }, { ab: { S: '' } },
    ];
    const hex = distinct.map((d) => canonicalItemBytes(d).toString('hex'));
    expect(new Set(hex).size).toBe(distinct.length);
  });

  /** The bytes of a one-attribute item as the format in item-digest.ts spells them, built by hand. */
  const oneAttribute = (tag: string, text: string): Buffer => {
    const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const value = Buffer.from(text, 'utf8');
    return Buffer.concat([Buffer.from('M'), u32(1), u32(1), Buffer.from('a'), Buffer.from(tag), u32(value.length), value]);
  };

  it('spell a string as its UTF-8 bytes, ASCII or not, wherever the first non-ASCII character is', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 12 }), text(6), fc.string({ unit: 'grapheme-ascii', maxLength: 4 }), (head, middle, tail) => {
      const s = `${head}${middle}${tail}`;
      expect(canonicalItemBytes({ a: { S: s } }).equals(oneAttribute('S', s))).toBe(true);
    }), { numRuns: 300 });
  });

  it('spell a number as canonicalNumber does, and reject what it rejects', () => {
    const spellings = fc.oneof(
      numberString,
      fc.tuple(fc.constantFrom('', '+', '-'), fc.string({ unit: fc.constantFrom(...'0000123456789..'), maxLength: 12 })).map(([sign, body]) => `${sign}${body}`),
      fc.constantFrom('+.5', '-.0', '1.', '.', '-', '+', '', '1.2.3', 'abc', '1e', '1e+', '00012.3400', '-000', '0.0001000', '1 ', ' 1', '١'),
    );
    fc.assert(fc.property(spellings, (n) => {
      let expected: string | undefined;
      try {
        expected = canonicalNumber(n);
      } catch {
        expected = undefined;
      }
      if (expected === undefined) expect(() => canonicalItemBytes({ a: { N: n } })).toThrow('not a DynamoDB number');
      else expect(canonicalItemBytes({ a: { N: n } }).equals(oneAttribute('N', expected))).toBe(true);
    }), { numRuns: 1000 });
  });

  it('keeps a "__proto__" attribute as data', () => {
    const withProto = JSON.parse('{"pk":{"S":"a"},"__proto__":{"S":"x"}}') as AttributeMapWire;
    const other = JSON.parse('{"pk":{"S":"a"},"__proto__":{"S":"y"}}') as AttributeMapWire;
    expect(canonicalItemBytes(withProto).equals(canonicalItemBytes(other))).toBe(false);
    expect(canonicalItemBytes(withProto).equals(canonicalItemBytes({ pk: { S: 'a' } }))).toBe(false);
  });
});

describe('item digests and bucket digests', () => {
  const digester = new ItemDigester(keySchema);
  const row = (pk: string, v: string): AttributeMapWire => ({ pk: { S: pk }, sk: { N: '1' }, v: { S: v } });

  it('hash the key alone for the bucket and key + item for the digest', () => {
    const d = digester.digest(row('a', 'x'));
    expect(d.keyBytes).toEqual(canonicalItemBytes({ pk: { S: 'a' }, sk: { N: '1' } }));
    expect(d.keyHash).toBe(createHash('sha256').update(d.keyBytes).digest().readUInt32BE(0));
    expect(d.itemHash).toEqual(createHash('sha256').update(d.keyBytes).update(canonicalItemBytes(row('a', 'x'))).digest());
    expect(digester.digest(row('a', 'y')).keyHash).toBe(d.keyHash);
    expect(() => digester.digest({ pk: { S: 'a' } })).toThrow('item lacks a key attribute');
  });

  it('are independent of the order items arrive in; a duplicate does not cancel out', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), { maxLength: 40 }), fc.nat(), (pks, seed) => {
      const a = new BucketDigests(8);
      const b = new BucketDigests(8);
      pks.forEach((pk) => a.add(digester.digest(row(pk, pk))));
      [...pks].sort(() => (seed % 3) - 1).forEach((pk) => b.add(digester.digest(row(pk, pk))));
      expect(a.mismatching(b)).toEqual([]);
    }));
    const once = new BucketDigests(1);
    const twice = new BucketDigests(1);
    once.add(digester.digest(row('a', 'x')));
    twice.add(digester.digest(row('a', 'x')));
    twice.add(digester.digest(row('a', 'x')));
    twice.add(digester.digest(row('a', 'x')));
    expect(twice.mismatching(once)).toEqual([0]);
  });

  it('addTo adds to each bucket SHA-256(key bytes ‖ item bytes), the bucket taken from SHA-256(key bytes), as add(digest) does', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), { maxLength: 30 }), item, (pks, rest) => {
      const viaAddTo = new BucketDigests(4);
      const viaAdd = new BucketDigests(4);
      const sums = [0n, 0n, 0n, 0n];
      for (const pk of pks) {
        const it = { ...rest, pk: { S: pk }, sk: { N: '1' } };
        digester.addTo(viaAddTo, it);
        viaAdd.add(digester.digest(it));
        const keyBytes = canonicalItemBytes({ pk: { S: pk }, sk: { N: '1' } });
        const bucket = createHash('sha256').update(keyBytes).digest().readUInt32BE(0) % 4;
        sums[bucket] = (sums[bucket] + BigInt(`0x${createHash('sha256').update(keyBytes).update(canonicalItemBytes(it)).digest('hex')}`)) % 2n ** 256n;
      }
      for (let b = 0; b < 4; b++) {
        expect(viaAddTo.hex(b)).toBe(sums[b].toString(16).padStart(64, '0'));
        expect(viaAdd.hex(b)).toBe(viaAddTo.hex(b));
      }
    }), { numRuns: 100 });
  });

  it('add modulo 2^256 with carries across words', () => {
    const d = new BucketDigests(1);
    const max = { keyBytes: Buffer.alloc(0), keyHash: 0, itemHash: Buffer.alloc(32, 0xff) };
    d.add(max);
    d.add({ ...max, itemHash: Buffer.from(`${'00'.repeat(31)}02`, 'hex') });
    expect(d.hex(0)).toBe(`${'0'.repeat(63)}1`);
  });

  it('name only the buckets that differ', () => {
    const a = new BucketDigests(1024);
    const b = new BucketDigests(1024);
    for (let i = 0; i < 500; i++) {
      a.add(digester.digest(row(`k${i}`, 'v')));
      b.add(digester.digest(row(`k${i}`, i === 7 ? 'changed' : 'v')));
    }
    expect(a.mismatching(b)).toEqual([a.bucketOf(digester.digest(row('k7', 'v')).keyHash)]);
    expect(() => new BucketDigests(0)).toThrow('bucket count must be an integer from 1 to 16777216, got 0');
  });
});
