import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep as defaultSleep } from './backoff';
import { canonicalKey, ownValue, setOwn, toWireAttributeMap } from './attribute-value';
import { ReplicationError } from './errors';
import { keyAttributeNames, type KeySchema } from './key-schema';

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_MAX_ITEMS = 25;

export interface WriteItemsOptions {
  /** Key schema of the table written to: identifies the requests DynamoDB hands back as unprocessed. */
  keySchema: KeySchema;
  /** Epoch ms after which no call is started and no backoff sleeps past. */
  deadline: number;
  /** BatchWriteItem calls per chunk, first one included. @default 10 */
  maxAttempts?: number;
  /** @default 50 */
  baseDelayMs?: number;
  /** @default 5000 */
  maxDelayMs?: number;
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1). @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
}

export interface WriteChunkFailure {
  requests: WriteRequest[];
  /** The non-retryable error (e.g. ValidationException) that failed these requests. */
  cause: unknown;
}

export interface WriteItemsResult {
  /** Requests DynamoDB accepted (the given objects). */
  written: WriteRequest[];
  /** Every request not written — throttled past the budget or attempts, or failed; written ∪ unprocessed = input. */
  unprocessed: WriteRequest[];
  /** The subset of `unprocessed` that failed with a non-retryable error, with the error. */
  failures: WriteChunkFailure[];
  /** BatchWriteItem calls made. */
  attempts: number;
  /** Calls that were throttled or returned UnprocessedItems. */
  throttles: number;
}

const RETRYABLE_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

export function isRetryableWriteError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name } = error as { name?: unknown };
  if (typeof name === 'string' && RETRYABLE_ERRORS.has(name)) return true;
  return (httpStatusOf(error) ?? 0) >= 500;
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function requestKey(request: WriteRequest, names: readonly string[]): string {
  const source = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
  if (source === undefined) throw new ReplicationError('a WriteRequest holds neither PutRequest.Item nor DeleteRequest.Key');
  const key: Record<string, NonNullable<typeof source>[string]> = {};
  for (const name of names) {
    const value = ownValue(source, name);
    if (value === undefined) throw new ReplicationError(`a WriteRequest lacks key attribute "${name}"`);
    setOwn(key, name, value);
  }
  return canonicalKey(toWireAttributeMap(key));
}

/**
 * Writes puts and deletes with BatchWriteItem in chunks of 25, retrying UnprocessedItems and
 * throttling/5xx errors with exponential backoff and full jitter ("Exponential Backoff And
 * Jitter", AWS Architecture Blog: sleep = random(0, min(cap, base · 2^attempt))), until the
 * deadline. It never loses a request: each one ends in `written` or `unprocessed`. Each key may
 * appear at most once across `requests` (DynamoDB rejects duplicates in one batch, and the caller
 * coalesces anyway).
 */
export async function writeItems(client: DynamoDBClient, tableName: string, requests: readonly WriteRequest[], opts: WriteItemsOptions): Promise<WriteItemsResult> {
  const maxAttempts = opts.maxAttempts ?? 10;
  const baseDelayMs = opts.baseDelayMs ?? 50;
  const maxDelayMs = opts.maxDelayMs ?? 5000;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const names = keyAttributeNames(opts.keySchema);

  const result: WriteItemsResult = { written: [], unprocessed: [], failures: [], attempts: 0, throttles: 0 };
  const chunks: WriteRequest[][] = [];
  for (let start = 0; start < requests.length; start += BATCH_WRITE_MAX_ITEMS) chunks.push(requests.slice(start, start + BATCH_WRITE_MAX_ITEMS));
  for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        const delay = backoffDelay(attempt, { baseMs: baseDelayMs, maxMs: maxDelayMs, random });
        if (attempt >= maxAttempts || now() + delay >= opts.deadline) break;
        await sleep(delay);
      } else if (now() >= opts.deadline) {
        break;
      }
      result.attempts++;
      let returned: WriteRequest[];
      try {
        const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
        returned = response.UnprocessedItems?.[tableName] ?? [];
      } catch (error) {
        if (isRetryableWriteError(error)) {
          result.throttles++;
          continue;
        }
        if (pending.length > 1 && httpStatusOf(error) === 400) {
          // One bad request (an item over 400 KB, a wrong key type) makes DynamoDB reject the whole
          // call with a 400: retry each alone, so that only it fails, not the other groups' changes
          // with it. (Errors without a response, e.g. network, are not split: the SDK retried them.)
          chunks.unshift(...pending.map((request) => [request]));
          pending = [];
          break;
        }
        result.failures.push({ requests: pending, cause: error });
        break;
      }
      // DynamoDB hands back copies; find our own request objects again by key.
      const unprocessedKeys = new Set(returned.map((request) => requestKey(request, names)));
      const stillPending: WriteRequest[] = [];
      for (const request of pending) {
        (unprocessedKeys.has(requestKey(request, names)) ? stillPending : result.written).push(request);
      }
      if (stillPending.length > 0) result.throttles++;
      pending = stillPending;
    }
    result.unprocessed.push(...pending);
  }
  return result;
}
