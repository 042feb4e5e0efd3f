import { createHash } from 'node:crypto';
import type { AttributeMapWire } from '../../schemas/attribute-value';
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

/**
 * An AttributeValue in either form: wire (B as base64) or SDK v3 (B as bytes, straight from a
 * Scan: verify digests SDK items without converting them when there is no view to apply).
 */
export interface AnyAttributeValue {
  S?: string; N?: string; B?: string | Uint8Array; SS?: string[]; NS?: string[]; BS?: (string | Uint8Array)[];
  M?: Record<string, AnyAttributeValue>; L?: AnyAttributeValue[]; NULL?: boolean; BOOL?: boolean;
}
export type AnyAttributeMap = Record<string, AnyAttributeValue>;

const bytesOf = (b: string | Uint8Array): Uint8Array => (typeof b === 'string' ? Buffer.from(b, 'base64') : b);

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

/** Appends to one growing buffer: one hash update per item instead of one per attribute. */
class CanonicalWriter {
  private buf = Buffer.allocUnsafe(4096);
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
    this.buf.writeUInt32BE(n, this.length);
    this.length += 4;
  }

  chunk(bytes: Uint8Array): void {
    this.u32(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  string(s: string): void {
    // Room for the worst case (3 bytes per UTF-16 unit), then write and patch the length in.
    this.reserve(4 + 3 * s.length);
    const n = this.buf.write(s, this.length + 4, 'utf8');
    this.buf.writeUInt32BE(n, this.length);
    this.length += 4 + n;
  }

  strings(tag: number, values: readonly string[]): void {
    this.byte(tag);
    this.u32(values.length);
    for (const v of [...values].sort(compareCodePoints)) this.string(v);
  }

  value(value: AnyAttributeValue): void {
    if (value.S !== undefined) { this.byte(TAG.S); this.string(value.S); return; }
    if (value.N !== undefined) { this.byte(TAG.N); this.string(canonicalNumber(value.N)); return; }
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
  map(map: AnyAttributeMap, names: readonly string[] = Object.keys(map)): void {
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
export function canonicalItemBytes(item: AttributeMapWire | AnyAttributeMap): Buffer {
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

/**
 * Digests items of one key schema. One writer reused across items (not re-entrant: one per
 * concurrent user is not needed — every call completes synchronously).
 */
export class ItemDigester {
  private readonly writer = new CanonicalWriter();
  private readonly keyNames: readonly string[];

  constructor(keySchema: KeySchema) {
    this.keyNames = keyAttributeNames(keySchema);
  }

  keyBytes(item: AttributeMapWire | AnyAttributeMap): Buffer {
    this.writer.reset();
    this.writer.map(item, this.keyNames);
    return Buffer.from(this.writer.bytes());
  }

  digest(item: AttributeMapWire | AnyAttributeMap): ItemDigest {
    const keyBytes = this.keyBytes(item);
    const keyHash = createHash('sha256').update(keyBytes).digest().readUInt32BE(0);
    this.writer.reset();
    this.writer.map(item);
    const itemHash = createHash('sha256').update(keyBytes).update(this.writer.bytes()).digest();
    return { keyBytes, keyHash, itemHash };
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
    const base = this.bucketOf(digest.keyHash) * 8;
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const sum = this.words[base + i] + digest.itemHash.readUInt32BE(i * 4) + carry;
      this.words[base + i] = sum >>> 0;
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
