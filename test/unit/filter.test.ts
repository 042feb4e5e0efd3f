import type { DynamoDBRecord } from 'aws-lambda';
import {
  compileFilterDecision, compileFilterPredicate, isTtlDelete, toPipesFilterPatterns, unionPipesFilterPatterns, PIPES_MAX_FILTERS, PIPES_MAX_PATTERN_LENGTH, type PipesFilterPattern,
} from '../../handlers/core/filter';
import { targetFilterSchema } from '../../schemas/replication-config';
import { keySchema } from './support/sqs';
import { allStreamRecords, streamRecord } from './support/fixtures';

/**
 * An independent EventBridge pattern matcher for the subset Pipes filters use here: exact values
 * (strings and booleans), `prefix`, `exists` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
 * A field absent from the event matches only `exists: false`. Several patterns in
 * FilterCriteria.Filters are ORed (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-filtering.html).
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

const pipesMatches = (patterns: PipesFilterPattern[] | undefined, record: DynamoDBRecord) => patterns === undefined || patterns.some((p) => matchesPattern(p, record));

function withImages(name: string, changes: { NewImage?: Record<string, unknown>; OldImage?: Record<string, unknown> }): DynamoDBRecord {
  const record = streamRecord(name);
  const dynamodb = { ...record.dynamodb } as Record<string, unknown>;
  for (const [image, attrs] of Object.entries(changes)) dynamodb[image] = { ...(dynamodb[image] as object), ...attrs };
  return { ...record, dynamodb: dynamodb };
}

/**
 * The fixtures plus variants: a user REMOVE of a "user#" item, a TTL delete of an "order#" item, and
 * images with a `status` (S) and `active` (BOOL) attribute: an item entering, staying in and
 * leaving the "status = active" view, and a removed "active" item.
 */
const records: [string, DynamoDBRecord][] = [
  ...allStreamRecords(),
  ['remove-user.json', { ...streamRecord('remove'), dynamodb: { ...streamRecord('remove').dynamodb, Keys: { pk: { S: 'user#9' }, sk: { N: '1' } } } }],
  ['ttl-remove-order.json', { ...streamRecord('ttl-remove'), dynamodb: { ...streamRecord('ttl-remove').dynamodb, Keys: { pk: { S: 'order#1' }, sk: { N: '1' } } } }],
  ['insert-active.json', withImages('insert', { NewImage: { status: { S: 'active' }, active: { BOOL: true } } })],
  ['modify-enters-view.json', withImages('modify', { OldImage: { status: { S: 'draft' } }, NewImage: { status: { S: 'active' }, active: { BOOL: true } } })],
  ['modify-stays-in-view.json', withImages('modify', { OldImage: { status: { S: 'active' } }, NewImage: { status: { S: 'active' } } })],
  ['modify-leaves-view.json', withImages('modify', { OldImage: { status: { S: 'active' }, active: { BOOL: true } }, NewImage: { status: { S: 'archived' }, active: { BOOL: false } } })],
  ['remove-active.json', withImages('remove', { OldImage: { status: { S: 'active' } } })],
  ['ttl-remove-active.json', withImages('ttl-remove', { OldImage: { status: { S: 'active' } } })],
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
  'status active': { attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }] }] },
  'status active or draft, no TTL': { replicateTtlDeletes: false, attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }, { S: 'draft' }] }] },
  'active BOOL, inserts and modifies only': { eventNames: ['INSERT', 'MODIFY'], attributeEquals: [{ attribute: 'active', anyOf: [{ BOOL: true }] }] },
  'total 9.99 (N), removes only': { eventNames: ['REMOVE'], attributeEquals: [{ attribute: 'total', anyOf: [{ N: '9.99' }] }] },
  'user# and name Ada': { partitionKeyPrefixes: ['user#'], attributeEquals: [{ attribute: 'name', anyOf: [{ S: 'Ada' }] }] },
  'two conditions': { attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }] }, { attribute: 'active', anyOf: [{ BOOL: true }] }] },
};

