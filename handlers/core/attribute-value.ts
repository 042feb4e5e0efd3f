import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { z } from 'zod';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';
import { ReplicationError } from './errors';

/**
 * AttributeValues in two forms: the JSON wire form (Streams, Pipes, envelopes: B/BS as base64
 * strings) and the SDK v3 form (B/BS as Uint8Array). Conversion is structural only — N stays the
 * exact string DynamoDB produced, sets keep their order, nothing is unmarshalled.
 */
export type AttributeMapSdk = Record<string, AttributeValue>;

function base64ToBytes(value: string): Uint8Array {
  const buf = Buffer.from(value, 'base64');
  // A plain Uint8Array view (no copy): what the SDK itself returns for B.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function bytesToBase64(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

export function toSdkAttributeValue(value: AttributeValueWire): AttributeValue {
  if ('S' in value) return { S: value.S };
  if ('N' in value) return { N: value.N };
  if ('B' in value) return { B: base64ToBytes(value.B) };
  if ('SS' in value) return { SS: [...value.SS] };
  if ('NS' in value) return { NS: [...value.NS] };
  if ('BS' in value) return { BS: value.BS.map(base64ToBytes) };
  if ('M' in value) return { M: toSdkAttributeMap(value.M) };
  if ('L' in value) return { L: value.L.map(toSdkAttributeValue) };
  if ('NULL' in value) return { NULL: true };
  if ('BOOL' in value) return { BOOL: value.BOOL };
  throw new ReplicationError(`unknown AttributeValue type ${describeType(value)}`);
}

// A plain loop (this runs for every attribute of every applied item); setOwn keeps "__proto__" an attribute.
export function toSdkAttributeMap(map: AttributeMapWire): AttributeMapSdk {
  const out: AttributeMapSdk = {};
  for (const name of Object.keys(map)) {
    setOwn(out, name, toSdkAttributeValue(map[name]));
  }
  return out;
}

export function toWireAttributeValue(value: AttributeValue): AttributeValueWire {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: bytesToBase64(value.B) };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map(bytesToBase64) };
  if (value.M !== undefined) return { M: toWireAttributeMap(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toWireAttributeValue) };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  throw new ReplicationError(`unknown AttributeValue type ${describeType(value)}`);
}

export function toWireAttributeMap(map: Record<string, AttributeValue>): AttributeMapWire {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, toWireAttributeValue(value)]));
}

/**
 * Sets `map[name] = value` as an own data property. Plain assignment would call Object.prototype's
 * `__proto__` setter for an attribute named "__proto__" (which DynamoDB allows) and lose it.
 */
export function setOwn<T>(map: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(map, name, { value, enumerable: true, writable: true, configurable: true });
  else map[name] = value;
}

/** `map[name]` if it is the map's own attribute; a plain lookup of "__proto__" or "toString" would find Object.prototype's. */
export function ownValue<T>(map: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(map, name) ? map[name] : undefined;
}

/** True when any object in `value` (at any depth) has an own key "__proto__". */
export function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  for (const name of Object.keys(value)) {
    if (name === '__proto__' || hasProtoKey((value as Record<string, unknown>)[name])) return true;
  }
  return false;
}

/**
 * `schema.safeParse(value)` that also validates and keeps keys named "__proto__": zod (4.6) drops
 * them from a record's output without validating their values. Such keys are renamed to unused
 * placeholders for validation, and error paths name them "__proto__" again; on success the input
 * itself is returned — right only for schemas that validate without transforming, as the
 * AttributeValue and envelope schemas do.
 */
export function safeParseKeepingProto<T>(schema: z.ZodType<T>, value: unknown): z.ZodSafeParseResult<T> {
  if (!hasProtoKey(value)) return schema.safeParse(value);
  const placeholders = new Set<string>();
  const renamed = renameProtoKeys(value, placeholders);
  const parsed = schema.safeParse(renamed);
  if (parsed.success) return { success: true, data: value as T };
  for (const issue of parsed.error.issues) {
    (issue as { path: PropertyKey[] }).path = issue.path.map((segment) => (typeof segment === 'string' && placeholders.has(segment) ? '__proto__' : segment));
  }
  return parsed;
}

function renameProtoKeys(value: unknown, placeholders: Set<string>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((element) => renameProtoKeys(element, placeholders));
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    let key = name;
    if (name === '__proto__') {
      key = '__proto__#';
      while (Object.hasOwn(value, key)) key += '#';
      placeholders.add(key);
    }
    out[key] = renameProtoKeys((value as Record<string, unknown>)[name], placeholders);
  }
  return out;
}

/** The type tag(s) of a value, for error messages — never the value itself. */
function describeType(value: object): string {
  return JSON.stringify(Object.keys(value));
}

