import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodedSizeAtMost, encodedSizeBytes, safeParseKeepingProto } from '../../handlers/core/attribute-value';
import { isPlainEnvelopeV1 } from '../../handlers/core/envelope-check';
import { decodeEnvelope } from '../../handlers/core/envelope';
import { changeEnvelopeV1Schema } from '../../schemas/change-envelope.v1';
import { envelope } from './support/arbitraries';

/**
 * The fast path may only ever accept what the schema accepts, unchanged: whenever
 * isPlainEnvelopeV1(x) holds, the schema parses x to a deep copy of x (and so decodeEnvelope's
 * answer does not depend on which path it took).
 */
function agreesWithSchema(value: unknown): void {
  if (!isPlainEnvelopeV1(value)) return;
  const parsed = safeParseKeepingProto(changeEnvelopeV1Schema, value);
  expect(parsed.success).toBe(true);
  // toEqual, not toStrictEqual: the latter compares `.constructor`, which is an own attribute for an
  // item with an attribute named "constructor" — a legal DynamoDB name the generator produces.
  expect(parsed.data).toEqual(value);
  expect(JSON.stringify(sortKeysDeep(parsed.data))).toBe(JSON.stringify(sortKeysDeep(value)));
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeysDeep((value as Record<string, unknown>)[k])]));
}

/** Every path into a JSON tree, so a mutation can hit any field at any depth. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function mutate(json: unknown, pick: number, replacement: unknown, remove: boolean): unknown {
  const copy = JSON.parse(JSON.stringify(json)) as Record<string | number, unknown>;
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all[pick % all.length];
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

// Property runs are CPU-bound; under a full parallel unit run they can outlast jest's 5 s default.
jest.setTimeout(30_000);

describe('isPlainEnvelopeV1 (fast path of envelope validation)', () => {
  it('accepts every valid envelope, as JSON delivers it', () => {
    fc.assert(fc.property(envelope, (e) => {
      const raw: unknown = JSON.parse(JSON.stringify(e));
      expect(isPlainEnvelopeV1(raw)).toBe(true);
      agreesWithSchema(raw);
      expect(decodeEnvelope(JSON.stringify(e))).toEqual(safeParseKeepingProto(changeEnvelopeV1Schema, raw).data); // toEqual: see agreesWithSchema
    }), { numRuns: 300 });
  });

  it('never accepts what the schema rejects or would change (random mutations at any depth)', () => {
    fc.assert(fc.property(envelope, fc.nat(), fc.jsonValue(), fc.boolean(), (e, pick, replacement, remove) => {
      agreesWithSchema(mutate(e, pick, replacement, remove));
    }), { numRuns: 1000 });
  });

  it('never accepts arbitrary values the schema rejects', () => {
    fc.assert(fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), agreesWithSchema), { numRuns: 500 });
  });

  it('accepts "__proto__" attribute names as JSON delivers them (own properties), refuses a present-but-undefined image', () => {
    const base = JSON.parse(JSON.stringify(fc.sample(envelope.filter((e) => e.op === 'PUT'), { numRuns: 1, seed: 7 })[0])) as Record<string, unknown>;
    expect(isPlainEnvelopeV1(base)).toBe(true);
    const withProto = JSON.parse(JSON.stringify(base).replace('"image":{', '"image":{"__proto__":{"M":{"__proto__":{"S":"x"}}},')) as Record<string, unknown>;
    expect(isPlainEnvelopeV1(withProto)).toBe(true);
    expect(isPlainEnvelopeV1({ ...base, op: 'DELETE', image: undefined })).toBe(false);
    const decoded = decodeEnvelope(JSON.stringify(withProto));
    expect(Object.getOwnPropertyDescriptor(decoded.image, '__proto__')?.value).toEqual({ M: JSON.parse('{"__proto__":{"S":"x"}}') as unknown });
    // A bad value under "__proto__" is refused and named (zod alone would drop the key unchecked).
    const bad = JSON.parse(JSON.stringify(base).replace('"image":{', '"image":{"__proto__":{"S":1},')) as unknown;
    expect(isPlainEnvelopeV1(bad)).toBe(false);
    expect(() => decodeEnvelope(JSON.stringify(bad))).toThrow('image.__proto__');
  });

  it('refuses sparse arrays (holes the schema rejects; JSON never makes them, a built record can)', () => {
    const holey = (at: number, value: unknown): unknown[] => { const a: unknown[] = []; a.length = 2; a[at] = value; return a; };
    for (const attribute of [{ L: holey(1, { S: 'x' }) }, { NS: holey(0, '1') }, { SS: holey(0, 'a') }, { BS: holey(1, 'AA==') }]) {
      const candidate = { v: 1, op: 'PUT', table: 'tbl', keys: { pk: { S: 'a' } }, image: { pk: { S: 'a' }, a: attribute }, seq: '1', at: 1, eventId: 'e', groupId: 'g', origin: 'user' };
      expect(changeEnvelopeV1Schema.safeParse(candidate).success).toBe(false);
      expect(isPlainEnvelopeV1(candidate)).toBe(false);
    }
  });

  it('agrees with the schema on every fixture', () => {
    const root = join(__dirname, '..', '..', 'schemas', 'fixtures');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const raw: unknown = JSON.parse(readFileSync(join(root, file), 'utf8'));
      agreesWithSchema(raw);
      if (file.startsWith('invalid')) expect(isPlainEnvelopeV1(raw)).toBe(false);
    }
  });
});

describe('encodedSizeAtMost (fast path of the RESYNC size decision)', () => {
  const anyUnicode = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });
  const controlAndSurrogates = fc.string({ unit: fc.constantFrom('\u0000', '\u001f', '"', '\\', '\ud800', '\udfff', 'é', '€', '😀', 'a'), maxLength: 64 });

  it('answers exactly encodedSizeBytes(value) <= limit, whatever the characters and the limit', () => {
    fc.assert(fc.property(fc.oneof(anyUnicode, controlAndSurrogates, envelope), fc.nat(4000), (value, limit) => {
      expect(encodedSizeAtMost(value, limit)).toBe(encodedSizeBytes(value) <= limit);
    }), { numRuns: 3000 });
  });

  it('decides right at the boundary', () => {
    const value = { image: { S: 'x'.repeat(500) }, n: 12.5 };
    const size = encodedSizeBytes(value);
    expect(encodedSizeAtMost(value, size)).toBe(true);
    expect(encodedSizeAtMost(value, size - 1)).toBe(false);
  });
});
