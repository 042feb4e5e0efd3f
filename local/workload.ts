import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { canonicalKey, setOwn, toSdkAttributeMap, toSdkAttributeValue } from '../handlers/core/attribute-value';
import { ReplicationError } from '../handlers/core/errors';
import { keyAttributeNames, type KeySchema } from '../handlers/core/key-schema';
import type { AttributeMapWire } from '../schemas/attribute-value';
import { mulberry32 } from './faults';
import { opKey, type WorkloadOp } from './input';
import { backoffDelay, sleep } from '../handlers/core/backoff';

/**
 * The workload driver of local mode: writes seed items and ops to the *source* table with the
 * session's plain client, like an application would, and tells the session when it wrote each key
 * (lag is measured from these times — DynamoDB Local truncates the stream's creation time to the
 * minute, docs/architecture.md#emulator-facts). Ops on one key are written strictly in order; different keys run
 * concurrently on a few lanes, chosen by hashing the canonical key.
 */

/** What the driver needs from a LocalSession (a subset, so tests and benchmarks can pass their own). */
export interface WorkloadSink {
  readonly sourceClient: DynamoDBClient;
  readonly sourceTableName: string;
  noteWrite(keys: AttributeMapWire, atMs: number): void;
}

export interface DriverOptions {
  keySchema: KeySchema;
  /** Concurrent lanes. @default 8 */
  concurrency?: number;
  /** Called after every completed write (or batch of seed items) with the number of items written. */
  onWritten?: (count: number) => void;
  /** Stops between chunks; the driver then throws an AbortError-like ReplicationError. */
  signal?: AbortSignal;
  /** Where an op comes from ("ops.jsonl:12"), for the error when the table refuses it. @default its position */
  locate?: (op: WorkloadOp) => string | undefined;
}

/** A write of the driver that DynamoDB refused; names the op by its position, never by its values. */
export class WorkloadWriteError extends ReplicationError {
  override readonly name: string = 'WorkloadWriteError';
}

const DEFAULT_LANES = 8;
/** Ops read ahead per round; each round completes before the next starts, which keeps per-key order across rounds. */
const OPS_PER_LANE_PER_ROUND = 32;
const BATCH_WRITE_MAX = 25;

type Source<T> = AsyncIterable<T> | Iterable<T>;

/** Applies `ops` to the source table in order per key. Returns the number of ops written. */
export async function applyOps(sink: WorkloadSink, ops: Source<WorkloadOp>, opts: DriverOptions): Promise<number> {
  const lanes = opts.concurrency ?? DEFAULT_LANES;
  let index = 0;
  return runInRounds(ops, lanes, opts, (op) => opKey(op, opts.keySchema), async (laneOps) => {
    for (const op of laneOps) {
      const position = index++;
      await writeOp(sink, op, opts.keySchema, position, opts.locate?.(op));
      opts.onWritten?.(1);
    }
  });
}

/**
 * Writes seed items with BatchWriteItem (25 per request, UnprocessedItems retried). These are
 * written before replication starts, so they are not noted for lag. A key that appears twice is
 * written in file order: a batch is flushed before it would hold a key twice (DynamoDB rejects that).
 */
export async function writeSeedItems(sink: WorkloadSink, items: Source<AttributeMapWire>, opts: DriverOptions): Promise<number> {
  const lanes = opts.concurrency ?? DEFAULT_LANES;
  return runInRounds(items, lanes, opts, (item) => keyOf(item, opts.keySchema), async (laneItems) => {
    let batch: WriteRequest[] = [];
    let keys = new Set<string>();
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await batchWrite(sink, batch);
      opts.onWritten?.(batch.length);
      batch = [];
      keys = new Set();
    };
    for (const item of laneItems) {
      const key = canonicalKey(keyOf(item, opts.keySchema));
      if (keys.has(key) || batch.length === BATCH_WRITE_MAX) await flush();
      batch.push({ PutRequest: { Item: toSdkAttributeMap(item) } });
      keys.add(key);
    }
    await flush();
  });
}

async function runInRounds<T>(
  source: Source<T>,
  lanes: number,
  opts: DriverOptions,
  keyFor: (value: T) => AttributeMapWire,
  runLane: (values: T[]) => Promise<void>,
): Promise<number> {
  const roundSize = lanes * OPS_PER_LANE_PER_ROUND;
  let round: T[] = [];
  let total = 0;
  const flush = async (): Promise<void> => {
    const byLane: T[][] = Array.from({ length: lanes }, () => []);
    for (const value of round) byLane[laneOf(canonicalKey(keyFor(value)), lanes)].push(value);
    await Promise.all(byLane.filter((values) => values.length > 0).map(runLane));
    total += round.length;
    round = [];
  };
  for await (const value of source) {
    round.push(value);
    if (round.length >= roundSize) {
      checkAborted(opts.signal);
      await flush();
    }
  }
  checkAborted(opts.signal);
  await flush();
  return total;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new ReplicationError('workload interrupted', { cause: signal.reason });
}

