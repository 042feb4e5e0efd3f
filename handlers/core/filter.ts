import type { DynamoDBRecord } from 'aws-lambda';
import type { AttributeCondition, TargetFilter } from '../../schemas/replication-config';
import type { KeySchema } from './key-schema';

/**
 * One typed filter, two compiled forms (test/unit/filter.test.ts holds them together on the
 * fixtures): the exact predicate, applied by the enrichment to every target (the owner and each
 * attached queue — docs/fan-out.md) and by the local pipe emulator; and EventBridge Pipes filter
 * patterns, a superset prefilter that only saves enrichment invocations: every record the predicate
 * keeps matches a pattern.
 *
 * The patterns name fields under `dynamodb` only — key prefixes on `dynamodb.Keys`, attribute
 * conditions on `dynamodb.NewImage` / `dynamodb.OldImage` — because DynamoDB stream sources filter
 * only on the `dynamodb` key (docs/aws-contracts.md). Event names and TTL deletes (`eventName`,
 * `userIdentity`) are therefore filtered in the enrichment, never in the pipe.
 *
 * TTL deletes carry `userIdentity.principalId = dynamodb.amazonaws.com`; user writes carry no
 * userIdentity at all, so the predicate's "skip TTL deletes" tests that the principal is absent.
 *
 * Attribute conditions are tested on NewImage for INSERT/MODIFY and on OldImage for REMOVE (and for
 * a MODIFY that leaves the view). The compiled form is up to two patterns in FilterCriteria.Filters,
 * which Pipes ORs ("Event filtering in Amazon EventBridge Pipes": a record passes if it matches any).
 */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com' as const;

export type PipesFilterPattern = Record<string, unknown>;

/** FilterCriteria.Filters holds at most 5 patterns of at most 4096 characters (Pipes API reference, FilterCriteria / Filter). */
export const PIPES_MAX_FILTERS = 5 as const;
export const PIPES_MAX_PATTERN_LENGTH = 4096 as const;

export function isTtlDelete(record: Pick<DynamoDBRecord, 'eventName' | 'userIdentity'>): boolean {
  return record.eventName === 'REMOVE' && principalIdOf(record) === TTL_PRINCIPAL;
}

/** aws-lambda types `userIdentity` as any; read the one field we need without trusting it. */
function principalIdOf(record: Pick<DynamoDBRecord, 'userIdentity'>): unknown {
  const identity: unknown = record.userIdentity;
  return typeof identity === 'object' && identity !== null ? (identity as { principalId?: unknown }).principalId : undefined;
}

function conditionsPattern(conditions: readonly AttributeCondition[]): Record<string, unknown> {
  return Object.fromEntries(conditions.map((c) => {
    const type = Object.keys(c.anyOf[0])[0] as 'S' | 'N' | 'BOOL';
    return [c.attribute, { [type]: c.anyOf.map((v) => (v as Record<string, unknown>)[type]) }];
  }));
}

/**
 * The Pipes filter patterns (ORed), or undefined for no FilterCriteria at all: when the filter has
 * neither key prefixes nor attribute conditions (event names and TTL are the enrichment's), or when
 * a pattern would exceed Pipes' limits.
 */
export function toPipesFilterPatterns(filter: TargetFilter, keySchema: KeySchema): PipesFilterPattern[] | undefined {
  const names = new Set<string>(filter.eventNames);
  const keys = filter.partitionKeyPrefixes.length > 0
    ? { Keys: { [keySchema.partitionKey.name]: { S: filter.partitionKeyPrefixes.map((prefix) => ({ prefix })) } } }
    : {};
  const conditions = filter.attributeEquals ?? [];
  const patterns: PipesFilterPattern[] = [];
  if (conditions.length === 0) {
    if (filter.partitionKeyPrefixes.length > 0) patterns.push({ dynamodb: keys });
  } else {
    // NewImage decides INSERT and MODIFY; OldImage decides REMOVE and a MODIFY leaving the view (only kept with REMOVE).
    if (names.has('INSERT') || names.has('MODIFY')) patterns.push({ dynamodb: { ...keys, NewImage: conditionsPattern(conditions) } });
    if (names.has('REMOVE')) patterns.push({ dynamodb: { ...keys, OldImage: conditionsPattern(conditions) } });
  }
  return patterns.length === 0 ? undefined : withinPipesLimits(patterns);
}

/** The patterns if FilterCriteria can hold them, else undefined (no pipe filter: the enrichment filters everything anyway). */
function withinPipesLimits(patterns: PipesFilterPattern[]): PipesFilterPattern[] | undefined {
  if (patterns.length > PIPES_MAX_FILTERS) return undefined;
  return patterns.every((p) => JSON.stringify(p).length <= PIPES_MAX_PATTERN_LENGTH) ? patterns : undefined;
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
    if (!seen.has(text)) union.push(pattern);
    seen.add(text);
  }
  return withinPipesLimits(union);
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
    if (skipTtl && principalIdOf(record) !== undefined) return 'skip';
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

/** True when the record is this target's (forwarded or leaving its view); the Pipes patterns let through at least these. */
export function compileFilterPredicate(filter: TargetFilter, keySchema: KeySchema): RecordPredicate {
  const decide = compileFilterDecision(filter, keySchema);
  return (record) => decide(record) !== 'skip';
}
