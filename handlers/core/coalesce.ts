import type { AttributeMapWire } from '../../schemas/attribute-value';
import { canonicalKey } from './attribute-value';

export interface CoalesceResult<T> {
  /** The last change per item key, in the order of their last occurrence. */
  survivors: T[];
  /** Changes dropped because a later change to the same item followed in the batch. */
  coalesced: number;
  /** Canonical item key → the surviving change for that key. */
  survivorByKey: Map<string, T>;
}

/**
 * Keeps the last change per item key (partition + sort key, canonical encoding). Changes must be
 * given in queue order; every change is a full image, a delete or a resync, so the last one alone
 * determines the item's final state and one BatchWriteItem request per key is enough (DynamoDB
 * rejects a batch naming a key twice).
 */
export function coalesceChanges<T extends { keys: AttributeMapWire }>(changes: readonly T[]): CoalesceResult<T> {
  const survivorByKey = new Map<string, T>();
  for (const change of changes) {
    const key = canonicalKey(change.keys);
    // Delete first so that Map iteration order follows the last occurrence.
    survivorByKey.delete(key);
    survivorByKey.set(key, change);
  }
  return { survivors: [...survivorByKey.values()], coalesced: changes.length - survivorByKey.size, survivorByKey };
}
