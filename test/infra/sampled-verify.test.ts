import { Match, Template } from 'aws-cdk-lib/assertions';
import { fastApp, testConfig } from './support';

/** infra/constructs/sampled-verify.ts through the app, as `continuousVerify` in the config deploys it. */

const withVerify = (autoRepair: boolean, extra: Record<string, unknown> = {}) => testConfig((input) => {
  const targets = input.targets as Record<string, unknown>[];
  targets[0].continuousVerify = { everyMinutes: 10, sampleSize: 50, autoRepair, settleSeconds: 20, ...extra };
});

function roleStatements(template: Template, roleName: string): unknown[] {
  const roleId = Object.entries(template.findResources('AWS::IAM::Role')).find(([, r]) => (r as { Properties: { RoleName?: string } }).Properties.RoleName === roleName)?.[0];
  if (roleId === undefined) throw new Error(`no role ${roleName}`);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleId))
    .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement);
}

describe('continuous sampled verification', () => {
  test('not configured (or enabled: false): no schedule, no function', () => {
    for (const config of [testConfig(), withVerify(false, { enabled: false })]) {
      const template = Template.fromStack(fastApp(config).replicationStack);
      template.resourceCountIs('AWS::Scheduler::Schedule', 0);
      // The sampled verify's name, whole (the verify Glue job's `ddbrepl-orders-dr-verify-job` is another thing).
      expect(JSON.stringify(template.toJSON())).not.toMatch(/[/"]ddbrepl-orders-dr-verify"/);
    }
  });

  test('a schedule every everyMinutes invokes the function, configured from continuousVerify and the target', () => {
    const template = Template.fromStack(fastApp(withVerify(true)).replicationStack);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'ddbrepl-orders-dr-verify',
      ScheduleExpression: 'rate(10 minutes)',
      State: 'ENABLED',
      Target: { Arn: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 0 } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'ddbrepl-orders-dr-verify',
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      ReservedConcurrentExecutions: 1,
      Timeout: 140,
      Environment: {
        Variables: Match.objectLike({
          REPLICATION_NAME: 'orders', TARGET_NAME: 'dr', SOURCE_TABLE_NAME: 'orders', TARGET_TABLE_NAME: 'orders-replica', TARGET_REGION: 'eu-central-1',
          TARGET_EXTERNAL_ID: 'orders-dr-7f3c1a', VERIFY_SAMPLE_SIZE: '50', VERIFY_SETTLE_SECONDS: '20', VERIFY_AUTO_REPAIR: 'true', QUEUE_URL: Match.anyValue(),
        }),
      },
    });
  });

  test('least privilege: read the source table, assume the target role; send to the queue only with autoRepair', () => {
    const repair = roleStatements(Template.fromStack(fastApp(withVerify(true)).replicationStack), 'ddbrepl-orders-dr-verify');
    const actions = (statements: unknown[]) => statements.flatMap((s) => [(s as { Action: string | string[] }).Action].flat()).sort();
    expect(actions(repair)).toEqual(['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Scan', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage', 'sts:AssumeRole']);
    const assume = repair.find((s) => (s as { Action: string }).Action === 'sts:AssumeRole') as { Resource: unknown };
    expect(JSON.stringify(assume.Resource)).toContain('ddbrepl-orders-dr-target');
    const send = repair.find((s) => (s as { Action: string }).Action === 'sqs:SendMessage') as { Resource: unknown };
    expect(JSON.stringify(send.Resource)).toContain('ReplicationdrQueue');
    const noRepair = roleStatements(Template.fromStack(fastApp(withVerify(false)).replicationStack), 'ddbrepl-orders-dr-verify');
    expect(actions(noRepair)).not.toContain('sqs:SendMessage');
    expect(actions(noRepair).some((a) => /PutItem|DeleteItem|BatchWrite|UpdateItem/.test(a))).toBe(false);
  });

  test('an alarm on any confirmed mismatch, one on failed runs, and a dashboard row', () => {
    const template = Template.fromStack(fastApp(withVerify(false)).replicationStack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ddbrepl-orders-dr-verify-mismatches',
      MetricName: 'VerifyMismatches',
      Namespace: 'DynamoDBCrossAccountReplication',
      Dimensions: [{ Name: 'Replication', Value: 'orders' }, { Name: 'Target', Value: 'dr' }],
      Statistic: 'Sum',
      Period: 600,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmDescription: Match.stringLikeRegexp('ddb-replicate verify --target dr --repair'),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'ddbrepl-orders-dr-verify-errors', MetricName: 'Errors', Threshold: 1 });
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('sampled verification');
    expect(body).toContain('VerifySampled');
  });

  test('a bad continuousVerify is refused by the config schema with its path', () => {
    expect(() => withVerify(false, { everyMinutes: 0 })).toThrow(/targets\.0\.continuousVerify\.everyMinutes/);
  });
});
