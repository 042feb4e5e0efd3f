/**
 * The one retry-delay and sleep helper of the project (docs/architecture.md#where-each-concern-lives):
 * the batch writer, attached delivery, apply's visibility backoff, the bootstrap and the local
 * workload driver all wait through here, each with its own base and cap.
 */

/** Base and cap of an exponential backoff, in the caller's unit (ms for sleeps, s for visibility). */
export interface ExponentialBackoff {
  /** Delay bound of the first retry. */
  base: number;
  /** Upper bound of every retry. */
  max: number;
}

/**
 * base · 2^(retry − 1), capped at max: the delay bound of the nth retry (1 = the first). A retry
 * that is not a positive safe integer counts as the first.
 */
export function exponentialBackoff(retry: number, { base, max }: ExponentialBackoff): number {
  const n = Number.isSafeInteger(retry) && retry > 1 ? retry : 1;
  // Compare exponents before computing, so a huge retry count cannot overflow to Infinity.
  if (n - 1 >= Math.log2(max / base)) return max;
  return Math.min(max, base * 2 ** (n - 1));
}

export interface JitteredBackoff {
  /** Delay bound of the first retry, in ms. */
  baseMs: number;
  /** Upper bound of every delay, in ms. */
  maxMs: number;
  /** In [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): the nth retry (1 = the
 * first) waits a random whole number of ms in [0, min(maxMs, baseMs · 2^(n−1))).
 */
export function backoffDelay(retry: number, { baseMs, maxMs, random = Math.random }: JitteredBackoff): number {
  return Math.floor(random() * exponentialBackoff(retry, { base: baseMs, max: maxMs }));
}

/**
 * Waits `ms`, or less if `signal` aborts first; never rejects (the caller checks `signal.aborted`).
 * The timer does not keep the process alive past an abort.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
