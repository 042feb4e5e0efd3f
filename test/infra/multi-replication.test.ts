import { Template } from 'aws-cdk-lib/assertions';
import { buildReplicationsApp } from '../../infra/app';
import { parseReplicationConfigs } from '../../schemas/replication-config';
import { threeReplications } from '../support/replications';
import { FAST_APP_PROPS } from './support';

/**
 * Many replications in one config (issue 17 §1): one app synthesizes every replication's stacks,
 * with stack and physical names unique across the whole assembly and cdk-nag clean.
 */
/** Properties that name a resource account-wide (not MetricName, nor PolicyName of an inline policy). */
const PHYSICAL_NAME_KEYS = new Set(['RoleName', 'QueueName', 'FunctionName', 'Name', 'TopicName', 'DashboardName', 'AlarmName', 'LogGroupName', 'BucketName']);

/** Every literal physical name in a template, as `Type Property=value`. */
function physicalNames(template: Record<string, unknown>): string[] {
  const resources = (template.Resources ?? {}) as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const names: string[] = [];
  for (const { Type, Properties } of Object.values(resources)) {
    for (const [key, value] of Object.entries(Properties ?? {})) {
      if (PHYSICAL_NAME_KEYS.has(key) && typeof value === 'string') names.push(`${Type} ${key}=${value}`);
    }
  }
  return names;
}

describe('a config with three replications', () => {
  const configs = parseReplicationConfigs(threeReplications());
  const { app, replications } = buildReplicationsApp(configs, { appProps: FAST_APP_PROPS });
  const assembly = app.synth();

  test('one app holds every replication\'s stacks, named per replication', () => {
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'Ddbrepl-carts', 'Ddbrepl-carts-dr-access',
      'Ddbrepl-customers', 'Ddbrepl-customers-dr-access',
      'Ddbrepl-orders', 'Ddbrepl-orders-analytics-access', 'Ddbrepl-orders-dr-access',
    ]);
    expect(replications.map((r) => r.replicationStack.stackName)).toEqual(['Ddbrepl-orders', 'Ddbrepl-customers', 'Ddbrepl-carts']);
  });

  test('no two resources of the assembly share a physical name', () => {
    const names = assembly.stacks.flatMap((s) => physicalNames(s.template as Record<string, unknown>));
    // The three replications each have a target "dr": their resources must still differ.
    expect(names).toEqual(expect.arrayContaining([
      'AWS::SQS::Queue QueueName=ddbrepl-orders-dr.fifo',
      'AWS::SQS::Queue QueueName=ddbrepl-customers-dr.fifo',
      'AWS::IAM::Role RoleName=ddbrepl-carts-dr-apply',
      'AWS::IAM::Role RoleName=ddbrepl-carts-dr-target',
      'AWS::Lambda::Function FunctionName=ddbrepl-customers-dr-apply',
    ]));
    expect(names.length).toBeGreaterThan(40);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  });

  test('every stack is cdk-nag clean (Template.fromStack throws on an unacknowledged finding)', () => {
    for (const r of replications) {
      for (const stack of [r.replicationStack, ...r.targetAccessStacks.values()]) expect(() => Template.fromStack(stack)).not.toThrow();
    }
  });

  test('each target access stack trusts only its own replication\'s roles', () => {
    const trust = Template.fromStack(replications[1].targetAccessStacks.get('dr')!).findResources('AWS::IAM::Role');
    expect(JSON.stringify(trust)).toContain('role/ddbrepl-customers-dr-apply');
    expect(JSON.stringify(trust)).not.toContain('ddbrepl-orders-');
  });
});
