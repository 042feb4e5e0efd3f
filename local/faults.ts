import { InvalidFaultSpecError } from './errors';

/**
 * Fault injection for local mode: the rates (`--faults apply-throttle=0.1,apply-crash=0.05`) and a
 * seeded PRNG so that a run with the same seed injects the same faults in the same places.
 */
export interface FaultRates {
  /** DynamoDB answers the apply's BatchWriteItem with ProvisionedThroughputExceededException / partial UnprocessedItems. */
  applyThrottle?: number;
  /** The apply's BatchWriteItem is executed, then the connection is cut (write happened, handler sees an error). */
  applyCrash?: number;
  /** The event-source emulator delivers a batch again after success (SQS at-least-once). */
  duplicateDelivery?: number;
  /** The pipe emulator's enrichment call fails; the pipe retries the batch without advancing. */
  enrichFailure?: number;
  /** The pipe emulator injects an undecodable body into the queue (own groupId) at this rate per batch. */
  poisonMessage?: number;
  /** Per op written to the source: a write straight into the target table (wrong value, extra item or deletion; local/target-drift.ts). */
  targetDrift?: number;
}

export const FAULT_NAMES = {
  'apply-throttle': 'applyThrottle',
  'apply-crash': 'applyCrash',
  'duplicate-delivery': 'duplicateDelivery',
  'enrich-failure': 'enrichFailure',
  'poison-message': 'poisonMessage',
  'target-drift': 'targetDrift',
} as const satisfies Record<string, keyof FaultRates>;

type FaultName = keyof typeof FAULT_NAMES;

function isFaultName(name: string): name is FaultName {
  return Object.prototype.hasOwnProperty.call(FAULT_NAMES, name);
}

/** Parses `name=rate[,name=rate…]`; an empty spec means no faults. */
export function parseFaults(spec: string): FaultRates {
  const rates: FaultRates = {};
  const known = Object.keys(FAULT_NAMES).join(', ');
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidFaultSpecError(`--faults: "${part}" is not name=rate (e.g. apply-throttle=0.1); known faults: ${known}`);
    const name = part.slice(0, eq).trim();
    const rawRate = part.slice(eq + 1).trim();
    if (!isFaultName(name)) throw new InvalidFaultSpecError(`--faults: unknown fault "${name}"; known faults: ${known}`);
    const rate = Number(rawRate);
    if (rawRate === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new InvalidFaultSpecError(`--faults: rate of ${name} must be a number from 0 to 1, got "${rawRate}"`);
    }
    const key = FAULT_NAMES[name];
    if (rates[key] !== undefined) throw new InvalidFaultSpecError(`--faults: ${name} is given twice`);
    rates[key] = rate;
  }
  return rates;
}

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Decides, per fault, whether it fires now. Each fault has its own stream derived from the seed, so
 * the decisions for one fault do not shift when another fault's call count changes.
 */
export class FaultInjector {
  private readonly streams = new Map<keyof FaultRates, () => number>();

  constructor(private rates: FaultRates, private readonly seed: number) {}

  /** Changes the rates from now on (e.g. faults for one phase of a run); the random streams continue. */
  setRates(rates: FaultRates): void {
    this.rates = { ...rates };
  }

  rate(fault: keyof FaultRates): number {
    return this.rates[fault] ?? 0;
  }

  /** True when `fault` fires on this occasion. */
  fires(fault: keyof FaultRates): boolean {
    const rate = this.rate(fault);
    if (rate <= 0) return false;
    return this.random(fault) < rate;
  }

  /** A uniform draw in [0,1) from the fault's own stream (e.g. to pick how much of a batch is unprocessed). */
  random(fault: keyof FaultRates): number {
    let stream = this.streams.get(fault);
    if (stream === undefined) {
      const offset = Object.values(FAULT_NAMES).indexOf(fault) + 1;
      stream = mulberry32((this.seed ^ Math.imul(offset, 0x9e3779b9)) >>> 0);
      this.streams.set(fault, stream);
    }
    return stream();
  }
}
