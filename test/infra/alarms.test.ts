import { Match } from 'aws-cdk-lib/assertions';
import { METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { ALARM_SUFFIXES, PIPES_NAMESPACE, type AlarmKind } from '../../infra/constructs/target-alarms';
import { parseReplicationConfig } from '../../schemas/replication-config';
import { ONCALL_TOPIC_ARN, getAtt, ref, synthBoth, targetResourceId, type Synths, type TargetName } from './observability-support';
import { testConfigInput } from './support';

let synths: Synths;
beforeAll(() => {
  synths = synthBoth();
});

type Template = Synths['plain'];
const alarmProps = (template: Template, name: string): Record<string, unknown> => {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: name } }));
  if (found.length !== 1) throw new Error(`expected one alarm named ${name}, found ${found.length}`);
  return found[0].Properties as Record<string, unknown>;
};

/** Everything but actions and description: the metric, its statistic, and the alarm condition. */
function expectedAlarm(template: Template, target: TargetName, kind: AlarmKind, thresholds = { age: 300, lag: 60000 }): Record<string, unknown> {
  const id = (type: string, construct: string) => targetResourceId(template, target, type, construct);
  const queueName = (construct: string) => [{ Name: 'QueueName', Value: getAtt(id('AWS::SQS::Queue', construct), 'QueueName') }];
  const functionName = (construct: string) => [{ Name: 'FunctionName', Value: ref(id('AWS::Lambda::Function', construct)) }];
  const pipeName = [{ Name: 'PipeName', Value: ref(id('AWS::Pipes::Pipe', 'Pipe')) }];
  const anyIn5Minutes = { Statistic: 'Sum', Period: 300, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 };
  const notEmpty = { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum', Period: 60, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 };
  const specs: Record<AlarmKind, Record<string, unknown>> = {
    deadLetterQueue: { ...notEmpty, Dimensions: queueName('DeadLetterQueue') },
    pipeDeadLetterQueue: { ...notEmpty, Dimensions: queueName('PipeDeadLetterQueue') },
    queueAge: {
      Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: queueName('Queue'), Statistic: 'Maximum', Period: 60,
      Threshold: thresholds.age, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1,
    },
    lagP99: {
      Namespace: METRICS_NAMESPACE_DEFAULT, MetricName: 'ReplicationLagMs', Dimensions: [{ Name: 'Replication', Value: 'orders' }, { Name: 'Target', Value: target }], ExtendedStatistic: 'p99', Period: 60,
      Threshold: thresholds.lag, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3,
    },
    pipeExecutionFailed: { Namespace: PIPES_NAMESPACE, MetricName: 'ExecutionFailed', Dimensions: pipeName, ...anyIn5Minutes },
    pipeEnrichmentFailed: { Namespace: PIPES_NAMESPACE, MetricName: 'EnrichmentStageFailed', Dimensions: pipeName, ...anyIn5Minutes },
    applyErrors: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: functionName('ApplyFunction'), ...anyIn5Minutes },
    applyThrottles: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: functionName('ApplyFunction'), ...anyIn5Minutes },
    enrichErrors: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: functionName('EnrichFunction'), ...anyIn5Minutes },
  };
  return { AlarmName: `ddbrepl-orders-${target}-${ALARM_SUFFIXES[kind]}`, TreatMissingData: 'notBreaching', ...specs[kind] };
}

const KINDS = Object.keys(ALARM_SUFFIXES) as AlarmKind[];

