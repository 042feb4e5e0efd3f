import { Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { ReplicationTarget } from '../../infra/constructs/replication-target';
import { parseReplicationConfig, InvalidReplicationConfigError } from '../../schemas/replication-config';
import { FAST_APP_PROPS, fastApp, SOURCE_STREAM_ARN, testConfig, testConfigInput } from './support';

/**
 * Issue 12 §1: what AWS documents and the templates broke. Each test here failed before its fix
 * (docs/aws-contracts.md names the documentation page of each rule).
 */

/** The options object of target `i` of a raw config input, created when absent. */
function targetOptions(input: Record<string, unknown>, i: number): Record<string, unknown> {
  const target = (input.targets as Record<string, unknown>[])[i]!;
  target.options ??= {};
  return target.options as Record<string, unknown>;
}

describe('pipe batch size (an SQS target takes at most 10 records per batch)', () => {
  test('the default is 10', () => {
    const template = Template.fromStack(fastApp(testConfig((input) => { delete targetOptions(input, 1).pipeBatchSize; })).replicationStack);
    for (const pipe of Object.values(template.findResources('AWS::Pipes::Pipe'))) {
      expect(pipe.Properties.SourceParameters.DynamoDBStreamParameters.BatchSize).toBe(10);
    }
  });

  test('the config refuses more than 10 with the field path and the reason', () => {
    const input = testConfigInput();
    targetOptions(input, 1).pipeBatchSize = 11;
    expect(() => parseReplicationConfig(input)).toThrow(InvalidReplicationConfigError);
    expect(() => parseReplicationConfig(input)).toThrow('targets.1.options.pipeBatchSize: at most 10: the pipe\'s target is an SQS queue, which takes at most 10 records per batch');
  });

  test('the construct refuses more than 10 at synth with the prop path and the reason', () => {
    const stack = new Stack(new App(FAST_APP_PROPS), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
    const sourceTable = TableV2.fromTableAttributes(stack, 'Source', { tableName: 'orders', tableStreamArn: SOURCE_STREAM_ARN });
    expect(() => new ReplicationTarget(stack, 'T', {
      replicationName: 'orders', targetName: 'dr', sourceTable, keySchema: { partitionKey: { name: 'pk', type: 'S' } },
      targetTableName: 'orders-replica', targetRegion: 'eu-central-1', targetRoleArn: 'arn:aws:iam::222222222222:role/r', externalId: 'orders-dr-7f3c1a',
      options: { pipeBatchSize: 100 },
    })).toThrow('ReplicationTarget "dr": options.pipeBatchSize: at most 10: the pipe\'s target is an SQS queue, which takes at most 10 records per batch');
  });
});

describe('creation order (aws-cdk#31211: a pipe created before its role\'s policy fails to create)', () => {
  test('every pipe depends on the default policy of its role', () => {
    const template = Template.fromStack(fastApp().replicationStack);
    const pipes = Object.entries(template.findResources('AWS::Pipes::Pipe'));
    expect(pipes).toHaveLength(2);
    for (const [pipeId, pipe] of pipes) {
      const roleRef = pipe.Properties.RoleArn['Fn::GetAtt'][0] as string;
      const policies = Object.keys(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleRef }] } }));
      expect({ pipeId, policies: policies.length }).toEqual({ pipeId, policies: 1 });
      expect({ pipeId, dependsOn: pipe.DependsOn }).toEqual({ pipeId, dependsOn: expect.arrayContaining([policies[0], roleRef]) });
    }
  });
});
