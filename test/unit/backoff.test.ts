import fc from 'fast-check';
import { backoffDelay, exponentialBackoff, sleep } from '../../handlers/core/backoff';

describe('exponentialBackoff', () => {
  it('doubles from the base with each retry and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => exponentialBackoff(n, { base: 50, max: 1000 }))).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
  });

  it('reads a retry that is not a positive safe integer as the first, and never overflows past the cap', () => {
    for (const retry of [0, -3, Number.NaN, 1.5]) expect(exponentialBackoff(retry, { base: 2, max: 60 })).toBe(2);
    expect(exponentialBackoff(Number.MAX_SAFE_INTEGER, { base: 2, max: 60 })).toBe(60);
    expect(exponentialBackoff(5000, { base: 1, max: Number.MAX_VALUE })).toBe(Number.MAX_VALUE);
  });
});

describe('backoffDelay', () => {
  it('takes the injected random number as the fraction of the bound (full jitter), in whole ms', () => {
    // Bounds 100, 200, 400, 800 ms (base 100, cap 5 s); half of each.
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 5000, random: () => 0.5 }))).toEqual([50, 100, 200, 400]);
    expect(backoffDelay(1, { baseMs: 50, maxMs: 5000, random: () => 0.999 })).toBe(49);
    expect(backoffDelay(3, { baseMs: 50, maxMs: 5000, random: () => 0 })).toBe(0);
  });

  it('stays in [0, min(cap, base · 2^(n−1))) for every retry and random draw', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 60_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (retry, baseMs, maxMs, r) => {
        const delay = backoffDelay(retry, { baseMs, maxMs, random: () => r });
        let bound = baseMs;
        for (let i = 1; i < retry && bound < maxMs; i += 1) bound *= 2;
        bound = Math.min(bound, maxMs);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(bound);
      },
    ));
  });
});

describe('sleep', () => {
  it('resolves at once when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    // An hour-long sleep that this test would time out on unless the abort ends it.
    await expect(sleep(3_600_000, controller.signal)).resolves.toBeUndefined();
  });

  it('resolves early, without rejecting, when the signal aborts during the wait', async () => {
    const controller = new AbortController();
    const waiting = sleep(3_600_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('resolves after the time without a signal', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