describe('per-target alarms', () => {
  test('nine alarms per target, nothing else alarmed', () => {
    expect(KINDS).toHaveLength(9);
    synths.plain.resourceCountIs('AWS::CloudWatch::Alarm', 18);
  });

  test.each(KINDS.flatMap((kind) => (['dr', 'eu-analytics'] as const).map((target) => [target, kind] as const)))(
    '%s %s: metric, namespace, dimensions, statistic, threshold, comparison, missing data; no action without a topic',
    (target, kind) => {
      const props = alarmProps(synths.plain, `ddbrepl-orders-${target}-${ALARM_SUFFIXES[kind]}`);
      expect(props).toEqual({ ...expectedAlarm(synths.plain, target, kind), AlarmDescription: expect.stringContaining(`Target ${target}:`) });
    },
  );

  test('the custom-metric alarm uses the handler\'s namespace and metric name, dimensioned by Replication and Target', () => {
    const lag = alarmProps(synths.plain, 'ddbrepl-orders-dr-lag-p99');
    expect(lag).toMatchObject({ Namespace: 'DynamoDBCrossAccountReplication', MetricName: 'ReplicationLagMs', Dimensions: [{ Name: 'Replication', Value: 'orders' }, { Name: 'Target', Value: 'dr' }] });
  });

  test('descriptions name the CLI command to run', () => {
    expect(alarmProps(synths.plain, 'ddbrepl-orders-dr-dlq-not-empty').AlarmDescription).toMatch(/ddb-replicate replay --target dr$/);
    expect(alarmProps(synths.plain, 'ddbrepl-orders-dr-queue-stalled').AlarmDescription).toMatch(/ddb-replicate status --target dr$/);
    expect(alarmProps(synths.plain, 'ddbrepl-orders-dr-pipe-dlq-not-empty').AlarmDescription).toMatch(/ddb-replicate verify --target dr --repair$/);
  });
});

describe('alarm notifications and thresholds from the config', () => {
  test('createTopic: every alarm of the target notifies the created topic on ALARM and OK', () => {
    const topic = ref(Object.keys(synths.secured.findResources('AWS::SNS::Topic'))[0]);
    for (const kind of KINDS) {
      expect(alarmProps(synths.secured, `ddbrepl-orders-dr-${ALARM_SUFFIXES[kind]}`)).toEqual({
        ...expectedAlarm(synths.secured, 'dr', kind),
        AlarmDescription: expect.any(String),
        AlarmActions: [topic],
        OKActions: [topic],
      });
    }
  });

  test('topicArn: every alarm notifies the existing topic, with the configured thresholds', () => {
    for (const kind of KINDS) {
      expect(alarmProps(synths.secured, `ddbrepl-orders-eu-analytics-${ALARM_SUFFIXES[kind]}`)).toEqual({
        ...expectedAlarm(synths.secured, 'eu-analytics', kind, { age: 600, lag: 5000 }),
        AlarmDescription: expect.any(String),
        AlarmActions: [ONCALL_TOPIC_ARN],
        OKActions: [ONCALL_TOPIC_ARN],
      });
    }
  });

  test('the created topic: one per replication, KMS-encrypted with a rotating key CloudWatch may use, TLS-only, CloudWatch may publish', () => {
    const { secured } = synths;
    secured.resourceCountIs('AWS::SNS::Topic', 1);
    const keyId = Object.keys(secured.findResources('AWS::KMS::Key', { Properties: { Description: 'Encrypts the alarm topic ddbrepl-orders-alarms' } }))[0];
    const topicId = Object.keys(secured.findResources('AWS::SNS::Topic'))[0];
    secured.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'ddbrepl-orders-alarms', KmsMasterKeyId: getAtt(keyId) });
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': '111111111111' },
      ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:111111111111:alarm:ddbrepl-orders-*']] } },
    };
    secured.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Encrypts the alarm topic ddbrepl-orders-alarms',
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          { Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: fromOurAlarms },
        ]),
      },
    });
    secured.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(topicId)],
      PolicyDocument: {
        Statement: [
          { Sid: 'AllowPublishThroughSSLOnly', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: ref(topicId), Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          { Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: ref(topicId), Condition: fromOurAlarms },
        ],
      },
    });
  });

  test('no topic is created unless a target asks for one', () => {
    synths.plain.resourceCountIs('AWS::SNS::Topic', 0);
  });

  test('the config rejects both topicArn and createTopic, and documents the defaults', () => {
    const input = testConfigInput();
    (input.targets as Record<string, unknown>[])[0].options = { alarms: { topicArn: ONCALL_TOPIC_ARN, createTopic: true } };
    expect(() => parseReplicationConfig(input)).toThrow('targets.0.options.alarms.createTopic: set either topicArn or createTopic, not both');
    const defaults = parseReplicationConfig(testConfigInput()).targets[0].options.alarms;
    expect(defaults).toEqual({ oldestMessageAgeSeconds: 300, lagP99Ms: 60000, createTopic: false });
  });
});
