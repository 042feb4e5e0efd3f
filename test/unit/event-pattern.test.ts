import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { compileFilterPredicate, toPipesFilterPatterns } from '../../handlers/core/filter';
import { InvalidEventPatternException, matchesAnyPattern, matchesEventPattern, type EventPattern } from '../../local/event-pattern';
import { targetFilterSchema } from '../../schemas/replication-config';
import { keySchema } from './support/sqs';
import { allStreamRecords, streamRecord } from './support/fixtures';

/**
 * The local pipe's FilterCriteria matcher against the examples of AWS's event-pattern documentation
 * (patterns and events copied from the pages named per block), then against the patterns this
 * project generates.
 */

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
const EC2_EVENT = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};
const withDetail = (detail: Record<string, unknown>) => ({ ...EC2_EVENT, detail });

describe('EventBridge event patterns (eb-event-patterns.html)', () => {
  it('matches on source, detail-type and a nested field; every field must match', () => {
    const pattern = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } };
    expect(matchesEventPattern(pattern, EC2_EVENT)).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ state: 'running' }))).toBe(false);
    expect(matchesEventPattern({ ...pattern, source: ['aws.s3'] }, EC2_EVENT)).toBe(false);
    // The event must have the field, with the same nesting.
    expect(matchesEventPattern({ detail: { missing: ['x'] } }, EC2_EVENT)).toBe(false);
    expect(matchesEventPattern({ state: ['terminated'] }, EC2_EVENT)).toBe(false);
  });

  it('matches an array field when the pattern and the event array intersect', () => {
    expect(matchesEventPattern({ resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, EC2_EVENT)).toBe(true);
    expect(matchesEventPattern({ resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, EC2_EVENT)).toBe(false);
  });
});

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-filtering-data-types.html
describe('null and empty-string values (eb-filtering-data-types.html)', () => {
  const autoScaling = { ...EC2_EVENT, source: 'aws.autoscaling', 'detail-type': 'EC2 Instance Launch Successful', detail: { eventVersion: '', responseElements: null } };
  it('matches null and "" exactly, and neither matches a missing field', () => {
    expect(matchesEventPattern({ source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Successful'], detail: { responseElements: [null] } }, autoScaling)).toBe(true);
    expect(matchesEventPattern({ detail: { eventVersion: [''] } }, autoScaling)).toBe(true);
    expect(matchesEventPattern({ detail: { eventVersion: [null] } }, autoScaling)).toBe(false);
    expect(matchesEventPattern({ detail: { other: [null] } }, autoScaling)).toBe(false);
  });
});

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
describe('content filtering (eb-event-patterns-content-based-filtering.html)', () => {
  it('prefix, prefix ignoring case, suffix', () => {
    expect(matchesEventPattern({ time: [{ prefix: '2017-10-02' }] }, { ...EC2_EVENT, time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matchesEventPattern({ time: [{ prefix: '2017-10-02' }] }, EC2_EVENT)).toBe(false);
    const service = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
    for (const name of ['EventBridge', 'EVENTB', 'eventbus']) expect(matchesEventPattern(service, withDetail({ service: name }))).toBe(true);
    expect(matchesEventPattern(service, withDetail({ service: 'Events' }))).toBe(false);
    expect(matchesEventPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' })).toBe(true);
    expect(matchesEventPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'image.PNG' })).toBe(false);
    expect(matchesEventPattern({ detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, withDetail({ FileName: 'image.PNG' }))).toBe(true);
  });

  it('anything-but: a string, a number, a list, a prefix — and never a missing field', () => {
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({ state: 'pending' }))).toBe(true);
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({ state: 'initializing' }))).toBe(false);
    expect(matchesEventPattern({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, withDetail({ 'x-limit': 456 }))).toBe(true);
    expect(matchesEventPattern({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, withDetail({ 'x-limit': 123 }))).toBe(false);
    const list = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
    expect(matchesEventPattern(list, withDetail({ state: 'pending' }))).toBe(true);
    expect(matchesEventPattern(list, withDetail({ state: 'overloaded' }))).toBe(false);
    const prefix = { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } };
    expect(matchesEventPattern(prefix, withDetail({ state: 'pending' }))).toBe(true);
    expect(matchesEventPattern(prefix, withDetail({ state: 'initializing' }))).toBe(false);
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({}))).toBe(false);
  });

  it('numeric ranges and equality (c-count, d-count, x-limit example)', () => {
    const pattern = { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } };
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 7, 'x-limit': 301.8 }))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 0, 'd-count': 7, 'x-limit': 301.8 }))).toBe(false);
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 }))).toBe(false);
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 5, 'd-count': 7, 'x-limit': 302 }))).toBe(false);
    // Numeric matching is for JSON numbers: a numeric string does not match.
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': '5', 'd-count': 7, 'x-limit': 301.8 }))).toBe(false);
  });

  it('exists: true matches a present leaf, false an absent one; leaf nodes only', () => {
    expect(matchesEventPattern({ detail: { 'c-count': [{ exists: true }] } }, withDetail({ 'c-count': 3 }))).toBe(true);
    expect(matchesEventPattern({ detail: { 'c-count': [{ exists: true }] } }, withDetail({ state: 'pending' }))).toBe(false);
    expect(matchesEventPattern({ detail: { 'c-count': [{ exists: false }] } }, withDetail({ state: 'pending' }))).toBe(true);
    expect(matchesEventPattern({ detail: { 'c-count': [{ exists: false }] } }, withDetail({ 'c-count': 3 }))).toBe(false);
    expect(matchesEventPattern({ detail: [{ exists: true }] }, EC2_EVENT)).toBe(false);
  });

  it('$or: any of the listed patterns', () => {
    const pattern = { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] } };
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 9, 'd-count': 3 }))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ 'c-count': 9, 'd-count': 30 }))).toBe(false);
  });

  it('refuses what it does not implement or AWS would refuse, by the name EventBridge uses', () => {
    for (const bad of [
      { a: [{ wildcard: '*.png' }] }, { a: [{ cidr: '10.0.0.0/24' }] }, { a: [] }, { a: 'x' }, { a: [{ numeric: ['>>', 1] }] },
      { a: [{ exists: 'yes' }] }, { a: [{ prefix: 1 }] }, { a: [{ 'anything-but': [] }] }, { $or: [{ a: ['x'] }] },
    ] as EventPattern[]) {
      expect(() => matchesEventPattern(bad, { a: 'x.png' })).toThrow(InvalidEventPatternException);
    }
  });
});

