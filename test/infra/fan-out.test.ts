import { Match, Template } from 'aws-cdk-lib/assertions';
import { fastApp, logicalIdOf, testConfig } from './support';
import { QUEUE_KEY_ARN, getAtt, sortStatements, statementsOfRole } from './observability-support';

/**
 * Fan-out (docs/architecture.md#fan-out, docs/fan-out.md): targets one and two get a pipe each; every further target
 * attaches its queue to the pipe with fewer attached queues, whose enrichment delivers to it.
 */
type Json = Record<string, unknown>;
const EXTRA_NAMES = ['third', 'fourth', 'fifth'] as const;

/** The test config (dr, eu-analytics) plus `extra` more targets shaped like `dr`, optionally changed. */
function config(extra: number, mutate?: (targets: Json[]) => void) {
  return testConfig((input) => {
    const targets = input.targets as Json[];
    for (const name of EXTRA_NAMES.slice(0, extra)) targets.push({ ...targets[0], name, tableName: `orders-${name}` });
    mutate?.(targets);
  });
}

function synth(extra: number, mutate?: (targets: Json[]) => void): Template {
  return Template.fromStack(fastApp(config(extra, mutate)).replicationStack);
}

/** Logical id of construct `id` of a target: CDK joins the path and keeps letters and digits only. */
const idOf = (t: Template, type: string, target: string, id: string) => logicalIdOf(t, type, `Replication${target}${id}`.replace(/[^A-Za-z0-9]/g, ''));
const fn = (t: Template, target: string, id: string) => t.findResources('AWS::Lambda::Function')[idOf(t, 'AWS::Lambda::Function', target, id)] as Json & { Properties: Json };

describe('fan-out: pipes never exceed two per stream', () => {
  const targetNames = ['dr', 'eu-analytics', ...EXTRA_NAMES];

  test.each([[1, 0], [2, 0], [3, 1], [5, 3]])('%i target(s): every target has queue, DLQ and apply; %i attached', (count, attached) => {
    const template = count === 1
      ? Template.fromStack(fastApp(testConfig((input) => { (input.targets as Json[]).splice(1); })).replicationStack)
      : synth(count - 2);
    const names = targetNames.slice(0, count);
    expect(Object.keys(template.findResources('AWS::Pipes::Pipe'))).toHaveLength(Math.min(count, 2));
    expect(Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: Match.stringLikeRegexp('-enrich$') } }))).toHaveLength(Math.min(count, 2));
    for (const name of names) {
      template.hasResourceProperties('AWS::SQS::Queue', { QueueName: `ddbrepl-orders-${name}.fifo`, FifoQueue: true });
      template.hasResourceProperties('AWS::SQS::Queue', { QueueName: `ddbrepl-orders-${name}-dlq.fifo` });
      template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `ddbrepl-orders-${name}-apply` });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: idOf(template, 'AWS::Lambda::Function', name, 'ApplyFunction') } });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `ddbrepl-orders-${name}-dlq-not-empty` });
    }
    // Only pipe owners have a pipe DLQ; attached targets' failed batches land in their owner's.
    expect(Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { QueueName: Match.stringLikeRegexp('-pipe-dlq$') } }))).toHaveLength(Math.min(count, 2));
    const attachedEnv = ['dr', 'eu-analytics'].slice(0, Math.min(count, 2)).flatMap((owner) => {
      const env = (fn(template, owner, 'EnrichFunction').Properties.Environment as { Variables: Json }).Variables;
      return env.ATTACHED_TARGETS === undefined ? [] : [env.ATTACHED_TARGETS];
    });
    expect(attachedEnv).toHaveLength(Math.min(attached, 2));
  });

  test('attached targets go to the pipe with fewer attached queues (the earlier one on a tie)', () => {
    const template = synth(3);
    const attachedTo = (owner: string) => {
      const env = (fn(template, owner, 'EnrichFunction').Properties.Environment as { Variables: Json }).Variables;
      return JSON.stringify(env.ATTACHED_TARGETS).match(/\\"targetName\\":\\"([a-z-]+)\\"/g)?.map((m) => m.split('\\"')[3]);
    };
    expect(attachedTo('dr')).toEqual(['third', 'fifth']);
    expect(attachedTo('eu-analytics')).toEqual(['fourth']);
  });
});

