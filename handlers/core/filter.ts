import type { DynamoDBRecord } from 'aws-lambda';
import { STREAM_EVENT_NAMES, type AttributeCondition, type TargetFilter } from '../../schemas/replication-config';
import type { KeySchema } from './key-schema';

/**
 * One typed filter, two compiled forms that must agree (test/unit/filter.test.ts proves it on the
 * fixtures): EventBridge Pipes filter patterns for a real pipe, and a predicate for the local pipe
 * emulator and for every target in enrichment (attached queues see only what the owner's pipe lets
 * through, so enrichment filters per target — docs/fan-out.md).
 *
 * TTL deletes carry `userIdentity.principalId = dynamodb.amazonaws.com`; user writes carry no
 * userIdentity at all, so "skip TTL deletes" is `principalId exists: false` — an `anything-but`
 * alone would also drop every user write, which has no such field.
 *
 * Attribute conditions are tested on NewImage for INSERT/MODIFY and on OldImage for REMOVE. Pipes
 * patterns cannot say "NewImage for these events, OldImage for that one" in one pattern without
 * `$or`, so the compiled form is up to two patterns in FilterCriteria.Filters, which Pipes ORs
 * ("Event filtering in Amazon EventBridge Pipes": a record passes if it matches any filter).
 */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com' as const;

export type PipesFilterPattern = Record<string, unknown>;

/** FilterCriteria.Filters holds at most 5 patterns of at most 4096 characters (Pipes API reference, FilterCriteria / Filter). */
export const PIPES_MAX_FILTERS = 5 as const;
export const PIPES_MAX_PATTERN_LENGTH = 4096 as const;

export function isTtlDelete(record: Pick<DynamoDBRecord, 'eventName' | 'userIdentity'>): boolean {
  return record.eventName === 'REMOVE' && record.userIdentity?.principalId === TTL_PRINCIPAL;
}

function conditionsPattern(conditions: readonly AttributeCondition[]): Record<string, unknown> {
  return Object.fromEntries(conditions.map((c) => {
    const type = Object.keys(c.anyOf[0] as object)[0] as 'S' | 'N' | 'BOOL';
    return [c.attribute, { [type]: c.anyOf.map((v) => (v as Record<string, unknown>)[type]) }];
  }));
}

/**
 * The Pipes filter patterns (ORed), or undefined when the filter keeps every record (no
 * FilterCriteria at all). A filter without attribute conditions compiles to one pattern.
 */
export function toPipesFilterPatterns(filter: TargetFilter, keySchema: KeySchema): PipesFilterPattern[] | undefined {
  const names = new Set<string>(filter.eventNames);
  const skipTtl = !filter.replicateTtlDeletes && names.has('REMOVE');
  const keys = filter.partitionKeyPrefixes.length > 0
    ? { Keys: { [keySchema.partitionKey.name]: { S: filter.partitionKeyPrefixes.map((prefix) => ({ prefix })) } } }
    : {};
  const conditions = filter.attributeEquals ?? [];
  if (conditions.length === 0) {
    const pattern: PipesFilterPattern = {};
    if (!STREAM_EVENT_NAMES.every((name) => names.has(name))) pattern.eventName = [...filter.eventNames];
    if (skipTtl) pattern.userIdentity = { principalId: [{ exists: false }] };
    if (filter.partitionKeyPrefixes.length > 0) pattern.dynamodb = keys;
    return Object.keys(pattern).length === 0 ? undefined : [pattern];
  }
  const patterns: PipesFilterPattern[] = [];
  const onNewImage = STREAM_EVENT_NAMES.filter((n) => n !== 'REMOVE' && names.has(n));
  if (onNewImage.length > 0) patterns.push({ eventName: onNewImage, dynamodb: { ...keys, NewImage: conditionsPattern(conditions) } });
  const onOldImage = STREAM_EVENT_NAMES.filter((n) => names.has('REMOVE') && (n === 'REMOVE' || (n === 'MODIFY' && names.has('MODIFY'))));
  if (onOldImage.length > 0) {
    patterns.push({
      eventName: onOldImage,
      // MODIFY never carries userIdentity, so this only ever drops TTL REMOVEs.
      ...(skipTtl ? { userIdentity: { principalId: [{ exists: false }] } } : {}),
      dynamodb: { ...keys, OldImage: conditionsPattern(conditions) },
    });
  }
  return patterns;
}

