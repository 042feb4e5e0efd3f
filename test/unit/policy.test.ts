import { compileTargetPolicy, envelopesForTarget } from '../../handlers/core/attached-delivery';
import type { EnvelopeContext } from '../../handlers/core/envelope';
import { parseReplicationConfig, targetFilterSchema, targetPolicyProblems, targetRedactionSchema } from '../../schemas/replication-config';
import { keySchema } from './support/sqs';
import { streamRecord } from './support/fixtures';

const ctx: EnvelopeContext = { keySchema, resyncThresholdBytes: 200_000, sourceTableName: 'orders' };

function config(target: Record<string, unknown>) {
  return {
    replicationName: 'orders',
    source: {
      account: '111111111111', region: 'eu-west-1', tableName: 'orders',
      tableStreamArn: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2026-11-01T00:00:00.000',
      keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } },
    },
    targets: [{ name: 'dr', account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', externalId: 'ext-id-1', ...target }],
  };
}

describe('target policy validation (fails synth with the path and the reason)', () => {
  it.each([
    ['an excluded key', { redaction: { exclude: ['pk'] } }, 'targets.0.redaction.exclude: key attribute(s) pk cannot be excluded; keys are always replicated as they are'],
    ['a redacted key', { redaction: { redact: ['sk', 'name'] } }, 'targets.0.redaction.redact: key attribute(s) sk cannot be redacted; keys are always replicated as they are'],
    ['an attribute both excluded and redacted', { redaction: { exclude: ['ssn'], redact: ['ssn'] } }, 'targets.0.redaction.redact: attribute(s) ssn are both excluded and redacted; choose one'],
    ['a nested path', { redaction: { redact: ['address.street'] } }, 'targets.0.redaction.redact.0: a top-level attribute name (nested paths such as a.b or a[0] are not supported)'],
    ['an empty attribute name', { filter: { attributeEquals: [{ attribute: '', anyOf: [{ S: 'x' }] }] } }, 'targets.0.filter.attributeEquals.0.attribute: Too small'],
    ['no event names', { filter: { eventNames: [] } }, 'targets.0.filter.eventNames: at least one event name, or the target would receive nothing'],
    ['a condition with no values', { filter: { attributeEquals: [{ attribute: 'status', anyOf: [] }] } }, 'targets.0.filter.attributeEquals.0.anyOf: at least one value, or the condition matches nothing'],
    ['values of mixed types', { filter: { attributeEquals: [{ attribute: 'status', anyOf: [{ S: '1' }, { N: '1' }] }] } }, 'all values of one condition must have the same type (S, N or BOOL)'],
    ['a number DynamoDB would never return', { filter: { attributeEquals: [{ attribute: 'n', anyOf: [{ N: '1.50' }] }] } }, 'a number written as DynamoDB returns it'],
    ['a key condition of the wrong type', { filter: { attributeEquals: [{ attribute: 'sk', anyOf: [{ S: '1' }] }] } }, 'targets.0.filter.attributeEquals.0: matches nothing: key attribute "sk" is of type N, the condition compares S values'],
    ['a partition key condition outside the prefixes', { filter: { partitionKeyPrefixes: ['user#'], attributeEquals: [{ attribute: 'pk', anyOf: [{ S: 'order#1' }] }] } }, 'matches nothing: no value of "pk" starts with one of partitionKeyPrefixes'],
    ['two conditions on one attribute', { filter: { attributeEquals: [{ attribute: 's', anyOf: [{ S: 'a' }] }, { attribute: 's', anyOf: [{ S: 'b' }] }] } }, 'attribute "s" has two conditions; list its values in one condition\'s anyOf'],
  ])('rejects %s', (_what, target, message) => {
    expect(() => parseReplicationConfig(config(target))).toThrow(message);
  });

  it('accepts a valid policy, and an attribute no item has (only syntax can be checked)', () => {
    const cfg = parseReplicationConfig(config({
      filter: { replicateTtlDeletes: false, attributeEquals: [{ attribute: 'no-such-attribute', anyOf: [{ BOOL: true }] }] },
      redaction: { exclude: ['avatar'], redact: ['email'], redactWith: { sha256: true } },
    }));
    expect(cfg.targets[0]?.redaction).toEqual({ exclude: ['avatar'], redact: ['email'], redactWith: { sha256: true } });
    expect(targetPolicyProblems(cfg.source.keySchema, cfg.targets[0].filter, cfg.targets[0].redaction)).toEqual([]);
  });

  it('has no redaction by default (the template of an existing target does not change)', () => {
    expect(parseReplicationConfig(config({})).targets[0]).not.toHaveProperty('redaction');
  });
});

describe('envelopesForTarget (one target\'s policy applied in enrichment)', () => {
  const policy = (filter: object, redaction?: object) =>
    compileTargetPolicy({ filter: targetFilterSchema.parse(filter), redaction: redaction === undefined ? undefined : targetRedactionSchema.parse(redaction) }, keySchema);

  it('filters, keeps order, and redacts PUT images only', () => {
    // insert and modify are changes of one item: a batch keeps only the item's last change (issue 12 §1e).
    const records = ['insert', 'remove', 'modify', 'ttl-remove'].map(streamRecord);
    const out = envelopesForTarget(records, policy({ replicateTtlDeletes: false }, { redact: ['name'], exclude: ['avatar'] }), ctx);
    expect(out.map((e) => [e.op, e.eventId])).toEqual([['DELETE', records[1]?.eventID], ['PUT', records[2]?.eventID]]);
    expect(out[1]?.image?.name).toEqual({ S: 'REDACTED' });
    expect(out[1]?.image).not.toHaveProperty('avatar');
    expect(out[0]).not.toHaveProperty('image');
  });

  it('applies the RESYNC threshold to the redacted image', () => {
    const large = streamRecord('insert-large-item');
    const bigAttribute = Object.entries(large.dynamodb?.NewImage ?? {}).sort(([, a], [, b]) => JSON.stringify(b).length - JSON.stringify(a).length)[0]?.[0];
    expect(envelopesForTarget([large], policy({}), ctx)[0]?.op).toBe('RESYNC');
    expect(envelopesForTarget([large], policy({}, { exclude: [bigAttribute] }), ctx)[0]?.op).toBe('PUT');
  });

  it('sends a DELETE (origin user, keys only) for a MODIFY that leaves the target\'s view', () => {
    const modify = streamRecord('modify');
    const out = envelopesForTarget([modify], policy({ attributeEquals: [{ attribute: 'name', anyOf: [{ S: 'Ada' }] }] }), ctx);
    expect(out).toEqual([expect.objectContaining({ op: 'DELETE', keys: modify.dynamodb?.Keys, eventId: modify.eventID, origin: 'user' })]);
    expect(out[0]).not.toHaveProperty('image');
  });
});
