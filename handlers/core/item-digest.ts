import { createHash, hash as cryptoHash } from 'node:crypto';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';
import { canonicalNumber } from './attribute-value';
import { ReplicationError } from './errors';
import { keyAttributeNames, type KeySchema } from './key-schema';

/**
 * The canonical form and digest of an item, shared by every verification path: `verify` (digest
 * buckets, cli/operator/verify.ts), the scheduled sampled verification (handlers/core/sampled-verify.ts)
 * and, in Python, the Glue verify job (infra/glue/item_digest.py). test/fixtures/digest-vectors.json,
 * generated from this file, holds both languages to the same bytes.
 *
 * Canonical bytes are a length-prefixed encoding (no JSON escaping to agree on), the same for one
 * item whatever its attribute order, set order, number spelling or base64 padding:
 *   map  'M' u32 count, then per attribute sorted by the UTF-8 bytes of its name: u32 len, name, value
 *   S    'S' u32 len, UTF-8          N  'N' u32 len, canonicalNumber (ASCII: "15E-1", "0")
 *   B    'B' u32 len, bytes          BOOL 'b' 0x00|0x01      NULL '0'
 *   SS   's' u32 count, sorted by bytes (u32 len, UTF-8)…    NS 'n' …canonical numbers, sorted
 *   BS   'x' u32 count, sorted by bytes (u32 len, bytes)…    L  'L' u32 count, values in order
 * u32 is big-endian. Numbers never go through a JS number (canonicalNumber works on the digits).
 */

const TAG = { M: 0x4d, S: 0x53, N: 0x4e, B: 0x42, BOOL: 0x62, NULL: 0x30, SS: 0x73, NS: 0x6e, BS: 0x78, L: 0x4c } as const;

/** A wire AttributeValue read member by member (the union type allows only one member per variant). */
interface AttributeValueMembers {
  S?: string; N?: string; B?: string; SS?: string[]; NS?: string[]; BS?: string[];
  M?: AttributeMapWire; L?: AttributeValueWire[]; NULL?: boolean; BOOL?: boolean;
}

const bytesOf = (b: string): Uint8Array => Buffer.from(b, 'base64');

/**
 * Code-point order (= UTF-8 byte order) of well-formed strings, without encoding them. UTF-16 code
 * units order differently only where a surrogate (part of a character ≥ U+10000) meets
 * U+E000–U+FFFF: lifting surrogates above the BMP fixes exactly that.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Appends to one growing buffer, reused from item to item: no Buffer per attribute, one hash call
 * over the whole item. Hot in `verify` (every item of both tables), so the common cases take fast
 * paths that write the same bytes: ASCII strings copied unit by unit (a native utf8 write costs
 * more than the copy for the short strings of most items), plain decimal numbers canonicalised
 * straight into the buffer (no regex, no intermediate strings).
 */
class CanonicalWriter {
  buf = Buffer.allocUnsafe(4096);
  length = 0;