describe('fan-out: adding a target changes no other target\'s resources', () => {
  /**
   * Synth [dr, eu-analytics] and [dr, eu-analytics, third]; `third` attaches to `dr` (both owners
   * have no attached queue: the earlier wins). Every resource of the first template exists in the
   * second under the same logical id with identical properties, EXCEPT exactly:
   *  - dr's enrichment function: its Environment gains ATTACHED_TARGETS (nothing else changes);
   *  - dr's enrichment role policy: it gains sqs:SendMessage on third's queue (nothing else changes);
   *  - the replication dashboard (one resource for the replication, not a target's): a row for third.
   * dr's pipe is unchanged here because dr has no filter (its pipe already lets everything through);
   * the next test covers an owner with a filter, whose pipe FilterCriteria widens.
   */
  test('logical ids and properties of dr and eu-analytics are identical, but for the stated exceptions', () => {
    const before = synth(0).toJSON().Resources as Record<string, Json>;
    const after = synth(1).toJSON().Resources as Record<string, Json>;
    const changed = Object.keys(before).filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
    const t = synth(0);
    const drEnrich = idOf(t, 'AWS::Lambda::Function', 'dr', 'EnrichFunction');
    const drEnrichPolicy = idOf(t, 'AWS::IAM::Policy', 'dr', 'EnrichRoleDefaultPolicy');
    const dashboard = Object.keys(t.findResources('AWS::CloudWatch::Dashboard'))[0];
    expect(changed.sort()).toEqual([drEnrich, drEnrichPolicy, dashboard].sort());
    expect(Object.keys(before).filter((id) => after[id] === undefined)).toEqual([]);

    const withoutEnv = (r: Json) => ({ ...r, Properties: { ...(r.Properties as Json), Environment: undefined } });
    expect(withoutEnv(after[drEnrich])).toEqual(withoutEnv(before[drEnrich]));
    const envBefore = ((before[drEnrich].Properties as Json).Environment as { Variables: Json }).Variables;
    const envAfter = ((after[drEnrich].Properties as Json).Environment as { Variables: Json }).Variables;
    const { ATTACHED_TARGETS: attached, ...restAfter } = envAfter;
    expect(restAfter).toEqual(envBefore);
    expect(JSON.stringify(attached)).toContain('\\"targetName\\":\\"third\\"');

    const statements = (r: Json) => ((r.Properties as Json).PolicyDocument as { Statement: unknown[] }).Statement;
    const thirdQueue = logicalIdOf(synth(1), 'AWS::SQS::Queue', 'ReplicationthirdQueue');
    expect(sortStatements(statements(after[drEnrichPolicy]))).toEqual(sortStatements([
      ...statements(before[drEnrichPolicy]),
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(thirdQueue) },
    ]));
  });

  test('an owner with a filter gets the union of its and the attached target\'s patterns; a catch-all attached target removes it', () => {
    const owner = { eventNames: ['INSERT', 'MODIFY'], replicateTtlDeletes: true, partitionKeyPrefixes: ['US#'] };
    const patterns = (template: Template) => {
      const pipe = template.findResources('AWS::Pipes::Pipe', { Properties: { Name: 'ddbrepl-orders-dr' } });
      const criteria = (Object.values(pipe)[0].Properties as { SourceParameters: { FilterCriteria?: { Filters: { Pattern: string }[] } } }).SourceParameters.FilterCriteria;
      return criteria?.Filters.map((f) => JSON.parse(f.Pattern) as unknown);
    };
    const usPattern = { dynamodb: { Keys: { pk: { S: [{ prefix: 'US#' }] } } } };
    expect(patterns(synth(0, (t) => { t[0].filter = owner; }))).toEqual([usPattern]);
    expect(patterns(synth(1, (t) => { t[0].filter = owner; t[2].filter = { partitionKeyPrefixes: ['CA#'] }; }))).toEqual([
      usPattern,
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'CA#' }] } } } },
    ]);
    expect(patterns(synth(1, (t) => { t[0].filter = owner; }))).toBeUndefined();
  });
});

describe('fan-out: the enrichment may send only to its attached queues', () => {
  test('sqs:SendMessage on exactly the attached queues; a pipe without attached queues has no SQS permission at all', () => {
    const template = synth(3);
    const role = (target: string) => idOf(template, 'AWS::IAM::Role', target, 'EnrichRole');
    const queue = (target: string) => getAtt(idOf(template, 'AWS::SQS::Queue', target, 'Queue'));
    const sqsStatements = (target: string) => (statementsOfRole(template, role(target)) as { Action: unknown }[])
      .filter((s) => JSON.stringify(s.Action).includes('sqs:'));
    expect(sqsStatements('dr')).toEqual(sortStatements([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue('third') },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue('fifth') },
    ]));
    expect(sqsStatements('eu-analytics')).toEqual([{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue('fourth') }]);
    expect(sqsStatements('dr').concat(sqsStatements('eu-analytics'))).toHaveLength(3);
    const withoutFanOut = synth(0);
    const plain = statementsOfRole(withoutFanOut, idOf(withoutFanOut, 'AWS::IAM::Role', 'dr', 'EnrichRole'));
    expect(JSON.stringify(plain)).not.toContain('sqs:');
  });

  test('an attached queue under a customer key: the owner\'s enrichment may use that key to send, nothing more', () => {
    const template = synth(1, (t) => { t[2].options = { kmsKeyArn: QUEUE_KEY_ARN }; });
    const statements = statementsOfRole(template, idOf(template, 'AWS::IAM::Role', 'dr', 'EnrichRole')) as { Action: unknown; Resource: unknown }[];
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('kms:'))).toEqual([{ Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: QUEUE_KEY_ARN }]);
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'ddbrepl-orders-third.fifo', KmsMasterKeyId: QUEUE_KEY_ARN });
  });
});

describe('fan-out: policy errors fail synth', () => {
  test('a redacted key attribute and a filter that matches nothing name the target and the path', () => {
    expect(() => config(1, (t) => { t[2].redaction = { redact: ['pk'] }; })).toThrow('targets.2.redaction.redact: key attribute(s) pk cannot be redacted');
    expect(() => config(1, (t) => { t[2].filter = { attributeEquals: [{ attribute: 'sk', anyOf: [{ S: 'x' }] }] }; })).toThrow('targets.2.filter.attributeEquals.0: matches nothing');
  });
});
