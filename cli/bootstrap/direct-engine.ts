import { ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { sleep as defaultSleep } from '../../handlers/core/backoff';
import { writeItems, type WriteItemsOptions } from '../../handlers/core/batch-writer';
import { ConfigurationError, messageOfThrown, WriteFailedError } from '../../handlers/core/errors';
import { toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { keyAttributeNames, type KeySchema } from '../../handlers/core/key-schema';
import { compileTargetPolicy, type TargetPolicyConfig } from '../../handlers/core/target-policy';

/**
 * The initial load's algorithm (infra/glue/initial_load.py) in TypeScript, for small tables and
 * local mode (`--engine direct`): parallel Scan segments, items kept as raw AttributeValue maps end
 * to end, written as full-item puts through the shared batch writer (same retry and backoff as the
 * apply handler). Full-item puts make a re-run idempotent. With a target policy, each item is
 * copied as the target's view of it (handlers/core/target-policy.ts, the same function RESYNC and
 * enrichment use): items outside the view are skipped, the others redacted.
 */

/** DynamoDB's TotalSegments limit. */
export const MAX_SEGMENTS = 1_000_000;
/** @default segments when none are given: a few concurrent scans keep DynamoDB Local and small tables busy without throttling them. */
export const DEFAULT_DIRECT_SEGMENTS = 4;
/** Per batch-write chunk: how long its retries may go on before the copy fails. */
const DEFAULT_WRITE_BUDGET_MS = 120_000;

export interface SegmentProgress {
  readonly segment: number;
  scanned: number;
  written: number;
  /** Items outside the target's view (its filter), not copied. */
  skipped: number;
  done: boolean;
}

export interface DirectCopyProgress {
  readonly scanned: number;
  readonly written: number;
  readonly skipped: number;
  readonly segments: readonly SegmentProgress[];
}

export interface DirectCopyOptions {
  readonly sourceClient: DynamoDBClient;
  readonly sourceTableName: string;
  readonly targetClient: DynamoDBClient;
  readonly targetTableName: string;
  /** Key schema of both tables (the writer uses it to match unprocessed items; exclusions must spare it). */
  readonly keySchema: KeySchema;
  /** Parallel Scan segments (1 – 1,000,000). @default DEFAULT_DIRECT_SEGMENTS */
  readonly segments?: number;
  /** Strongly consistent Scan pages (twice the read cost). @default false */
  readonly consistentRead?: boolean;
  /** Scan `Limit` per page. @default none (DynamoDB's 1 MB pages) */
  readonly pageLimit?: number;
  /**
   * Attributes not copied; a key attribute here is a ConfigurationError. `initialLoad.excludeAttributes`
   * predates the target's `redaction.exclude`; both apply (after the view). @default []
   */
  readonly excludeAttributes?: readonly string[];
  /** The target's filter and redaction: each item is copied as the target's view of it. @default every item, as is */
  readonly policy?: TargetPolicyConfig;
  /** Copy-wide cap in items per second; 0 = unlimited. @default 0 */
  readonly writeRateItemsPerSecond?: number;
  /** Called after every written page, with the counts so far (a snapshot; do not keep it across calls). */
  readonly onProgress?: (progress: DirectCopyProgress) => void;
  /**
   * Awaited after every written page, before that segment scans its next one: lets a test write to
   * the source *during* the copy, deterministically, instead of hoping a concurrent writer overlaps it.
   * @default none
   */
  readonly afterPage?: (progress: DirectCopyProgress) => Promise<void>;
  /** Stops the copy between pages: what was read is written first, no page is left half-done. */
  readonly signal?: AbortSignal;
  /** Batch-writer knobs for tests (sleep/random/now) and the per-chunk retry budget. */
  readonly writer?: Partial<Omit<WriteItemsOptions, 'keySchema' | 'deadline'>> & { budgetMs?: number };
  /** @default setTimeout-based; the rate limiter's waits. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface DirectCopyResult extends DirectCopyProgress {
  /** True when `signal` stopped the copy before every segment was done. */
  readonly aborted: boolean;
  /** Attribute values left out by `excludeAttributes` (not counting the redaction's), summed over items. */
  readonly excludedAttributes: number;
  readonly elapsedMs: number;
}

/**
 * Token bucket shared by all segments: average `rate` items/s, bursts of at most one second's worth.
 * Going into debt lets a page larger than the bucket through, paid for by waiting (as the Glue script does).
 */
class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  constructor(private readonly rate: number, private readonly now: () => number, private readonly sleep: (ms: number) => Promise<void>) {
    this.capacity = Math.max(rate, 1);
    this.tokens = this.capacity;
    this.last = now();
  }

  async acquire(count: number): Promise<void> {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= count;
    if (this.tokens < 0) await this.sleep((-this.tokens / this.rate) * 1000);
  }
}

function validate(opts: DirectCopyOptions): { segments: number; excluded: ReadonlySet<string>; rate: number } {
  const segments = opts.segments ?? DEFAULT_DIRECT_SEGMENTS;
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) {
    throw new ConfigurationError(`segments must be an integer from 1 to ${MAX_SEGMENTS}, got ${segments}`);
  }
  const rate = opts.writeRateItemsPerSecond ?? 0;
  if (!Number.isFinite(rate) || rate < 0) throw new ConfigurationError(`writeRateItemsPerSecond must be >= 0 (0 = unlimited), got ${rate}`);
  if (opts.pageLimit !== undefined && (!Number.isInteger(opts.pageLimit) || opts.pageLimit < 1)) {
    throw new ConfigurationError(`pageLimit must be a positive integer, got ${opts.pageLimit}`);
  }
  const excluded = new Set(opts.excludeAttributes ?? []);
  const keys = keyAttributeNames(opts.keySchema).filter((name) => excluded.has(name));
  if (keys.length > 0) throw new ConfigurationError(`excludeAttributes names key attribute(s) ${keys.join(', ')}; key attributes are always copied`);
  return { segments, excluded, rate };
}