/** FNV-1a of the canonical key: stable lane per key. */
function laneOf(canonical: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) {
    hash ^= canonical.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % lanes;
}

function keyOf(item: AttributeMapWire, keySchema: KeySchema): AttributeMapWire {
  const key: AttributeMapWire = {};
  for (const name of keyAttributeNames(keySchema)) setOwn(key, name, item[name]);
  return key;
}

/** Writes one op. Exported for tests that drive writes one by one. */
export async function writeOp(sink: WorkloadSink, op: WorkloadOp, keySchema: KeySchema, position = 0, location?: string): Promise<void> {
  const key = opKey(op, keySchema);
  // Noted just before the request: the stream record cannot exist earlier, so lag is never negative.
  sink.noteWrite(key, Date.now());
  try {
    await send(sink, op);
  } catch (cause) {
    // Some refusals only the table can make (an update growing an item past 400 KB): name the line.
    const where = location === undefined ? `op #${position + 1} (${op.op})` : `${location}: the ${op.op} op`;
    throw new WorkloadWriteError(`${where} was rejected by the source table: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function send(sink: WorkloadSink, op: WorkloadOp): Promise<void> {
  const TableName = sink.sourceTableName;
  switch (op.op) {
    case 'put':
      await sink.sourceClient.send(new PutItemCommand({ TableName, Item: toSdkAttributeMap(op.item) }));
      return;
    case 'delete':
      await sink.sourceClient.send(new DeleteItemCommand({ TableName, Key: toSdkAttributeMap(op.key) }));
      return;
    case 'update':
      await sink.sourceClient.send(new UpdateItemCommand({ TableName, Key: toSdkAttributeMap(op.key), ...updateExpression(op.set, op.remove) }));
      return;
  }
}

/**
 * SET/REMOVE of top-level attributes. Every name goes through ExpressionAttributeNames, so reserved
 * words, dots and unicode in names are taken literally; values pass through raw.
 */
export function updateExpression(set: AttributeMapWire, remove: string[]): Pick<UpdateItemCommand['input'], 'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  const names: Record<string, string> = {};
  const values: NonNullable<UpdateItemCommand['input']['ExpressionAttributeValues']> = {};
  const setClauses = Object.entries(set).map(([name, value], i) => {
    names[`#s${i}`] = name;
    values[`:s${i}`] = toSdkAttributeValue(value);
    return `#s${i} = :s${i}`;
  });
  const removeClauses = remove.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  const clauses = [setClauses.length > 0 ? `SET ${setClauses.join(', ')}` : '', removeClauses.length > 0 ? `REMOVE ${removeClauses.join(', ')}` : ''].filter((c) => c !== '');
  // No expression at all is valid UpdateItem: it creates the item with its key attributes only.
  if (clauses.length === 0) return {};
  return {
    UpdateExpression: clauses.join(' '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

/** Retry n of a seed batch waits up to min(1 s, 50 ms · 2^(n−1)), full jitter. */
const SEED_BACKOFF = { baseMs: 50, maxMs: 1000 } as const;

async function batchWrite(sink: WorkloadSink, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      if (attempt > 8) throw new WorkloadWriteError(`${pending.length} seed item(s) stayed unprocessed after ${attempt} attempts`);
      await sleep(backoffDelay(attempt, SEED_BACKOFF));
    }
    let unprocessed: WriteRequest[] | undefined;
    try {
      const out = await sink.sourceClient.send(new BatchWriteItemCommand({ RequestItems: { [sink.sourceTableName]: pending } }));
      unprocessed = out.UnprocessedItems?.[sink.sourceTableName];
    } catch (cause) {
      throw new WorkloadWriteError(`writing seed items was rejected by the source table: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    pending = unprocessed ?? [];
  }
}

// ---------------------------------------------------------------------------------------------
// The demo workload (`ddb-replicate local --demo`)
// ---------------------------------------------------------------------------------------------

export const DEMO_KEY_SCHEMA: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

export interface DemoWorkloadOptions {
  seed: number;
  /** @default 3000 */
  seedItems?: number;
  /** @default 4000 */
  ops?: number;
  /** Items of ~350 KB among the ops; they travel as RESYNC (over the envelope size threshold). @default 4 */
  largeItems?: number;
  /** Epoch ms used for the `ttl` attribute. @default Date.now() */
  nowMs?: number;
}

export interface DemoWorkload {
  keySchema: KeySchema;
  seedItems: AttributeMapWire[];
  ops: WorkloadOp[];
  /** What the ops do, for the summary. */
  mix: { puts: number; updates: number; deletes: number; ttlDeletes: number; largeItems: number; hotKeyOps: number };
}

const PARTITIONS = 300;
const HOT_KEYS = 5;
const LARGE_ITEM_BYTES = 350 * 1024;

/**
 * A few thousand seed items (some already expired by their `ttl` attribute), then a mixed workload:
 * puts, updates (SET and REMOVE), deletes, TTL-style deletes of the expired items (done by the
 * driver, as DynamoDB Local's own TTL sweep takes about a second per item and cannot be paced), a
 * few ~350 KB items and a handful of hot keys that take a fifth of all writes.
 *
 * Every op changes its item: DynamoDB writes no stream record for a write that changes nothing
 * (e.g. deleting an absent item), and the lag measurement pairs each record with a noted write.
 */
export function demoWorkload(opts: DemoWorkloadOptions): DemoWorkload {
  // Seeded, so a demo run with the same --seed writes the same data.
  const random = mulberry32(opts.seed);
  const nowSeconds = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  const seedCount = opts.seedItems ?? 3000;
  const opCount = opts.ops ?? 4000;
  const largeCount = opts.largeItems ?? 4;
  const below = (n: number): number => Math.floor(random() * n);
  const key = (p: number, s: number): AttributeMapWire => ({ pk: { S: `customer#${p}` }, sk: { N: String(s) } });
  const live = new LiveKeys();

  const expired: AttributeMapWire[] = [];
  const seedItems: AttributeMapWire[] = [];
  for (let i = 0; i < seedCount; i++) {
    const k = key(i % PARTITIONS, Math.floor(i / PARTITIONS));
    const isExpired = random() < 0.05;
    seedItems.push(demoItem(k, random, isExpired ? nowSeconds - 3600 : nowSeconds + 86_400));
    if (isExpired) expired.push(k);
    else live.add(k);
  }

  const mix = { puts: 0, updates: 0, deletes: 0, ttlDeletes: 0, largeItems: 0, hotKeyOps: 0 };
  const hotKeys = Array.from({ length: HOT_KEYS }, (_, i) => key(i * 7, 1_000_000));
  const largeAt = new Set(Array.from({ length: largeCount }, (_, i) => Math.floor(((i + 0.5) * opCount) / Math.max(1, largeCount))));
  const ops: WorkloadOp[] = [];
  for (let i = 0; i < opCount; i++) {
    const roll = random();
    if (largeAt.has(i)) {
      const k = key(below(PARTITIONS), 2_000_000 + i);
      ops.push({ op: 'put', item: { ...k, blob: { B: Buffer.alloc(LARGE_ITEM_BYTES, i % 251).toString('base64') }, kind: { S: 'large' } } });
      mix.largeItems++;
    } else if (roll < 0.2) {
      ops.push({ op: 'update', key: hotKeys[below(HOT_KEYS)], set: { counter: { N: String(i) }, touchedAt: { N: String(nowSeconds) } }, remove: [] });
      mix.hotKeyOps++;
      mix.updates++;
    } else if (roll < 0.5 || live.size === 0) {
      const k = key(below(PARTITIONS), below(20));
      ops.push({ op: 'put', item: demoItem(k, random, nowSeconds + 86_400) });
      live.add(k);
      mix.puts++;
    } else if (roll < 0.8) {
      // `score` is new on every update, so the update always changes the item.
      const remove = random() < 0.3 ? ['tags'] : [];
      const status = ['new', 'active', 'closed', 'résumé ✓'][below(4)];
      ops.push({ op: 'update', key: live.pick(random), set: { status: { S: status }, score: { N: `${i}.${below(100)}` } }, remove });
      mix.updates++;
    } else if (roll < 0.9 && expired.length > 0) {
      ops.push({ op: 'delete', key: expired.pop()! });
      mix.ttlDeletes++;
    } else {
      const k = live.pick(random);
      live.remove(k);
      ops.push({ op: 'delete', key: k });
      mix.deletes++;
    }
  }
  return { keySchema: DEMO_KEY_SCHEMA, seedItems, ops, mix };
}

/** The keys that exist, with O(1) add, remove and random pick. */
class LiveKeys {
  private readonly keys: AttributeMapWire[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  add(key: AttributeMapWire): void {
    const id = canonicalKey(key);
    if (this.index.has(id)) return;
    this.index.set(id, this.keys.length);
    this.keys.push(key);
  }

  remove(key: AttributeMapWire): void {
    const id = canonicalKey(key);
    const at = this.index.get(id);
    if (at === undefined) return;
    const last = this.keys.pop()!;
    this.index.delete(id);
    if (at < this.keys.length) {
      this.keys[at] = last;
      this.index.set(canonicalKey(last), at);
    }
  }

  pick(random: () => number): AttributeMapWire {
    return this.keys[Math.floor(random() * this.keys.length)];
  }
}

function demoItem(key: AttributeMapWire, random: () => number, ttlSeconds: number): AttributeMapWire {
  const n = Math.floor(random() * 1e9);
  return {
    ...key,
    name: { S: `name-${n}` },
    balance: { N: `${n}.${String(n % 100).padStart(2, '0')}` },
    precise: { N: '12345678901234567890123456789012345678' },
    active: { BOOL: random() < 0.5 },
    note: { NULL: true },
    tags: { SS: ['a', `t${n % 7}`] },
    raw: { B: Buffer.from(`bytes-${n}`).toString('base64') },
    address: { M: { city: { S: 'Zürich' }, lines: { L: [{ S: `${n % 100} Main St` }, { N: String(n % 1000) }] } } },
    ttl: { N: String(ttlSeconds) },
  };
}
