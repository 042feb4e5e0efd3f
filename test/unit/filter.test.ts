import type { DynamoDBRecord } from 'aws-lambda';
import { compileFilterPredicate, isTtlDelete, toPipesFilterPattern, type PipesFilterPattern } from '../../handlers/core/filter';
import { targetFilterSchema } from '../../schemas/replication-config';
import { keySchema } from './support/sqs';
import { allStreamRecords, streamRecord } from './support/fixtures';

/**
 * An independent EventBridge pattern matcher for the subset Pipes filters use here: exact values,
 * `prefix`, `exists` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
 * A field absent from the event matches only `exists: false`.
 */
function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  return Object.entries(pattern).every(([field, rule]) => {
    const value = typeof event === 'object' && event !== null ? (event as Record<string, unknown>)[field] : undefined;
    if (Array.isArray(rule)) return rule.some((matcher) => matchesLeaf(matcher, value));
    return matchesPattern(rule as Record<string, unknown>, value);
  });
}

function matchesLeaf(matcher: unknown, value: unknown): boolean {
  if (typeof matcher === 'object' && matcher !== null) {
    if ('exists' in matcher) return (matcher as { exists: boolean }).exists ? value !== undefined : value === undefined;
    if ('prefix' in matcher) return typeof value === 'string' && value.startsWith((matcher as { prefix: string }).prefix);
    throw new Error(`matcher not supported by this test: ${JSON.stringify(matcher)}`);
  }
  return value !== undefined && value === matcher;
}

const pipesMatches = (pattern: PipesFilterPattern | undefined, record: DynamoDBRecord) => pattern === undefined || matchesPattern(pattern, record);

/** The fixtures plus variants: a user REMOVE of a "user#" item, a TTL delete of an "order#" item. */
const records: [string, DynamoDBRecord][] = [
  ...allStreamRecords(),
  ['remove-user.json', { ...streamRecord('remove'), dynamodb: { ...streamRecord('remove').dynamodb, Keys: { pk: { S: 'user#9' }, sk: { N: '1' } } } }],
  ['ttl-remove-order.json', { ...streamRecord('ttl-remove'), dynamodb: { ...streamRecord('ttl-remove').dynamodb, Keys: { pk: { S: 'order#1' }, sk: { N: '1' } } } }],
];

const filters = {
  everything: {},
  'no deletes': { eventNames: ['INSERT', 'MODIFY'] },
  'no TTL deletes': { replicateTtlDeletes: false },
  'user# only': { partitionKeyPrefixes: ['user#'] },
  'order# or session#, no TTL': { partitionKeyPrefixes: ['order#', 'session#'], replicateTtlDeletes: false },
  'user deletes only': { eventNames: ['REMOVE'], replicateTtlDeletes: false },
  'inserts and removes of user#/session#, no TTL': { eventNames: ['INSERT', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: ['user#', 'session#'] },
  'TTL ignored without REMOVE': { eventNames: ['INSERT'], replicateTtlDeletes: false },
};

describe('filter: Pipes pattern and predicate agree', () => {
  const cases = Object.entries(filters).flatMap(([filterName, raw]) => records.map(([recordName, record]) => [filterName, recordName, raw, record] as const));

  it.each(cases)('%s on %s', (_filterName, _recordName, raw, record) => {
    const filter = targetFilterSchema.parse(raw);
    expect(pipesMatches(toPipesFilterPattern(filter, keySchema), record)).toBe(compileFilterPredicate(filter, keySchema)(record));
  });

  it('actually filters: each filter keeps some fixtures and drops others (except "everything")', () => {
    for (const [name, raw] of Object.entries(filters)) {
      const predicate = compileFilterPredicate(targetFilterSchema.parse(raw), keySchema);
      const kept = records.filter(([, r]) => predicate(r)).length;
      if (name === 'everything') expect(kept).toBe(records.length);
      else expect([name, kept > 0 && kept < records.length]).toEqual([name, true]);
    }
  });

  it('keeps user deletes when TTL deletes are excluded (user writes carry no userIdentity)', () => {
    const filter = targetFilterSchema.parse({ replicateTtlDeletes: false });
    const pattern = toPipesFilterPattern(filter, keySchema);
    expect(pipesMatches(pattern, streamRecord('remove'))).toBe(true);
    expect(pipesMatches(pattern, streamRecord('ttl-remove'))).toBe(false);
    expect(isTtlDelete(streamRecord('ttl-remove'))).toBe(true);
    expect(isTtlDelete(streamRecord('remove'))).toBe(false);
  });
});
