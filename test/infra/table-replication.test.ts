import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ConfigurationError } from '../../handlers/core/errors';
import { invalidAttachToMessage, TableReplication, type AddTargetProps } from '../../infra/constructs/table-replication';
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
  test('a third target attaches to an existing pipe instead of opening a third stream reader', () => {
    const r = replication();
    r.addTarget(target('one'));
    r.addTarget(target('two'));
    const three = r.addTarget(target('three'));
    expect(three.attachedTo?.targetName).toBe('one');
    expect(three.pipe).toBe(r.targets[0]?.pipe);
    expect(r.pipeOwners.map((t) => t.targetName)).toEqual(['one', 'two']);
    expect(r.targets.map((t) => t.targetName)).toEqual(['one', 'two', 'three']);
  });

  test('a config with three targets synthesizes', () => {
    const config = testConfig((input) => {
      const targets = input.targets as Record<string, unknown>[];
      targets.push({ ...targets[0], name: 'third' });
    });
    // Template.fromStack synthesizes (cdk-nag runs there): two pipes for three targets, each target its own FIFO queue, DLQ and apply mapping.
    const template = Template.fromStack(buildApp(config, { appProps: FAST_APP_PROPS }).replicationStack);
    template.resourceCountIs('AWS::Pipes::Pipe', 2);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    expect(Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true } }))).toHaveLength(6);
  });

  test('attachTo must name an earlier target with its own pipe', () => {
    const r = replication();
    r.addTarget(target('one'));
    expect(() => r.addTarget(target('two', { attachTo: 'nope' }))).toThrow(new ConfigurationError(invalidAttachToMessage('two', 'nope', ['one'])));
    expect(invalidAttachToMessage('two', 'nope', ['one'])).toBe(
      'Cannot attach target "two" to "nope": attachTo must name a target added before it that has its own pipe ("one").',
    );
    r.addTarget(target('two', { attachTo: 'one' }));
    expect(() => r.addTarget(target('three', { attachTo: 'two' }))).toThrow(invalidAttachToMessage('three', 'two', ['one']));
    expect(() => replication().addTarget(target('first', { attachTo: 'x' }))).toThrow('(none yet)');
  });

  test('two target names that would share stack output ids fail synth', () => {
    const config = testConfig((input) => {
      const targets = input.targets as Record<string, unknown>[];
      targets[0].name = 'dr-1';
      targets[1].name = 'dr1';
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
