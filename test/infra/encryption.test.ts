import { parseReplicationConfig } from '../../schemas/replication-config';
import { QUEUE_KEY_ARN, getAtt, ref, synthBoth, targetResourceId, type Synths, type TargetName } from './observability-support';
import { testConfigInput } from './support';

let synths: Synths;
beforeAll(() => {
  synths = synthBoth();
});

type Template = Synths['plain'];
const QUEUES = ['Queue', 'DeadLetterQueue', 'PipeDeadLetterQueue'] as const;
const TARGETS: TargetName[] = ['dr', 'eu-analytics'];

function queueProps(template: Template, target: TargetName, construct: string): Record<string, unknown> {
  return template.findResources('AWS::SQS::Queue')[targetResourceId(template, target, 'AWS::SQS::Queue', construct)].Properties as Record<string, unknown>;
}

/** The one queue policy of a queue: it must deny every sqs:* over plain HTTP, and say nothing else. */
function expectTlsOnly(template: Template, queueId: string): void {
  const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([ref(queueId)]));
  expect(policies).toHaveLength(1);
  expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
    { Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: getAtt(queueId) },
  ]);
}

describe('queue encryption and transport', () => {
  test('by default every queue uses SQS-managed SSE and has a TLS-only policy', () => {
    const all = synths.plain.findResources('AWS::SQS::Queue');
    expect(Object.keys(all)).toHaveLength(6);
    for (const [id, queue] of Object.entries(all)) {
      expect({ id, sse: queue.Properties.SqsManagedSseEnabled, key: queue.Properties.KmsMasterKeyId }).toEqual({ id, sse: true, key: undefined });
      expectTlsOnly(synths.plain, id);
    }
  });

  test('with options.kmsKeyArn, the target\'s three queues use exactly that key (and no SQS-managed SSE); TLS-only stays', () => {
    for (const construct of QUEUES) {
      const props = queueProps(synths.secured, 'dr', construct);
      expect(props.KmsMasterKeyId).toBe(QUEUE_KEY_ARN);
      expect(props).not.toHaveProperty('SqsManagedSseEnabled');
      expectTlsOnly(synths.secured, targetResourceId(synths.secured, 'dr', 'AWS::SQS::Queue', construct));
    }
  });

  test('a target without a key keeps SQS-managed SSE when another target has one', () => {
    for (const construct of QUEUES) {
      expect(queueProps(synths.secured, 'eu-analytics', construct)).toMatchObject({ SqsManagedSseEnabled: true });
      expect(queueProps(synths.secured, 'eu-analytics', construct)).not.toHaveProperty('KmsMasterKeyId');
    }
  });

  test('the config only accepts a queue key of the source Region', () => {
    const input = testConfigInput();
    (input.targets as Record<string, unknown>[])[0].options = { kmsKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab' };
    expect(() => parseReplicationConfig(input)).toThrow('targets.0.options.kmsKeyArn: must be a key in the source Region eu-west-1');
    (input.targets as Record<string, unknown>[])[0].options = { kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:alias/mine' };
    expect(() => parseReplicationConfig(input)).toThrow(/kmsKeyArn: a KMS key ARN/);
  });
});

describe('logs, log level and tracing', () => {
  test.each(['plain', 'secured'] as const)('%s: every log group has a retention (30 days)', (which) => {
    const groups = synths[which].findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups).length).toBeGreaterThanOrEqual(6);
    for (const [id, group] of Object.entries(groups)) expect({ id, retention: group.Properties.RetentionInDays }).toEqual({ id, retention: 30 });
  });

  test('LOG_LEVEL from options.logLevel reaches both functions of each target', () => {
    const expected: Record<TargetName, string> = { dr: 'INFO', 'eu-analytics': 'DEBUG' };
    for (const target of TARGETS) {
      for (const fn of ['EnrichFunction', 'ApplyFunction']) {
        const props = synths.plain.findResources('AWS::Lambda::Function')[targetResourceId(synths.plain, target, 'AWS::Lambda::Function', fn)].Properties;
        expect({ target, fn, level: props.Environment.Variables.LOG_LEVEL }).toEqual({ target, fn, level: expected[target] });
      }
    }
  });

  test('tracing is off by default and Active on both functions of a target with options.tracing', () => {
    for (const fn of Object.values(synths.plain.findResources('AWS::Lambda::Function'))) expect(fn.Properties.TracingConfig).toBeUndefined();
    for (const target of TARGETS) {
      for (const fn of ['EnrichFunction', 'ApplyFunction']) {
        const props = synths.secured.findResources('AWS::Lambda::Function')[targetResourceId(synths.secured, target, 'AWS::Lambda::Function', fn)].Properties;
        expect({ target, fn, tracing: props.TracingConfig }).toEqual({ target, fn, tracing: target === 'dr' ? { Mode: 'Active' } : undefined });
      }
    }
  });
});
