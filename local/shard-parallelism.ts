import type { DynamoDBRecord } from 'aws-lambda';

/**
 * ParallelizationFactor for the local pipe: how one shard's records are processed as up to PF
 * concurrent batches. AWS: "You can also increase concurrency by processing multiple batches from
 * each shard in parallel. … EventBridge still ensures in-order processing at the partition key level"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-dynamodb.html). Here the
 * records of a page are split into PF lanes by a hash of their partition key, so one key's records
 * are always in one lane, in stream order; lanes run concurrently, each one batch after another,
 * and the page is done (the shard advances) only when every lane is.
 */

export const PARALLELIZATION_FACTOR_MAX = 10;

/** FNV-1a, 32 bit: a stable, cheap hash (this only spreads keys over lanes; it guards nothing). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The lane key of a stream record: its partition key attribute (wire JSON) when the name is known,
 * else all of its Keys — finer than AWS (item, not partition key), which keeps per-item order all the same.
 */
export function partitionKeyOf(record: DynamoDBRecord, partitionKeyName?: string): string {
  const keys = (record.dynamodb?.Keys ?? {}) as Record<string, unknown>;
  if (partitionKeyName !== undefined && Object.prototype.hasOwnProperty.call(keys, partitionKeyName)) return JSON.stringify(keys[partitionKeyName]);
  return JSON.stringify(Object.keys(keys).sort().map((name) => [name, keys[name]]));
}

/** Splits `records` (in shard order) into `lanes` lists by key hash; each keeps the records' order. */
export function splitByKey<T>(records: readonly T[], lanes: number, keyOf: (record: T) => string): T[][] {
  const out: T[][] = Array.from({ length: lanes }, () => []);
  for (const record of records) out[fnv1a(keyOf(record)) % lanes].push(record);
  return out;
}

export function validateParallelizationFactor(pf: number): number {
  if (!Number.isInteger(pf) || pf < 1 || pf > PARALLELIZATION_FACTOR_MAX) throw new RangeError(`parallelizationFactor must be an integer from 1 to ${PARALLELIZATION_FACTOR_MAX}, got ${pf}`);
  return pf;
}

/**
 * Processes one page of a shard as up to `parallelizationFactor` concurrent lanes of batches of at
 * most `batchSize`. `processBatch` must not resolve before its batch is delivered (the pipe emulator
 * retries a failed batch until it succeeds), so a key's later batch never starts before its earlier one.
 */
export async function processShardPage<T>(
  records: readonly T[],
  opts: { parallelizationFactor: number; batchSize: number; keyOf: (record: T) => string; processBatch: (batch: T[]) => Promise<void> },
): Promise<void> {
  const lanes = opts.parallelizationFactor === 1 ? [[...records]] : splitByKey(records, opts.parallelizationFactor, opts.keyOf);
  await Promise.all(lanes.map(async (lane) => {
    for (let start = 0; start < lane.length; start += opts.batchSize) await opts.processBatch(lane.slice(start, start + opts.batchSize));
  }));
}
