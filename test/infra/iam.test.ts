import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  QUEUE_KEY_ARN, TARGET_TABLE_KEY_ARN, getAtt, securedConfig, sortStatements, statementsOfRole, synthBoth, targetResourceId, type Synths,
} from './observability-support';
import { parseReplicationConfig } from '../../schemas/replication-config';
import { SOURCE_STREAM_ARN, fastApp, testConfigInput } from './support';

let synths: Synths;
beforeAll(() => {
  synths = synthBoth();
});

type Template_ = Template;
const join = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
const partition = { Ref: 'AWS::Partition' };
const allow = (Action: string | string[], Resource: unknown) => ({ Effect: 'Allow', Action, Resource });
const XRAY = allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*');

function ids(template: Template_) {
  const id = (type: string, construct: string) => targetResourceId(template, 'dr', type, construct);
  return {
    role: (construct: string) => id('AWS::IAM::Role', construct),
    queue: (construct: string) => getAtt(id('AWS::SQS::Queue', construct)),
    logGroup: (construct: string) => getAtt(id('AWS::Logs::LogGroup', construct)),
    fn: (construct: string) => getAtt(id('AWS::Lambda::Function', construct)),
  };
}

/** What each role of target `dr` may do, exactly; `secured` adds the KMS and X-Ray statements. */
function expectedStatements(template: Template_, secured: boolean) {
  const r = ids(template);
  const send = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
  const logs = (group: string) => allow(['logs:CreateLogStream', 'logs:PutLogEvents'], r.logGroup(group));
  const extra = <T>(...statements: T[]) => (secured ? statements : []);
  return {
    EnrichRole: [logs('EnrichLogGroup'), ...extra(XRAY)],
    ApplyRole: [
      logs('ApplyLogGroup'),
      allow('sts:AssumeRole', join('arn:', partition, ':iam::222222222222:role/ddbrepl-orders-dr-target')),
      allow(['dynamodb:GetItem', 'dynamodb:DescribeTable'], join('arn:', partition, ':dynamodb:eu-west-1:111111111111:table/orders')),
      allow(['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], r.queue('Queue')),
      // The freeze mark: exactly this target's item of the control table (handlers/core/freeze.ts).
      { ...allow('dynamodb:GetItem', { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0], 'Arn'] }), Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['dr'] } } },
      ...extra(XRAY, allow('kms:Decrypt', QUEUE_KEY_ARN)),
    ],
    PipeRole: [
      allow('dynamodb:ListStreams', SOURCE_STREAM_ARN),
      allow(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], SOURCE_STREAM_ARN),
      allow('lambda:InvokeFunction', [join(r.fn('EnrichFunction'), ':$LATEST'), r.fn('EnrichFunction')]),
      allow(send, r.queue('Queue')),
      allow(send, r.queue('PipeDeadLetterQueue')),
      logs('PipeLogGroup'),
      ...extra(allow(['kms:GenerateDataKey', 'kms:Decrypt'], QUEUE_KEY_ARN)),
    ],
  };
}

describe('source-account roles: exact actions and resources', () => {
  test.each(['EnrichRole', 'ApplyRole', 'PipeRole'] as const)('%s without a key or tracing', (role) => {
    const template = synths.plain;
    expect(statementsOfRole(template, ids(template).role(role))).toEqual(sortStatements(expectedStatements(template, false)[role]));
  });

  test.each(['EnrichRole', 'ApplyRole', 'PipeRole'] as const)('%s with options.kmsKeyArn and tracing: exactly the KMS actions SQS needs, on exactly that key', (role) => {
    const template = synths.secured;
    expect(statementsOfRole(template, ids(template).role(role))).toEqual(sortStatements(expectedStatements(template, true)[role]));
  });

  test('the roles of a target without a key get no KMS permission, even when another target has one', () => {
    for (const role of ['EnrichRole', 'ApplyRole', 'PipeRole']) {
      const roleId = targetResourceId(synths.secured, 'eu-analytics', 'AWS::IAM::Role', role);
      expect(JSON.stringify(statementsOfRole(synths.secured, roleId))).not.toMatch(/kms:|xray:/);
    }
  });
});

describe('target role', () => {
  const tableStatement = allow(
    ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Scan'],
    join('arn:', partition, ':dynamodb:eu-central-1:222222222222:table/orders-replica'),
  );
  const roleId = (template: Template_) => Object.keys(template.findResources('AWS::IAM::Role'))[0];
  // The replication state table (handlers/core/replication-state.ts): the apply's and the sampled verify's conditional writes only.
  const stateStatement = (template: Template_) => allow('dynamodb:UpdateItem', getAtt(Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0]));

  test('with targetTableKmsKeyArn: table writes plus Encrypt/Decrypt/GenerateDataKey/DescribeKey on exactly that key', () => {
    const template = synths.securedDrAccess;
    expect(statementsOfRole(template, roleId(template))).toEqual(sortStatements([
      tableStatement,
      allow(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], TARGET_TABLE_KEY_ARN),
      stateStatement(template),
    ]));
  });

  test('without it: table writes only (and UpdateItem on its state table)', () => {
    const template = Template.fromStack(fastApp().targetAccessStacks.get('dr')!);
    expect(statementsOfRole(template, roleId(template))).toEqual(sortStatements([tableStatement, stateStatement(template)]));
  });

  test('the config only accepts a table key of the target Region', () => {
    expect(() => configWithDr({ targetTableKmsKeyArn: 'arn:aws:kms:eu-west-1:222222222222:key/abcd1234-12ab-34cd-56ef-1234567890ab' })).toThrow(
      'targets.0.targetTableKmsKeyArn: must be a key in the target Region eu-central-1',
    );
  });
});

describe('cdk-nag with every option on', () => {
  test('every stack of the secured config synthesizes with no unacknowledged finding', () => {
    const { replicationStack, targetAccessStacks } = fastApp(securedConfig());
    for (const stack of [replicationStack, ...targetAccessStacks.values()]) expect(() => Template.fromStack(stack)).not.toThrow();
  });

  test('the X-Ray wildcard is acknowledged only on roles of traced functions, and LambdaTracing only on untraced ones', () => {
    const { app } = fastApp(securedConfig());
    const acked = (rule: string) =>
      app.node.findAll()
        .filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && Object.keys(m.data as object).some((k) => k.endsWith(rule))))
        .map((c) => c.node.path)
        .sort();
    expect(acked('AwsSolutions-IAM5[Resource::*]').filter((p) => p.includes('/Replication/'))).toEqual(['Ddbrepl-orders/Replication/dr/ApplyRole', 'Ddbrepl-orders/Replication/dr/EnrichRole']);
    expect(acked('Serverless-LambdaTracing')).toEqual(['Ddbrepl-orders/Replication/eu-analytics/ApplyFunction', 'Ddbrepl-orders/Replication/eu-analytics/EnrichFunction']);
  });
});

function configWithDr(dr: Record<string, unknown>) {
  const input = testConfigInput();
  Object.assign((input.targets as Record<string, unknown>[])[0], dr);
  return parseReplicationConfig(input);
}
