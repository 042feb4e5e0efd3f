import { App, Stack } from 'aws-cdk-lib';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ConfigurationError } from '../../handlers/core/errors';
import { TableReplication, tooManyPipesMessage, type AddTargetProps } from '../../infra/constructs/table-replication';
import { buildApp } from '../../infra/app';
import { FAST_APP_PROPS, SOURCE_STREAM_ARN, testConfig } from './support';

const KEY_SCHEMA = { partitionKey: { name: 'pk', type: 'S' as const } };

function replication({ withStream = true } = {}): TableReplication {
  const stack = new Stack(new App(FAST_APP_PROPS), 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
  const sourceTable = TableV2.fromTableAttributes(stack, 'Source', { tableName: 'orders', tableStreamArn: withStream ? SOURCE_STREAM_ARN : undefined });
  return new TableReplication(stack, 'Replication', { replicationName: 'orders', sourceTable, keySchema: KEY_SCHEMA });
}

function target(name: string, overrides: Partial<AddTargetProps> = {}): AddTargetProps {
  return {
    targetName: name,
    targetTableName: 'orders-replica',
    targetRegion: 'eu-central-1',
    targetRoleArn: `arn:aws:iam::222222222222:role/ddbrepl-orders-${name}-target`,
    externalId: 'ext-id-1',
    ...overrides,
  };
}

describe('TableReplication.addTarget', () => {
  test('a third target fails: two readers per shard, fan-out is the plan', () => {
    const r = replication();
    r.addTarget(target('one'));
    r.addTarget(target('two'));
    expect(() => r.addTarget(target('three'))).toThrow(new ConfigurationError(tooManyPipesMessage('three', 'orders')));
    expect(tooManyPipesMessage('three', 'orders')).toBe(
      'Cannot add target "three" to table orders: a DynamoDB stream allows at most two readers per shard (more throttle the stream), ' +
        'and each target here has its own pipe reading the stream. Attaching the target\'s queue to an existing pipe is the planned fan-out; ' +
        'until then, replicate to at most 2 targets per source table.',
    );
    expect(r.targets.map((t) => t.targetName)).toEqual(['one', 'two']);
  });

  test('a config with three targets fails synth with that message', () => {
    const config = testConfig((input) => {
      const targets = input.targets as Record<string, unknown>[];
      targets.push({ ...targets[0]!, name: 'third' });
    });
    expect(() => buildApp(config, { appProps: FAST_APP_PROPS })).toThrow(tooManyPipesMessage('third', 'orders'));
  });

  test('two target names that would share stack output ids fail synth', () => {
    const config = testConfig((input) => {
      const targets = input.targets as Record<string, unknown>[];
      targets[0]!.name = 'dr-1';
      targets[1]!.name = 'dr1';
    });
    expect(() => buildApp(config, { appProps: FAST_APP_PROPS })).toThrow('targets "dr-1" and "dr1" would share the stack output ids TargetDr1QueueUrl…; rename one of them');
  });

  test('the same target twice fails', () => {
    const r = replication();
    r.addTarget(target('one'));
    expect(() => r.addTarget(target('one'))).toThrow('Cannot add target "one" twice to replication orders');
  });

  test('invalid props fail early with the prop path and the reason', () => {
    expect(() => replication().addTarget(target('one', { options: { applyBatchSize: 11 } }))).toThrow(
      /^ReplicationTarget "one": options\.applyBatchSize: Too big: expected number to be <=10$/,
    );
    expect(() => replication().addTarget(target('Bad_Name'))).toThrow(/^ReplicationTarget "Bad_Name": targetName: lower-case letters/);
    expect(() => replication().addTarget(target('one', { filter: { eventNames: [] } }))).toThrow(
      'ReplicationTarget "one": filter.eventNames: at least one event name, or the target would receive nothing',
    );
    expect(() => replication().addTarget(target('one', { pipeMaximumRetryAttempts: -1 }))).toThrow(/pipeMaximumRetryAttempts must be an integer from 0 to 10000/);
  });

  test('a source table imported without its stream fails with how to import it', () => {
    expect(() => replication({ withStream: false }).addTarget(target('one'))).toThrow(
      'ReplicationTarget "one": sourceTable has no stream; import it with TableV2.fromTableAttributes(scope, id, { tableName, tableStreamArn })',
    );
  });
});