/**
 * The patterns of several targets sharing one pipe, ORed: undefined (no filter) when any target
 * keeps everything or when Pipes' limits would be exceeded — the pipe filter only saves
 * invocations; enrichment filters every target with its predicate anyway.
 */
export function unionPipesFilterPatterns(perTarget: readonly (PipesFilterPattern[] | undefined)[]): PipesFilterPattern[] | undefined {
  if (perTarget.some((p) => p === undefined)) return undefined;
  const seen = new Set<string>();
  const union: PipesFilterPattern[] = [];
  for (const pattern of perTarget.flatMap((p) => p ?? [])) {
    const text = JSON.stringify(pattern);
    if (text.length > PIPES_MAX_PATTERN_LENGTH) return undefined;
    if (!seen.has(text)) union.push(pattern);
    seen.add(text);
  }
  return union.length > PIPES_MAX_FILTERS ? undefined : union;
}

export type RecordPredicate = (record: DynamoDBRecord) => boolean;

type Image = NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];

function imageMatches(image: Image, conditions: readonly AttributeCondition[]): boolean {
  if (image === undefined) return false;
  return conditions.every((c) => {
    const actual = image[c.attribute] as Record<string, unknown> | undefined;
    if (actual === undefined) return false;
    return c.anyOf.some((v) => {
      const [type, expected] = Object.entries(v)[0] as [string, unknown];
      return type in actual && actual[type] === expected;
    });
  });
}

/**
 * What enrichment does with a record for one target: skip it, forward it as its own change, or — a
 * MODIFY whose old image matched the attribute conditions and whose new image does not — delete the
 * item from the target, because it left the target's view.
 */
export type FilterDecision = 'skip' | 'forward' | 'leave-view';

export function compileFilterDecision(filter: TargetFilter, keySchema: KeySchema): (record: DynamoDBRecord) => FilterDecision {
  const eventNames = new Set<string>(filter.eventNames);
  const skipTtl = !filter.replicateTtlDeletes && eventNames.has('REMOVE');
  const prefixes = filter.partitionKeyPrefixes;
  const pkName = keySchema.partitionKey.name;
  const conditions = filter.attributeEquals ?? [];
  return (record) => {
    if (record.eventName === undefined || !eventNames.has(record.eventName)) return 'skip';
    if (skipTtl && record.userIdentity?.principalId !== undefined) return 'skip';
    if (prefixes.length > 0) {
      const pk = record.dynamodb?.Keys?.[pkName]?.S;
      if (pk === undefined || !prefixes.some((prefix) => pk.startsWith(prefix))) return 'skip';
    }
    if (conditions.length === 0) return 'forward';
    switch (record.eventName) {
      case 'INSERT':
        return imageMatches(record.dynamodb?.NewImage, conditions) ? 'forward' : 'skip';
      case 'REMOVE':
        return imageMatches(record.dynamodb?.OldImage, conditions) ? 'forward' : 'skip';
      default:
        if (imageMatches(record.dynamodb?.NewImage, conditions)) return 'forward';
        return eventNames.has('REMOVE') && imageMatches(record.dynamodb?.OldImage, conditions) ? 'leave-view' : 'skip';
    }
  };
}

/** True when the record reaches this target's enrichment at all — exactly what the Pipes patterns let through. */
export function compileFilterPredicate(filter: TargetFilter, keySchema: KeySchema): RecordPredicate {
  const decide = compileFilterDecision(filter, keySchema);
  return (record) => decide(record) !== 'skip';
}
