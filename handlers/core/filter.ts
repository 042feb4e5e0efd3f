import type { DynamoDBRecord } from 'aws-lambda';
import { STREAM_EVENT_NAMES, type TargetFilter } from '../../schemas/replication-config';
import type { KeySchema } from './key-schema';

/**
 * One typed filter, two compiled forms that must agree (test/unit/filter.test.ts proves it on the
 * fixtures): an EventBridge Pipes filter pattern for the real pipe, and a predicate for the local
 * pipe emulator and for queues attached to another target's pipe.
 *
 * TTL deletes carry `userIdentity.principalId = dynamodb.amazonaws.com`; user writes carry no
 * userIdentity at all, so "skip TTL deletes" is `principalId exists: false` — an `anything-but`
 * alone would also drop every user write, which has no such field.
 */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com' as const;

export type PipesFilterPattern = Record<string, unknown>;

export function isTtlDelete(record: Pick<DynamoDBRecord, 'eventName' | 'userIdentity'>): boolean {
  return record.eventName === 'REMOVE' && record.userIdentity?.principalId === TTL_PRINCIPAL;
}

/** The Pipes filter pattern, or undefined when the filter keeps every record (no FilterCriteria at all). */
export function toPipesFilterPattern(filter: TargetFilter, keySchema: KeySchema): PipesFilterPattern | undefined {
  const pattern: PipesFilterPattern = {};
  if (!STREAM_EVENT_NAMES.every((name) => filter.eventNames.includes(name))) {
    pattern.eventName = [...filter.eventNames];
  }
  if (!filter.replicateTtlDeletes && filter.eventNames.includes('REMOVE')) {
    pattern.userIdentity = { principalId: [{ exists: false }] };
  }
  if (filter.partitionKeyPrefixes.length > 0) {
    pattern.dynamodb = {
      Keys: { [keySchema.partitionKey.name]: { S: filter.partitionKeyPrefixes.map((prefix) => ({ prefix })) } },
    };
  }
  return Object.keys(pattern).length === 0 ? undefined : pattern;
}

export type RecordPredicate = (record: DynamoDBRecord) => boolean;

export function compileFilterPredicate(filter: TargetFilter, keySchema: KeySchema): RecordPredicate {
  const eventNames = new Set<string>(filter.eventNames);
  const skipTtl = !filter.replicateTtlDeletes && eventNames.has('REMOVE');
  const prefixes = filter.partitionKeyPrefixes;
  const pkName = keySchema.partitionKey.name;
  return (record) => {
    if (record.eventName === undefined || !eventNames.has(record.eventName)) return false;
    if (skipTtl && record.userIdentity?.principalId !== undefined) return false;
    if (prefixes.length > 0) {
      const pk = record.dynamodb?.Keys?.[pkName]?.S;
      if (pk === undefined || !prefixes.some((prefix) => pk.startsWith(prefix))) return false;
    }
    return true;
  };
}