/** Every leaf path of a pattern, e.g. `dynamodb.Keys.pk.S`. */
function leafPaths(pattern: Record<string, unknown>, prefix: string[] = []): string[] {
  return Object.entries(pattern).flatMap(([field, rule]) => (Array.isArray(rule) ? [[...prefix, field].join('.')] : leafPaths(rule as Record<string, unknown>, [...prefix, field])));
}

describe('filter: the Pipes pattern is a superset prefilter of the exact predicate', () => {
  const cases = Object.entries(filters).flatMap(([filterName, raw]) => records.map(([recordName, record]) => [filterName, recordName, raw, record] as const));

  // A record the pattern drops never reaches the enrichment (skipped for good), so the predicate must drop it too.
  it.each(cases)('%s on %s: kept by the predicate ⇒ let through by the pattern', (_filterName, _recordName, raw, record) => {
    const filter = targetFilterSchema.parse(raw);
    const kept = compileFilterPredicate(filter, keySchema)(record);
    expect(kept && !pipesMatches(toPipesFilterPatterns(filter, keySchema), record)).toBe(false);
  });

  // DynamoDB sources filter only on the `dynamodb` key (docs/aws-contracts.md): eventName and userIdentity are the enrichment's.
  it('patterns only name fields under dynamodb: Keys.<pk>.S, NewImage or OldImage', () => {
    let checked = 0;
    for (const [name, raw] of Object.entries(filters)) {
      for (const path of (toPipesFilterPatterns(targetFilterSchema.parse(raw), keySchema) ?? []).flatMap((p) => leafPaths(p))) {
        expect([name, path]).toEqual([name, expect.stringMatching(/^dynamodb\.(Keys\.pk\.S|NewImage\.[^.]+\.(S|N|BOOL)|OldImage\.[^.]+\.(S|N|BOOL))$/)]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('still saves invocations: a filter on keys or attributes lets some fixtures through and stops others', () => {
    for (const [name, raw] of Object.entries(filters)) {
      const filter = targetFilterSchema.parse(raw);
      if (filter.partitionKeyPrefixes.length === 0 && filter.attributeEquals === undefined) continue;
      const passed = records.filter(([, r]) => pipesMatches(toPipesFilterPatterns(filter, keySchema), r)).length;
      expect([name, passed > 0 && passed < records.length]).toEqual([name, true]);
    }
  });

  it('a filter only on event names or TTL deletes pushes no pattern into the pipe (the enrichment filters those)', () => {
    for (const raw of [filters['no deletes'], filters['no TTL deletes'], filters['user deletes only'], filters['TTL ignored without REMOVE']]) {
      expect(toPipesFilterPatterns(targetFilterSchema.parse(raw), keySchema)).toBeUndefined();
    }
  });

  it('a pattern over 4,096 characters means no pipe filter at all', () => {
    const long = targetFilterSchema.parse({ partitionKeyPrefixes: Array.from({ length: 300 }, (_, i) => `tenant-${i}#`) });
    expect(JSON.stringify({ dynamodb: { Keys: { pk: { S: long.partitionKeyPrefixes.map((prefix) => ({ prefix })) } } } }).length).toBeGreaterThan(PIPES_MAX_PATTERN_LENGTH);
    expect(toPipesFilterPatterns(long, keySchema)).toBeUndefined();
  });
});

describe('filter: the predicate', () => {
  it('actually filters: each filter keeps some fixtures and drops others (except "everything")', () => {
    for (const [name, raw] of Object.entries(filters)) {
      const predicate = compileFilterPredicate(targetFilterSchema.parse(raw), keySchema);
      const kept = records.filter(([, r]) => predicate(r)).length;
      if (name === 'everything') expect(kept).toBe(records.length);
      else expect([name, kept > 0 && kept < records.length]).toEqual([name, true]);
    }
  });

  it('keeps user deletes when TTL deletes are excluded (user writes carry no userIdentity)', () => {
    const predicate = compileFilterPredicate(targetFilterSchema.parse({ replicateTtlDeletes: false }), keySchema);
    expect(predicate(streamRecord('remove'))).toBe(true);
    expect(predicate(streamRecord('ttl-remove'))).toBe(false);
    expect(isTtlDelete(streamRecord('ttl-remove'))).toBe(true);
    expect(isTtlDelete(streamRecord('remove'))).toBe(false);
  });
});

describe('filter: attribute conditions', () => {
  const byName = Object.fromEntries(records);
  const decide = (raw: object, name: string) => compileFilterDecision(targetFilterSchema.parse(raw), keySchema)(byName[name]);

  it('tests NewImage for INSERT/MODIFY and OldImage for REMOVE; a MODIFY leaving the view deletes', () => {
    const active = filters['status active'];
    expect(decide(active, 'insert-active.json')).toBe('forward');
    expect(decide(active, 'insert.json')).toBe('skip');
    expect(decide(active, 'modify-enters-view.json')).toBe('forward');
    expect(decide(active, 'modify-stays-in-view.json')).toBe('forward');
    expect(decide(active, 'modify-leaves-view.json')).toBe('leave-view');
    expect(decide(active, 'remove-active.json')).toBe('forward');
    expect(decide(active, 'remove.json')).toBe('skip');
  });

  it('does not turn a view exit into a delete for a target that does not replicate REMOVE', () => {
    expect(decide(filters['active BOOL, inserts and modifies only'], 'modify-leaves-view.json')).toBe('skip');
  });

  it('compiles to one pattern per image (ORed): NewImage when INSERT or MODIFY is kept, OldImage when REMOVE is', () => {
    expect(toPipesFilterPatterns(targetFilterSchema.parse({ replicateTtlDeletes: false, attributeEquals: [{ attribute: 'status', anyOf: [{ S: 'active' }] }] }), keySchema)).toEqual([
      { dynamodb: { NewImage: { status: { S: ['active'] } } } },
      { dynamodb: { OldImage: { status: { S: ['active'] } } } },
    ]);
    expect(toPipesFilterPatterns(targetFilterSchema.parse({ eventNames: ['REMOVE'], attributeEquals: [{ attribute: 'total', anyOf: [{ N: '9.99' }] }] }), keySchema)).toEqual([
      { dynamodb: { OldImage: { total: { N: ['9.99'] } } } },
    ]);
    expect(toPipesFilterPatterns(targetFilterSchema.parse({ eventNames: ['INSERT'], partitionKeyPrefixes: ['user#'], attributeEquals: [{ attribute: 'active', anyOf: [{ BOOL: true }] }] }), keySchema)).toEqual([
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'user#' }] } }, NewImage: { active: { BOOL: [true] } } } },
    ]);
    expect(toPipesFilterPatterns(targetFilterSchema.parse({ partitionKeyPrefixes: ['user#'] }), keySchema)).toEqual([{ dynamodb: { Keys: { pk: { S: [{ prefix: 'user#' }] } } } }]);
    expect(toPipesFilterPatterns(targetFilterSchema.parse({}), keySchema)).toBeUndefined();
  });

  it('unions several targets\' patterns: no filter if one keeps everything or Pipes\' limits would be exceeded', () => {
    const a = toPipesFilterPatterns(targetFilterSchema.parse({ partitionKeyPrefixes: ['user#'] }), keySchema);
    const b = toPipesFilterPatterns(targetFilterSchema.parse(filters['status active']), keySchema);
    expect(unionPipesFilterPatterns([a, b])).toEqual([...(a ?? []), ...(b ?? [])]);
    expect(unionPipesFilterPatterns([a, a])).toEqual(a);
    expect(unionPipesFilterPatterns([a, undefined])).toBeUndefined();
    const many = Array.from({ length: PIPES_MAX_FILTERS + 1 }, (_, i) => toPipesFilterPatterns(targetFilterSchema.parse({ partitionKeyPrefixes: [`p${i}#`] }), keySchema));
    expect(unionPipesFilterPatterns(many)).toBeUndefined();
    // The union lets through exactly what any member lets through.
    const union = unionPipesFilterPatterns([a, b]);
    for (const [, record] of records) expect(pipesMatches(union, record)).toBe(pipesMatches(a, record) || pipesMatches(b, record));
  });
});