describe('the patterns this project generates (handlers/core/filter.ts)', () => {
  it('TTL deletes: userIdentity.principalId exists:false keeps user writes (no userIdentity) and drops TTL deletes', () => {
    const pattern = { userIdentity: { principalId: [{ exists: false }] } };
    expect(matchesEventPattern(pattern, streamRecord('remove'))).toBe(true);
    expect(matchesEventPattern(pattern, streamRecord('ttl-remove'))).toBe(false);
  });

  const filterArb = fc.record({
    eventNames: fc.subarray(['INSERT', 'MODIFY', 'REMOVE'] as const, { minLength: 1 }),
    replicateTtlDeletes: fc.boolean(),
    partitionKeyPrefixes: fc.subarray(['user#', 'order#', 'session#', 'u']),
    attributeEquals: fc.option(fc.constantFrom(
      [{ attribute: 'name', anyOf: [{ S: 'Ada' }] }],
      [{ attribute: 'status', anyOf: [{ S: 'OPEN' }, { S: 'PAID' }] }],
    ), { nil: undefined }),
  });

  it('property: the pipe never drops a record its targets want (the generated patterns let through at least what the predicate keeps)', () => {
    const records: DynamoDBRecord[] = allStreamRecords().map(([, r]) => r);
    fc.assert(fc.property(filterArb, (input) => {
      const filter = targetFilterSchema.parse(input);
      const patterns = toPipesFilterPatterns(filter, keySchema);
      const keeps = compileFilterPredicate(filter, keySchema);
      for (const record of records) {
        if (keeps(record)) expect(matchesAnyPattern(patterns, record)).toBe(true);
      }
    }), { numRuns: 200 });
  });
});