/** Copies every item of the source table into the target table; resolves with the counts (also when aborted). */
export async function copyTableDirect(opts: DirectCopyOptions): Promise<DirectCopyResult> {
  const { segments, excluded, rate } = validate(opts);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const started = now();
  const limiter = rate > 0 ? new RateLimiter(rate, now, sleep) : undefined;
  const budgetMs = opts.writer?.budgetMs ?? DEFAULT_WRITE_BUDGET_MS;
  const progress: SegmentProgress[] = Array.from({ length: segments }, (_, segment) => ({ segment, scanned: 0, written: 0, skipped: 0, done: false }));
  const view = opts.policy === undefined ? undefined : compileTargetPolicy(opts.policy, opts.keySchema).view;
  // Items stay raw SDK maps end to end unless a policy has to look at them.
  const viewOf = (item: Record<string, AttributeValue>): Record<string, AttributeValue> | undefined => {
    if (view === undefined) return item;
    const seen = view(toWireAttributeMap(item));
    return seen === undefined ? undefined : toSdkAttributeMap(seen);
  };
  let excludedAttributes = 0;
  const snapshot = (): DirectCopyProgress => {
    const copy = progress.map((p) => ({ ...p }));
    return { scanned: sum(copy, 'scanned'), written: sum(copy, 'written'), skipped: sum(copy, 'skipped'), segments: copy };
  };

  // One failing segment stops the others between pages, so the error is reported promptly.
  const stop = new AbortController();
  const stopped = (): boolean => stop.signal.aborted || opts.signal?.aborted === true;

  const copySegment = async (state: SegmentProgress): Promise<void> => {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      if (stopped()) return;
      const page = await opts.sourceClient.send(new ScanCommand({
        TableName: opts.sourceTableName,
        Segment: state.segment,
        TotalSegments: segments,
        ConsistentRead: opts.consistentRead ?? false,
        ...(opts.pageLimit === undefined ? {} : { Limit: opts.pageLimit }),
        ExclusiveStartKey: startKey,
      }));
      const items = page.Items ?? [];
      state.scanned += items.length;
      const requests: WriteRequest[] = [];
      for (const raw of items) {
        const item = viewOf(raw);
        if (item === undefined) {
          state.skipped += 1;
          continue;
        }
        if (excluded.size === 0) {
          requests.push({ PutRequest: { Item: item } });
          continue;
        }
        const kept = Object.fromEntries(Object.entries(item).filter(([name]) => !excluded.has(name)));
        excludedAttributes += Object.keys(item).length - Object.keys(kept).length;
        requests.push({ PutRequest: { Item: kept } });
      }
      if (requests.length > 0) {
        await limiter?.acquire(requests.length);
        const result = await writeItems(opts.targetClient, opts.targetTableName, requests, {
          ...opts.writer,
          keySchema: opts.keySchema,
          deadline: now() + budgetMs,
        });
        state.written += result.written.length;
        if (result.unprocessed.length > 0) {
          const cause = result.failures[0]?.cause;
          const why = cause === undefined
            ? `still throttled after ${result.attempts} BatchWriteItem calls within ${budgetMs} ms; raise the target table's capacity or lower the write rate`
            : `failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : messageOfThrown(cause)}`;
          throw new WriteFailedError(`segment ${state.segment}: ${result.unprocessed.length} of ${requests.length} items for ${opts.targetTableName} ${why}`, { cause });
        }
      }
      opts.onProgress?.(snapshot());
      if (opts.afterPage !== undefined) await opts.afterPage(snapshot());
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    state.done = true;
  };

  const outcomes = await Promise.allSettled(progress.map((state) => copySegment(state).catch((error: unknown) => {
    stop.abort();
    throw error;
  })));
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed.length > 0) {
    const done = snapshot();
    const first = failed[0].reason as unknown;
    throw new WriteFailedError(
      `the direct copy failed after writing ${done.written} of ${done.scanned} items scanned (${failed.length} of ${segments} segments failed): ${first instanceof Error ? first.message : String(first)}`,
      { cause: first },
    );
  }
  const done = snapshot();
  return { ...done, aborted: done.segments.some((s) => !s.done), excludedAttributes, elapsedMs: now() - started };
}

function sum(items: readonly SegmentProgress[], field: 'scanned' | 'written' | 'skipped'): number {
  return items.reduce((total, item) => total + item[field], 0);
}
