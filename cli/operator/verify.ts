import { setTimeout as delay } from 'node:timers/promises';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { ReplicationError } from '../../handlers/core/errors';
import { BucketDigests, ItemDigester } from '../../handlers/core/item-digest';
import { keyAttributeNames, type KeySchema } from '../../handlers/core/key-schema';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { awsCall } from '../aws/errors';
import { scanWirePage } from '../aws/wire-scan';
import type { TableRef } from '../targets/types';

/**
 * verify: is the target what the source should give it (the source item in the target's view —
 * filter and redaction — compared with the target item)? Items compare by their canonical digest
 * (handlers/core/item-digest.ts: numbers by exact decimal value, sets and attributes in any order,
 * binary as bytes).
 *
 * Full mode, in memory that does not grow with the table:
 *  1. pass 1 scans both tables at once (parallel Scan segments, consistent reads) and adds each
 *     item's digest into one of `buckets` bucket digests chosen by a hash of its key;
 *  2. pass 2, only if bucket digests differ, re-scans both and keeps the keys (and item hashes) of
 *     the mismatching buckets only, then diffs them key by key;
 *  3. after `settleMs` (time for the pipeline to apply what was in flight), each differing key is
 *     read again from both sides (consistent GetItem): only keys that still differ are reported.
 * Memory: 32 bytes per bucket plus the keys of mismatching buckets. Items are digested as DynamoDB
 * sent them (cli/aws/wire-scan.ts), without the SDK's copy of each.
 *
 * Sample mode reads each source item with probability `sample` and GetItems it from the target;
 * extra items in the target are not checked.
 */
export type DiffKind = 'missing' | 'extra' | 'different';

export interface VerifyDiff {
  readonly kind: DiffKind;
  readonly keys: AttributeMapWire;
  /** Only with showValues: the source item in the target's view, and the target item. */
  readonly source?: AttributeMapWire;
  readonly target?: AttributeMapWire;
}

export interface VerifyOptions {
  readonly source: TableRef;
  readonly target: TableRef;
  readonly keySchema: KeySchema;
  /** The target's view of a source item (compileTargetPolicy(...).view); undefined = outside it. @default every item as is */
  readonly view?: (item: AttributeMapWire) => AttributeMapWire | undefined;
  /** Parallel Scan segments per table. @default 4 */
  readonly segments?: number;
  /**
   * Items per Scan page (Scan Limit; DynamoDB also stops a page at 1 MB). Each segment of each table
   * has a page in flight, and a parsed page of small items takes several times its wire size: with
   * 250 a verify of 200,000 items peaks at 146–160 MB (bench, docs/performance.md), and Scans on
   * DynamoDB Local were faster than with 1 MB pages.
   * @default 250
   */
  readonly pageSize?: number;
  /** Digest buckets. @default 65536 */
  readonly buckets?: number;
  /** Fraction of source items to check (0 < f ≤ 1); undefined = full compare. */
  readonly sample?: number;
  /** How many diffs to keep with details. @default 10 */
  readonly limit?: number;
  readonly showValues?: boolean;
  /**
   * How long to let in-flight changes land before re-reading differing keys; a function is asked
   * only when there is something to re-read (e.g. measure the lag then). @default 0
   */
  readonly settleMs?: number | (() => Promise<number>);
  /** @default timers/promises setTimeout (abortable) */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: VerifyProgress) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface VerifyProgress {
  readonly phase: 'pass 1: digesting' | 'pass 2: narrowing' | 'settling' | 'rechecking' | 'sampling';
  readonly sourceItems: number;
  readonly targetItems: number;
}

export interface VerifyResult {
  readonly mode: 'full' | 'sample';
  readonly sample?: number;
  readonly sourceItems: number;
  /** Target items scanned (full) or read (sample). */
  readonly targetItems: number;
  /** Source items compared (all in full mode). */
  readonly checked: number;
  /** Source items outside the target's view (filtered out): not expected in the target. */
  readonly outOfView: number;
  /** Full mode: bucket count and how many differed in pass 1. */
  readonly buckets?: number;
  readonly mismatchingBuckets?: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** False in sample mode: items only in the target are not looked for. */
  readonly extraChecked: boolean;
  /** The first `limit` differences. */
  readonly diffs: readonly VerifyDiff[];
  /** Every confirmed difference, keys only (for the report and --repair). */
  readonly differences: readonly { readonly kind: DiffKind; readonly keys: AttributeMapWire }[];
  /** Differences from the scans that had gone when re-read (changes in flight). */
  readonly resolvedOnRecheck: number;
  /** The settle time waited before re-reading. */
  readonly settledMs: number;
  readonly interrupted: boolean;
}