/**
 * DynamoDB compares numbers by value: "1.50", "1.5" and "15E-1" are one key. Canonical form:
 * sign, significant digits without leading/trailing zeros, base-10 exponent ("15E-1"); zero is "0".
 * Used only to identify keys (groupId, coalescing) — values themselves are never rewritten.
 */
export function canonicalNumber(value: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(value);
  if (match === null || (match[2] === '' && (match[3] ?? '') === '')) {
    throw new ReplicationError('not a DynamoDB number');
  }
  const [, sign, intPart = '', fracPart = '', expPart] = match;
  let digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = (expPart === undefined ? 0 : Number.parseInt(expPart, 10)) - fracPart.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign === '-' ? '-' : ''}${digits}E${exponent}`;
}

/** Canonical text of one key attribute value, including its type. Keys are S, N or B only. */
export function canonicalKeyValue(value: AttributeValueWire): string {
  if ('S' in value) return JSON.stringify(['S', value.S]);
  if ('N' in value) return JSON.stringify(['N', canonicalNumber(value.N)]);
  // Re-encode so that differently padded base64 of the same bytes is one key.
  if ('B' in value) return JSON.stringify(['B', Buffer.from(value.B, 'base64').toString('base64')]);
  throw new ReplicationError(`key attribute of type ${describeType(value)}; DynamoDB keys are S, N or B`);
}

/**
 * Canonical encoding of a primary key (partition key and optional sort key): stable across
 * processes and independent of attribute order, so it can name an item in maps and hashes.
 */
export function canonicalKey(keys: AttributeMapWire): string {
  const names = Object.keys(keys).sort();
  return `[${names.map((name) => `[${JSON.stringify(name)},${canonicalKeyValue(keys[name])}]`).join(',')}]`;
}

/** UTF-8 byte length of the JSON text — what SQS and Pipes count against their payload limits. */
export function encodedSizeBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * `encodedSizeBytes(value) <= limit`, without serialising when a cheap upper bound already
 * settles it (serialising was half of the enrichment's CPU for a 1 KB item). Bound: a UTF-16 code
 * unit takes at most 6 bytes in JSON text (`\u001f`, lone surrogates; anything else ≤ 3), a
 * number at most 32 characters. Whatever the bound cannot vouch for is measured exactly.
 */
export function encodedSizeAtMost(value: unknown, limit: number): boolean {
  return jsonBytesUpperBound(value, limit) <= limit || encodedSizeBytes(value) <= limit;
}

const MAX_NUMBER_CHARS = 32;

/** Upper bound of the JSON text's UTF-8 size; Infinity once over `budget` or for anything not plain JSON data. */
function jsonBytesUpperBound(value: unknown, budget: number): number {
  switch (typeof value) {
    case 'string': return 6 * value.length + 2;
    case 'number': return MAX_NUMBER_CHARS;
    case 'boolean': return 5;
    case 'object': {
      if (value === null) return 4;
      let total = 2;
      if (Array.isArray(value)) {
        for (const element of value) {
          total += jsonBytesUpperBound(element, budget - total) + 1;
          if (total > budget) return Number.POSITIVE_INFINITY;
        }
        return total;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return Number.POSITIVE_INFINITY;
      for (const name of Object.keys(value)) {
        total += 6 * name.length + 4 + jsonBytesUpperBound((value as Record<string, unknown>)[name], budget - total);
        if (total > budget) return Number.POSITIVE_INFINITY;
      }
      return total;
    }
    case 'undefined': return 0;
    default: return Number.POSITIVE_INFINITY;
  }
}

/**
 * Item size by DynamoDB's rules (attribute names + values; numbers ≈ 1 byte per 2 significant
 * digits + 1; 3 bytes + 1 per element for M and L; 1 byte for NULL/BOOL), from the wire form.
 * An estimate for sizing decisions; DynamoDB's own accounting decides the 400 KB limit.
 */
export function itemSizeBytes(item: AttributeMapWire): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueSizeBytes(value);
  return size;
}

function numberSizeBytes(value: string): number {
  const canonical = canonicalNumber(value);
  const digits = canonical === '0' ? 1 : canonical.replace(/^-/, '').replace(/E.*$/, '').length;
  return Math.ceil(digits / 2) + 1;
}

function valueSizeBytes(value: AttributeValueWire): number {
  if ('S' in value) return Buffer.byteLength(value.S, 'utf8');
  if ('N' in value) return numberSizeBytes(value.N);
  if ('B' in value) return Buffer.byteLength(value.B, 'base64');
  if ('SS' in value) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s, 'utf8'), 0);
  if ('NS' in value) return value.NS.reduce((sum, n) => sum + numberSizeBytes(n), 0);
  if ('BS' in value) return value.BS.reduce((sum, b) => sum + Buffer.byteLength(b, 'base64'), 0);
  if ('M' in value) return 3 + Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + Buffer.byteLength(k, 'utf8') + valueSizeBytes(v), 0);
  if ('L' in value) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSizeBytes(v), 0);
  return 1;
}