  reset(): void {
    this.length = 0;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  u32(n: number): void {
    this.reserve(4);
    const buf = this.buf;
    const at = this.length;
    buf[at] = n >>> 24;
    buf[at + 1] = (n >>> 16) & 0xff;
    buf[at + 2] = (n >>> 8) & 0xff;
    buf[at + 3] = n & 0xff;
    this.length = at + 4;
  }

  chunk(bytes: Uint8Array): void {
    this.u32(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  string(s: string): void {
    const n = s.length;
    // Room for the worst case (3 bytes per UTF-16 unit), then write and patch the length in.
    this.reserve(4 + 3 * n);
    const buf = this.buf;
    const start = this.length + 4;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    // Not ASCII: the rest through the UTF-8 encoder.
    const bytes = i === n ? n : i + buf.write(s.slice(i), start + i, 'utf8');
    const at = this.length;
    buf[at] = bytes >>> 24;
    buf[at + 1] = (bytes >>> 16) & 0xff;
    buf[at + 2] = (bytes >>> 8) & 0xff;
    buf[at + 3] = bytes & 0xff;
    this.length = start + bytes;
  }

  /**
   * canonicalNumber(s) as a string value (u32 length, ASCII), written in place for the common
   * spelling — optional sign, digits, at most one point, no exponent; anything else (exponents,
   * malformed numbers, which canonicalNumber rejects) goes through canonicalNumber itself.
   */
  number(s: string): void {
    const n = s.length;
    let i = 0;
    const first = n > 0 ? s.charCodeAt(0) : 0;
    const negative = first === 0x2d;
    if (negative || first === 0x2b) i = 1;
    let point = -1;
    let firstNonZero = -1;
    let lastNonZero = -1;
    let digits = 0;
    for (let j = i; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x2e && point === -1) {
        point = j;
        continue;
      }
      if (c < 0x30 || c > 0x39) {
        this.string(canonicalNumber(s));
        return;
      }
      digits++;
      if (c !== 0x30) {
        if (firstNonZero === -1) firstNonZero = j;
        lastNonZero = j;
      }
    }
    if (digits === 0) {
      this.string(canonicalNumber(s)); // throws: not a DynamoDB number
      return;
    }
    if (firstNonZero === -1) {
      this.string('0');
      return;
    }
    const fractionDigits = point === -1 ? 0 : n - point - 1;
    // Zeros after the last non-zero digit (the point is not a digit) move into the exponent.
    const trailingZeros = n - 1 - lastNonZero - (point > lastNonZero ? 1 : 0);
    const exponent = String(trailingZeros - fractionDigits);
    this.reserve(4 + 1 + (lastNonZero - firstNonZero + 1) + 1 + exponent.length);
    const buf = this.buf;
    const start = this.length + 4;
    let at = start;
    if (negative) buf[at++] = 0x2d;
    for (let j = firstNonZero; j <= lastNonZero; j++) {
      if (j !== point) buf[at++] = s.charCodeAt(j);
    }
    buf[at++] = 0x45; // 'E'
    for (let j = 0; j < exponent.length; j++) buf[at++] = exponent.charCodeAt(j);
    const bytes = at - start;
    const lengthAt = this.length;
    buf[lengthAt] = bytes >>> 24;
    buf[lengthAt + 1] = (bytes >>> 16) & 0xff;
    buf[lengthAt + 2] = (bytes >>> 8) & 0xff;
    buf[lengthAt + 3] = bytes & 0xff;
    this.length = at;
  }

  strings(tag: number, values: readonly string[]): void {
    this.byte(tag);
    this.u32(values.length);
    for (const v of [...values].sort(compareCodePoints)) this.string(v);
  }

  value(wire: AttributeValueWire): void {
    const value = wire as AttributeValueMembers;
    if (value.S !== undefined) { this.byte(TAG.S); this.string(value.S); return; }
    if (value.N !== undefined) { this.byte(TAG.N); this.number(value.N); return; }
    if (value.B !== undefined) { this.byte(TAG.B); this.chunk(bytesOf(value.B)); return; }
    if (value.BOOL !== undefined) { this.byte(TAG.BOOL); this.byte(value.BOOL ? 1 : 0); return; }
    if (value.NULL !== undefined) { this.byte(TAG.NULL); return; }
    if (value.SS !== undefined) { this.strings(TAG.SS, value.SS); return; }
    // Canonical numbers are ASCII: UTF-16 order is byte order.
    if (value.NS !== undefined) { this.strings(TAG.NS, value.NS.map(canonicalNumber)); return; }
    if (value.BS !== undefined) {
      this.byte(TAG.BS);
      this.u32(value.BS.length);
      for (const b of value.BS.map(bytesOf).sort((a, b) => Buffer.compare(a, b))) this.chunk(b);
      return;
    }
    if (value.L !== undefined) {
      this.byte(TAG.L);
      this.u32(value.L.length);
      for (const v of value.L) this.value(v);
      return;
    }
    if (value.M !== undefined) { this.map(value.M); return; }
    throw new ReplicationError(`unknown AttributeValue type ${JSON.stringify(Object.keys(value))}`);
  }

  /** Own enumerable names only (Object.keys): a "__proto__" attribute is data like any other. */
  map(map: AttributeMapWire): void {
    // Object.keys returns a fresh array: sorted in place, and every name in it is an own property.
    const names = Object.keys(map);
    if (names.length > 1) names.sort(compareCodePoints);
    this.byte(TAG.M);
    this.u32(names.length);
    for (const name of names) {
      this.string(name);
      this.value(map[name]);
    }
  }

  /** The map of `names` only (the key attributes), each of which the item must have. */
  mapOf(map: AttributeMapWire, names: readonly string[]): void {
    const sorted = names.length > 1 ? [...names].sort(compareCodePoints) : names;
    this.byte(TAG.M);
    this.u32(sorted.length);
    for (const name of sorted) {
      const value = Object.prototype.hasOwnProperty.call(map, name) ? map[name] : undefined;
      if (value === undefined) throw new ReplicationError('item lacks a key attribute');
      this.string(name);
      this.value(value);
    }
  }
}

/** Canonical bytes of an item (a fresh copy). */
export function canonicalItemBytes(item: AttributeMapWire): Buffer {
  const w = new CanonicalWriter();
  w.map(item);
  return Buffer.from(w.bytes());
}

export interface ItemDigest {
  /** Canonical bytes of the primary key (the key attributes as a map): identifies the item. */
  readonly keyBytes: Buffer;
  /** First 32 bits of SHA-256(keyBytes): the bucket is this modulo the bucket count. */
  readonly keyHash: number;
  /** SHA-256(keyBytes ‖ canonical item): what the bucket digests add up. */
  readonly itemHash: Buffer;
}

/** One-shot SHA-256 (crypto.hash, Node ≥ 20.12: no Hash object per call), else createHash. */
const sha256: (data: Uint8Array) => Buffer =
  typeof cryptoHash === 'function'
    ? (data) => cryptoHash('sha256', data, 'buffer')
    : (data) => createHash('sha256').update(data).digest();
/**
 * The same as a latin1 ('binary') string (one char per byte): a small heap string, where a Buffer per hash
 * would be a backing store outside the heap (it showed in verify's peak RSS: docs/performance.md).
 */
const sha256Latin1: (data: Uint8Array) => string =
  typeof cryptoHash === 'function'
    ? (data) => cryptoHash('sha256', data, 'binary')
    : (data) => createHash('sha256').update(data).digest('binary');

/**
 * Digests items of one key schema. One writer reused across items (not re-entrant: one per
 * concurrent user is not needed — every call completes synchronously). The key's canonical bytes
 * and the item's are written back to back, so SHA-256(keyBytes ‖ canonical item) is one call over
 * one buffer.
 */
export class ItemDigester {
  private readonly writer = new CanonicalWriter();
  private readonly keyNames: readonly string[];

  constructor(keySchema: KeySchema) {
    this.keyNames = keyAttributeNames(keySchema);
  }

  keyBytes(item: AttributeMapWire): Buffer {
    this.writer.reset();
    this.writer.mapOf(item, this.keyNames);
    return Buffer.from(this.writer.bytes());
  }

  /** Writes keyBytes ‖ canonical item into the writer; returns the length of keyBytes. */
  private write(item: AttributeMapWire): number {
    const w = this.writer;
    w.reset();
    w.mapOf(item, this.keyNames);
    const keyLength = w.length;
    w.map(item);
    return keyLength;
  }

  digest(item: AttributeMapWire): ItemDigest {
    const keyLength = this.write(item);
    const all = this.writer.bytes();
    const keyBytes = Buffer.from(all.subarray(0, keyLength));
    return { keyBytes, keyHash: sha256(keyBytes).readUInt32BE(0), itemHash: sha256(all) };
  }

  /** Adds the item's digest to its bucket in `digests`: digest() without the objects it returns. */
  addTo(digests: BucketDigests, item: AttributeMapWire): void {
    const keyLength = this.write(item);
    const all = this.writer.bytes();
    const keyHash = sha256Latin1(all.subarray(0, keyLength));
    const bucketOf = ((keyHash.charCodeAt(0) << 24) | (keyHash.charCodeAt(1) << 16) | (keyHash.charCodeAt(2) << 8) | keyHash.charCodeAt(3)) >>> 0;
    digests.addHash(bucketOf, sha256Latin1(all));
  }
}

/**
 * Per-bucket digests: the sum mod 2^256 of the item hashes (as big-endian integers) that fell into
 * each bucket. A sum is order-independent like XOR, but two copies of one item do not cancel out.
 * Memory: 32 bytes per bucket, whatever the table size.
 */
export class BucketDigests {
  /** 8 big-endian 32-bit words per bucket, most significant first. */
  private readonly words: Uint32Array;

  constructor(readonly buckets: number) {
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1 << 24) throw new ReplicationError(`bucket count must be an integer from 1 to ${1 << 24}, got ${buckets}`);
    this.words = new Uint32Array(buckets * 8);
  }

  bucketOf(keyHash: number): number {
    return keyHash % this.buckets;
  }

  add(digest: ItemDigest): void {
    this.addHash(digest.keyHash, digest.itemHash);
  }

  /** Adds a 32-byte item hash (big-endian; bytes, or a latin1 string of them) into the bucket of `keyHash`. */
  addHash(keyHash: number, itemHash: Uint8Array | string): void {
    const base = this.bucketOf(keyHash) * 8;
    const words = this.words;
    const at = typeof itemHash === 'string' ? (i: number) => itemHash.charCodeAt(i) : (i: number) => itemHash[i];
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const o = i * 4;
      const word = ((at(o) << 24) | (at(o + 1) << 16) | (at(o + 2) << 8) | at(o + 3)) >>> 0;
      const sum = words[base + i] + word + carry;
      words[base + i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }

  /** The bucket's digest as 64 hex digits (big-endian), as the Python implementation prints it. */
  hex(bucket: number): string {
    let out = '';
    for (let i = 0; i < 8; i++) out += this.words[bucket * 8 + i].toString(16).padStart(8, '0');
    return out;
  }

  /** Buckets whose digests differ between this and `other` (same bucket count). */
  mismatching(other: BucketDigests): number[] {
    if (other.buckets !== this.buckets) throw new ReplicationError('bucket counts differ');
    const out: number[] = [];
    for (let b = 0; b < this.buckets; b++) {
      for (let i = 0; i < 8; i++) {
        if (this.words[b * 8 + i] !== other.words[b * 8 + i]) {
          out.push(b);
          break;
        }
      }
    }
    return out;
  }
}
