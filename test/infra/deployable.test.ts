import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ReplicationTarget } from '../../infra/constructs/replication-target';
import { parseReplicationConfig, InvalidReplicationConfigError } from '../../schemas/replication-config';
import { FAST_APP_PROPS, fastApp, logicalIdOf, SOURCE_STREAM_ARN, testConfig, testConfigInput } from './support';

/**
 * Issue 12 §1: what AWS documents and the templates broke. Each test here failed before its fix
 * (docs/aws-contracts.md names the documentation page of each rule).
 */

/** The options object of target `i` of a raw config input, created when absent. */
function targetOptions(input: Record<string, unknown>, i: number): Record<string, unknown> {
  const target = (input.targets as Record<string, unknown>[])[i];
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

describe('source table with a customer managed KMS key (source.kmsKeyArn)', () => {
  const SOURCE_KEY_ARN = 'arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  const withKey = testConfig((input) => { (input.source as Record<string, unknown>).kmsKeyArn = SOURCE_KEY_ARN; });
  const keyed = Template.fromStack(fastApp(withKey).replicationStack);
  const plain = Template.fromStack(fastApp().replicationStack);

  /** Every statement of every policy attached to the role whose logical id is `<prefix><hash>`. */
  const statementsOf = (template: Template, rolePrefix: string) => {
    const role = logicalIdOf(template, 'AWS::IAM::Role', rolePrefix);
    return Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: role }]) } }))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
  };
  const kmsStatements = (template: Template, rolePrefix: string) => statementsOf(template, rolePrefix).filter((s) => JSON.stringify(s.Action).includes('kms:'));
  const readers = ['ReplicationdrPipeRole', 'ReplicationeuanalyticsPipeRole', 'ReplicationdrApplyRole', 'ReplicationeuanalyticsApplyRole', 'InitialLoadDrRole', 'InitialLoadEuAnalyticsRole'];

  test('the config takes a KMS key ARN of the source Region only', () => {
    expect(withKey.source.kmsKeyArn).toBe(SOURCE_KEY_ARN);
    const input = testConfigInput();
    (input.source as Record<string, unknown>).kmsKeyArn = 'arn:aws:kms:us-east-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    expect(() => parseReplicationConfig(input)).toThrow('source.kmsKeyArn: must be a key in the source Region eu-west-1 (a table is encrypted with a key of its own Region)');
    (input.source as Record<string, unknown>).kmsKeyArn = 'arn:aws:kms:eu-west-1:111111111111:alias/orders';
    expect(() => parseReplicationConfig(input)).toThrow(/source\.kmsKeyArn: a KMS key ARN/);
  });

  test('each pipe role (stream reads), apply role (RESYNC GetItem) and initial-load role gets exactly kms:Decrypt on that key', () => {
    for (const role of readers) {
      const decrypts = kmsStatements(keyed, role).filter((s) => s.Resource === SOURCE_KEY_ARN);
      expect({ role, decrypts }).toEqual({ role, decrypts: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: SOURCE_KEY_ARN }] });
    }
  });

  test('the enrichment gets nothing of the key (it never reads the table)', () => {
    for (const role of ['ReplicationdrEnrichRole', 'ReplicationeuanalyticsEnrichRole']) expect(kmsStatements(keyed, role)).toEqual([]);
  });

  test('each pipe depends on the policy that holds its grant', () => {
    for (const [pipeId, pipe] of Object.entries(keyed.findResources('AWS::Pipes::Pipe'))) {
      const roleRef = pipe.Properties.RoleArn['Fn::GetAtt'][0] as string;
      const [policyId] = Object.entries(keyed.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleRef }] } }))
        .find(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(SOURCE_KEY_ARN))!;
      expect({ pipeId, dependsOn: pipe.DependsOn }).toEqual({ pipeId, dependsOn: expect.arrayContaining([policyId]) });
    }
  });

  test('without source.kmsKeyArn no reader gets a KMS grant: pipe and apply have none, initial load only its own job key', () => {
    for (const role of readers.filter((r) => !r.startsWith('InitialLoad'))) expect({ role, kms: kmsStatements(plain, role) }).toEqual({ role, kms: [] });
    for (const role of readers.filter((r) => r.startsWith('InitialLoad'))) {
      const ownKey = logicalIdOf(plain, 'AWS::KMS::Key', `${role.replace(/Role$/, '')}Key`);
      expect(kmsStatements(plain, role).map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [ownKey, 'Arn'] }]);
      expect(kmsStatements(keyed, role)).toHaveLength(2);
      expect(kmsStatements(keyed, role)).toEqual(expect.arrayContaining([...kmsStatements(plain, role), { Effect: 'Allow', Action: 'kms:Decrypt', Resource: SOURCE_KEY_ARN }]));
    }
  });
});

describe('SendMessageBatch payload (the pipe sends each enrichment result to the queue in one batch of ≤ 1 MiB)', () => {
  const ONE_MIB = 1_048_576;

  test('the defaults fit: pipeBatchSize × resyncThresholdBytes ≤ 1 MiB', () => {
    const { options } = testConfig().targets[0];
    expect(options.pipeBatchSize * options.resyncThresholdBytes).toBeLessThanOrEqual(ONE_MIB);
  });

  test('a config whose full batch of envelopes could exceed 1 MiB fails with the field path and the reason', () => {
    const input = testConfigInput();
    targetOptions(input, 0).resyncThresholdBytes = 200_000;
    expect(() => parseReplicationConfig(input)).toThrow('targets.0.options.resyncThresholdBytes: pipeBatchSize (10) × resyncThresholdBytes (200000) must be at most 1048576: the pipe sends a batch\'s envelopes in one SendMessageBatch, whose total payload is at most 1 MiB; lower either');
    targetOptions(input, 0).pipeBatchSize = 5;
    expect(parseReplicationConfig(input).targets[0].options.resyncThresholdBytes).toBe(200_000);
  });
});