/** Concurrent GetItem pairs when re-reading differing keys. */
const RECHECK_CONCURRENCY = 16;
export const DEFAULT_BUCKETS = 65_536;
const DEFAULT_PAGE_SIZE = 250;

/** Ctrl-C during the scan; runVerify turns it into `interrupted: true`. */
class VerifyInterruptedError extends ReplicationError {
  override readonly name: string = 'VerifyInterruptedError';
}

interface Candidate {
  kind: DiffKind;
  keys: AttributeMapWire;
}

export async function runVerify(opts: VerifyOptions): Promise<VerifyResult> {
  const segments = opts.segments ?? 4;
  const scan: ScanSettings = { segments, pageSize: opts.pageSize ?? DEFAULT_PAGE_SIZE, ...(opts.signal === undefined ? {} : { signal: opts.signal }) };
  const view = opts.view ?? ((item: AttributeMapWire) => item);
  const digester = new ItemDigester(opts.keySchema);
  const keyNames = keyAttributeNames(opts.keySchema);
  // The key attributes (S, N or B) of an item.
  const keysOf = (item: AttributeMapWire): AttributeMapWire => {
    const keys: AttributeMapWire = Object.create(null) as AttributeMapWire;
    for (const name of keyNames) Object.defineProperty(keys, name, { value: item[name], enumerable: true, writable: true, configurable: true });
    return keys;
  };
  const hashOf = (item: AttributeMapWire | undefined): string | undefined => (item === undefined ? undefined : digester.digest(item).itemHash.toString('hex'));
  let sourceCount = 0;
  let targetCount = 0;
  let outOfView = 0;
  let phase: VerifyProgress['phase'] = opts.sample === undefined ? 'pass 1: digesting' : 'sampling';
  const progress = (): void => opts.onProgress?.({ phase, sourceItems: sourceCount, targetItems: targetCount });
  const getItem = (table: TableRef, keys: AttributeMapWire): Promise<AttributeMapWire | undefined> =>
    awsCall('dynamodb:GetItem', table.description, () => table.client.send(new GetItemCommand({ TableName: table.tableName, Key: toSdkAttributeMap(keys), ConsistentRead: true })))
      .then((out) => (out.Item === undefined ? undefined : toWireAttributeMap(out.Item)));

  const candidates: Candidate[] = [];
  let buckets: number | undefined;
  let mismatchingBuckets: number | undefined;
  let interrupted = false;
  try {
    if (opts.sample === undefined) {
      buckets = opts.buckets ?? DEFAULT_BUCKETS;
      const sourceDigests = new BucketDigests(buckets);
      const targetDigests = new BucketDigests(buckets);
      await Promise.all([
        scanParallel(opts.source, scan, (item) => {
          sourceCount += 1;
          const inView = view(item);
          if (inView === undefined) outOfView += 1;
          else digester.addTo(sourceDigests, inView);
          progress();
        }),
        scanParallel(opts.target, scan, (item) => {
          targetCount += 1;
          digester.addTo(targetDigests, item);
          progress();
        }),
      ]);
      const mismatching = sourceDigests.mismatching(targetDigests);
      mismatchingBuckets = mismatching.length;
      if (mismatching.length > 0) {
        phase = 'pass 2: narrowing';
        const wanted = new Uint8Array(buckets);
        for (const b of mismatching) wanted[b] = 1;
        // Key bytes (latin1, one char per byte: a valid Map key) → keys and item hash, mismatching buckets only.
        const sourceSide = new Map<string, { keys: AttributeMapWire; hash: string }>();
        const targetSide = new Map<string, { keys: AttributeMapWire; hash: string }>();
        const collect = (side: typeof sourceSide, item: AttributeMapWire): void => {
          const d = digester.digest(item);
          if (wanted[sourceDigests.bucketOf(d.keyHash)] === 1) side.set(d.keyBytes.toString('latin1'), { keys: keysOf(item), hash: d.itemHash.toString('hex') });
        };
        await Promise.all([
          scanParallel(opts.source, scan, (item) => {
            const inView = view(item);
            if (inView !== undefined) collect(sourceSide, inView);
          }),
          scanParallel(opts.target, scan, (item) => collect(targetSide, item)),
        ]);
        for (const [key, s] of sourceSide) {
          const t = targetSide.get(key);
          if (t === undefined) candidates.push({ kind: 'missing', keys: s.keys });
          else if (t.hash !== s.hash) candidates.push({ kind: 'different', keys: s.keys });
        }
        for (const [key, t] of targetSide) if (!sourceSide.has(key)) candidates.push({ kind: 'extra', keys: t.keys });
      }
    } else {
      const fraction = opts.sample;
      const random = opts.random ?? Math.random;
      await scanParallel(opts.source, scan, async (item) => {
        sourceCount += 1;
        if (random() >= fraction) return;
        const inView = view(item);
        if (inView === undefined) {
          outOfView += 1;
          return;
        }
        const keys = keysOf(item);
        const target = await getItem(opts.target, keys);
        targetCount += 1;
        if (target === undefined) candidates.push({ kind: 'missing', keys });
        else if (hashOf(target) !== hashOf(inView)) candidates.push({ kind: 'different', keys });
        progress();
      });
    }
  } catch (error) {
    // After Ctrl-C, a page in flight fails with the SDK's AbortError: part of the interruption.
    if (!(error instanceof VerifyInterruptedError) && opts.signal?.aborted !== true) throw error;
    interrupted = true;
  }

  // Interrupted: no recheck, the findings as they stand (the verdict is incomplete anyway).
  let settledMs = 0;
  const confirmed: (VerifyDiff | undefined)[] = interrupted ? [...candidates] : new Array<VerifyDiff | undefined>(candidates.length);
  if (!interrupted && candidates.length > 0) {
    phase = 'settling';
    progress();
    settledMs = typeof opts.settleMs === 'function' ? await opts.settleMs() : opts.settleMs ?? 0;
    if (settledMs > 0) {
      try {
        await (opts.sleep ?? ((ms, signal) => delay(ms, undefined, signal === undefined ? {} : { signal })))(settledMs, opts.signal);
      } catch (error) {
        if (opts.signal?.aborted !== true) throw error;
      }
    }
    // Ctrl-C while settling: the candidates stay unconfirmed, reported as they stand.
    if (opts.signal?.aborted === true) {
      interrupted = true;
      candidates.forEach((c, i) => (confirmed[i] = c));
    } else {
      phase = 'rechecking';
      progress();
      let next = 0;
      const recheck = async (): Promise<void> => {
        for (let i = next++; i < candidates.length; i = next++) {
          const { keys } = candidates[i];
          const [sourceItem, target] = await Promise.all([getItem(opts.source, keys), getItem(opts.target, keys)]);
          const source = sourceItem === undefined ? undefined : view(sourceItem);
          if (source === undefined && target === undefined) continue;
          if (hashOf(source) === hashOf(target)) continue;
          const kind: DiffKind = source === undefined ? 'extra' : target === undefined ? 'missing' : 'different';
          confirmed[i] = { kind, keys, ...(source === undefined ? {} : { source }), ...(target === undefined ? {} : { target }) };
        }
      };
      await Promise.all(Array.from({ length: RECHECK_CONCURRENCY }, recheck));
    }
  }
  // In scan order, whatever order the rechecks finished in.
  const found = confirmed.filter((d): d is VerifyDiff => d !== undefined);
  const count = (kind: DiffKind): number => found.filter((d) => d.kind === kind).length;
  const limit = opts.limit ?? 10;
  return {
    mode: opts.sample === undefined ? 'full' : 'sample',
    ...(opts.sample === undefined ? {} : { sample: opts.sample }),
    sourceItems: sourceCount,
    targetItems: targetCount,
    checked: opts.sample === undefined ? sourceCount - outOfView : targetCount,
    outOfView,
    ...(buckets === undefined ? {} : { buckets, mismatchingBuckets }),
    missing: count('missing'),
    extra: count('extra'),
    different: count('different'),
    extraChecked: opts.sample === undefined,
    diffs: found.slice(0, limit).map((d) => (opts.showValues === true ? d : { kind: d.kind, keys: d.keys })),
    differences: found.map((d) => ({ kind: d.kind, keys: d.keys })),
    resolvedOnRecheck: interrupted ? 0 : candidates.length - found.length,
    settledMs,
    interrupted,
  };
}

interface ScanSettings {
  segments: number;
  pageSize: number;
  signal?: AbortSignal;
}

/** Scans `table` in `segments` parallel segments (consistent reads), calling `onItem` for each item in wire form (cli/aws/wire-scan.ts). */
async function scanParallel(table: TableRef, { segments, pageSize, signal }: ScanSettings, onItem: (item: AttributeMapWire) => void | Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: segments }, async (_, segment) => {
    let startKey: AttributeMapWire | undefined;
    do {
      if (signal?.aborted === true) throw new VerifyInterruptedError('interrupted');
      const page = await awsCall('dynamodb:Scan', table.description, () => scanWirePage(table.client, {
        TableName: table.tableName, Segment: segment, TotalSegments: segments, ConsistentRead: true, ExclusiveStartKey: startKey, Limit: pageSize,
      }, signal));
      for (const item of page.items) {
        const pending = onItem(item);
        if (pending !== undefined) await pending;
      }
      startKey = page.lastEvaluatedKey;
    } while (startKey !== undefined);
  }));
}
