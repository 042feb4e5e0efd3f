import { Match, Template } from 'aws-cdk-lib/assertions';
import { fastApp, testConfig } from './support';

const sourceRole = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::111111111111:role/${name}`]] });

describe('TargetAccessStack', () => {
  const { app, targetAccessStacks } = fastApp();

  test('one stack per target, in the target account and Region', () => {
    expect([...targetAccessStacks.keys()]).toEqual(['dr', 'eu-analytics']);
    const dr = targetAccessStacks.get('dr')!;
    expect(dr.stackName).toBe('Ddbrepl-orders-dr-access');
    expect(dr.account).toBe('222222222222');
    expect(dr.region).toBe('eu-central-1');
    expect(app.node.tryFindChild('Ddbrepl-orders')).toBeDefined();
  });

  test('the target role trusts the source account, narrowed to the apply, initial-load, sampled-verify and verify-job role ARNs, and requires the ExternalId', () => {
    const template = Template.fromStack(targetAccessStacks.get('dr')!);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', Match.exact({
      RoleName: 'ddbrepl-orders-dr-target',
      Description: Match.anyValue(),
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:root']] } },
          Condition: {
            ArnEquals: { 'aws:PrincipalArn': [sourceRole('ddbrepl-orders-dr-apply'), sourceRole('ddbrepl-orders-dr-load'), sourceRole('ddbrepl-orders-dr-verify'), sourceRole('ddbrepl-orders-dr-verify-job')] },
            StringEquals: { 'sts:ExternalId': 'orders-dr-7f3c1a' },
          },
        }],
      },
    }));
  });

  test('the target role may only Put/Delete/BatchWrite/Describe on the target table, read it (GetItem/Scan) for verification, and UpdateItem its state table', () => {
    const template = Template.fromStack(targetAccessStacks.get('eu-analytics')!);
    template.resourceCountIs('AWS::IAM::Policy', 1);
    const stateTableId = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.exact({
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Scan'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':dynamodb:eu-west-3:333333333333:table/orders-analytics']] },
        }, {
          // The failover reads the state with the operator's own target-account access, not this role.
          Effect: 'Allow',
          Action: 'dynamodb:UpdateItem',
          Resource: { 'Fn::GetAtt': [stateTableId, 'Arn'] },
        }],
      }),
    });
    expect(Object.keys(template.findResources('AWS::IAM::ManagedPolicy'))).toHaveLength(0);
  });

  test('a target that brings its own roleArn gets no access stack, and apply assumes that role', () => {
    const ownRole = 'arn:aws:iam::222222222222:role/team-managed-writer';
    const { targetAccessStacks: stacks, replicationStack } = fastApp(testConfig((input) => {
      (input.targets as Record<string, unknown>[])[0].roleArn = ownRole;
    }));
    expect([...stacks.keys()]).toEqual(['eu-analytics']);
    Template.fromStack(replicationStack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ownRole }]) },
    });
  });

  test('a replication state table in the target account: fixed name, key "kind", on demand, encrypted, PITR, retained; its name an output', () => {
    const template = Template.fromStack(targetAccessStacks.get('dr')!);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        TableName: 'ddbrepl-orders-dr-state',
        KeySchema: [{ AttributeName: 'kind', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'kind', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        Replicas: [Match.objectLike({ Region: 'eu-central-1', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      }),
    });
    template.hasOutput('StateTableName', { Value: { Ref: Match.anyValue() } });
  });

  test('the apply and the sampled verify of each target get the state table\'s fixed name (STATE_TABLE_NAME), as the template states it', () => {
    const { replicationStack } = fastApp(testConfig((input) => {
      (input.targets as Record<string, unknown>[])[0].continuousVerify = {};
    }));
    const template = Template.fromStack(replicationStack);
    const stateEnv = (functionName: string) => {
      const fn = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: functionName } }))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } } | undefined;
      return fn?.Properties.Environment.Variables.STATE_TABLE_NAME;
    };
    expect(stateEnv('ddbrepl-orders-dr-apply')).toBe('ddbrepl-orders-dr-state');
    expect(stateEnv('ddbrepl-orders-dr-verify')).toBe('ddbrepl-orders-dr-state');
    expect(stateEnv('ddbrepl-orders-eu-analytics-apply')).toBe('ddbrepl-orders-eu-analytics-state');
  });
});
