import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { messageOf, resyncEnvelope } from '../../cli/operator/queues';
import type { ReplicationTarget } from '../../infra/constructs/replication-target';
import { runCli } from '../support/run-cli';
import { fastApp, logicalIdOf, testConfig, testConfigInput } from './support';

/**
 * The `grant…` methods of ReplicationTarget give an operator's role exactly what the CLI commands
 * call. The oracle is the table below, checked from both sides: the real commands run against
 * recording SDK clients (what they call is the table), and the synthesized policy of a role
 * granted through each method is the table, action by action and resource by resource.
 *
 * Resources are named by role: `stack` (the replication stack), `queue`, `dlq`, `mapping` (the
 * apply's event source mapping), `pipe`, `source-table`, `*`.
 */
type Call = `${string} ${string}`;
const PAUSE_RESUME: Call[] = [
  'cloudformation:DescribeStacks stack',
  'lambda:GetEventSourceMapping mapping',
  'lambda:UpdateEventSourceMapping mapping',
  'sqs:GetQueueAttributes queue',
];
const REPLAY: Call[] = [
  'cloudformation:DescribeStacks stack',
  'sqs:GetQueueAttributes dlq',
  'sqs:ReceiveMessage dlq',
  'sqs:ChangeMessageVisibility dlq',
  'sqs:DeleteMessage dlq',
  'sqs:SendMessage queue',
];
const STATUS: Call[] = [
  'cloudformation:DescribeStacks stack',
  'lambda:GetEventSourceMapping mapping',
  'sqs:GetQueueAttributes queue',
  'sqs:GetQueueAttributes dlq',
  'pipes:DescribePipe pipe',
  'dynamodb:DescribeTable source-table',
  // GetMetricData has no resource-level permissions (docs/aws-contracts.md).
  'cloudwatch:GetMetricData *',
];
const sorted = (calls: Iterable<string>): string[] => [...new Set(calls)].sort();

describe('what the CLI commands call (recording SDK clients, the real commands)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ddbrepl-grants-'));
  const configFile = join(dir, 'replication.config.json');
  // Continuous verification on, so status also reads the last sampled verification.
  const input = testConfigInput();
  (input.targets as Record<string, unknown>[])[0].continuousVerify = {};
  writeFileSync(configFile, JSON.stringify(input));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const mocks = {
    cloudformation: mockClient(CloudFormationClient),
    sqs: mockClient(SQSClient),
    lambda: mockClient(LambdaClient),
    pipes: mockClient(PipesClient),
    dynamodb: mockClient(DynamoDBClient),
    cloudwatch: mockClient(CloudWatchClient),
  };
  const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo';
  const DLQ = 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr-dlq.fifo';
  const depth = { Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } };

  beforeEach(() => {
    for (const mock of Object.values(mocks)) mock.reset();
    mocks.cloudformation.on(DescribeStacksCommand, { StackName: 'Ddbrepl-orders' }).resolves({
      Stacks: [{
        StackName: 'Ddbrepl-orders', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(),
        Outputs: [
          { OutputKey: 'TargetDrQueueUrl', OutputValue: QUEUE },
          { OutputKey: 'TargetDrDeadLetterQueueUrl', OutputValue: DLQ },
          { OutputKey: 'TargetDrEventSourceMappingUuid', OutputValue: 'mapping-uuid' },
          { OutputKey: 'TargetDrPipeName', OutputValue: 'ddbrepl-orders-dr' },
        ],
      }],
    });
    mocks.sqs.on(GetQueueAttributesCommand).resolves(depth);
  });

  /** `service:Action resource-role` of every call the mocks saw. */
  function recorded(): string[] {
    const calls: string[] = [];
    for (const [service, mock] of Object.entries(mocks)) {
      for (const call of mock.calls()) {
        const command = call.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> };
        const action = `${service}:${command.constructor.name.replace(/Command$/, '')}`;
        const { input: i } = command;
        const resource = i.StackName !== undefined ? 'stack'
          : i.QueueUrl === DLQ ? 'dlq'
          : i.QueueUrl === QUEUE ? 'queue'
          : i.UUID === 'mapping-uuid' ? 'mapping'
          : i.Name === 'ddbrepl-orders-dr' ? 'pipe'
          : i.TableName === 'orders' ? 'source-table'
          : service === 'cloudwatch' ? '*'
          : `unknown ${JSON.stringify(i)}`;
        calls.push(`${action} ${resource}`);
      }
    }
    return sorted(calls);
  }

  test('pause and resume: the mapping and the queue depth; pause\'s status reads may be denied', async () => {
    mocks.lambda.on(GetEventSourceMappingCommand).resolvesOnce({ State: 'Enabled' }).resolves({ State: 'Disabled' });
    mocks.lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Disabling' });
    // Pause's buffer estimate reads the pipeline's health; without grantReadStatus it is "unknown", not an error.
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    mocks.pipes.on(DescribePipeCommand).rejects(denied);
    mocks.dynamodb.on(DescribeTableCommand).rejects(denied);
    mocks.cloudwatch.on(GetMetricDataCommand).rejects(denied);
    const pause = await runCli('pause', '--config', configFile, '--target', 'dr');
    expect(pause).toMatchObject({ code: 0 });
    const pauseCalls = recorded().filter((call) => !STATUS.includes(call as Call) || PAUSE_RESUME.includes(call as Call));
    for (const mock of Object.values(mocks)) mock.resetHistory();
    mocks.lambda.on(GetEventSourceMappingCommand).resolvesOnce({ State: 'Disabled' }).resolves({ State: 'Enabled' });
    const resume = await runCli('resume', '--config', configFile, '--target', 'dr');
    expect(resume).toMatchObject({ code: 0 });
    expect(sorted([...pauseCalls, ...recorded()])).toEqual(sorted(PAUSE_RESUME));
  });

  test('replay: receive, send, delete, release (an undecodable message is released)', async () => {
    const envelope = resyncEnvelope({ table: 'orders', keys: { pk: { S: 'a' }, sk: { N: '1' } }, groupId: 'g1', eventId: 'e1', origin: 'replay' });
    mocks.sqs.on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: messageOf(envelope).MessageBody }, { MessageId: 'm2', ReceiptHandle: 'r2', Body: 'not an envelope' }] })
      .resolves({ Messages: [] });
    mocks.sqs.on(SendMessageCommand).resolves({ MessageId: 'sent' });
    mocks.sqs.on(DeleteMessageCommand).resolves({});
    mocks.sqs.on(ChangeMessageVisibilityCommand).resolves({});
    const replay = await runCli('replay', '--config', configFile, '--target', 'dr');
    // Exit 1: the undecodable message stays in the DLQ (released with ChangeMessageVisibility).
    expect(replay.stdout).toContain('replayed 1 message as RESYNC, 1 undecodable');
    expect(recorded()).toEqual(sorted(REPLAY));
  });

  test('status: mapping, queue and DLQ, pipe, source table, metrics', async () => {
    mocks.lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    mocks.pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING' });
    mocks.dynamodb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true } } });
    mocks.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const status = await runCli('status', '--config', configFile, '--target', 'dr');
    expect(status.stderr).not.toContain('unreachable');
    expect(recorded()).toEqual(sorted(STATUS));
  });
});

/** What the README tells operators to write for their own role when they run cdk-nag. */
function acknowledgeMetricsWildcard(role: Role): void {
  Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'cloudwatch:GetMetricData has no resource-level permissions; the status command reads the target\'s metrics.' });
}

describe('what the grant methods allow (synthesized policy of a granted role)', () => {
  type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

  /** `action resource-role` pairs of the role's policies, resources named as in the table. */
  function allowed(template: Template, roleId: string, names: [string, string][]): string[] {
    const pairs: string[] = [];
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      const roles = (policy.Properties as { Roles: unknown[] }).Roles;
      if (!JSON.stringify(roles).includes(`"${roleId}"`)) continue;
      for (const statement of (policy.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement) {
        expect(statement.Effect).toBe('Allow');
        const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
        for (const action of [statement.Action].flat()) {
          for (const resource of resources) {
            const text = JSON.stringify(resource);
            const name = text === '"*"' ? '*' : names.find(([, needle]) => text.includes(needle))?.[0] ?? `unknown ${text}`;
            pairs.push(`${action} ${name}`);
          }
        }
      }
    }
    return sorted(pairs);
  }

  /** The policy of a role granted on `targetName` (default `dr`); `pipeOwner` is the target whose pipe feeds it. */
  function granted(grant: (target: ReplicationTarget, role: Role) => void, mutate?: Parameters<typeof testConfig>[0], targetName = 'dr', pipeOwner = targetName) {
    const { replicationStack } = fastApp(testConfig(mutate));
    const role = new Role(replicationStack, 'Operator', { assumedBy: new AccountRootPrincipal() });
    grant(replicationStack.replication.targets.find((t) => t.targetName === targetName)!, role);
    acknowledgeMetricsWildcard(role);
    const template = Template.fromStack(replicationStack);
    const names: [string, string][] = [
      ['stack', 'AWS::StackId'],
      ['dlq', `"${logicalIdOf(template, 'AWS::SQS::Queue', `Replication${targetName}DeadLetterQueue`)}"`],
      ['queue', `"${logicalIdOf(template, 'AWS::SQS::Queue', `Replication${targetName}Queue`)}"`],
      ['mapping', `"${logicalIdOf(template, 'AWS::Lambda::EventSourceMapping', `Replication${targetName}ApplyEventSource`)}"`],
      ['pipe', `"${logicalIdOf(template, 'AWS::Pipes::Pipe', `Replication${pipeOwner}Pipe`)}"`],
      ['source-table', ':table/orders"'],
      ['queue-key', ':key/11111111-2222-3333-4444-555555555555'],
    ];
    return allowed(template, replicationStack.getLogicalId(role.node.defaultChild as never), names);
  }

  test('grantPauseResume', () => {
    expect(granted((t, role) => t.grantPauseResume(role))).toEqual(sorted(PAUSE_RESUME));
  });

  test('grantReplay', () => {
    expect(granted((t, role) => t.grantReplay(role))).toEqual(sorted(REPLAY));
  });

  test('grantReplay with a queue key: SQS uses the key on the operator\'s behalf (decrypt to receive, data key to send)', () => {
    const kms = (input: Record<string, unknown>): void => {
      (input.targets as Record<string, unknown>[])[0].options = { kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555' };
    };
    expect(granted((t, role) => t.grantReplay(role), kms)).toEqual(sorted([...REPLAY, 'kms:GenerateDataKey queue-key', 'kms:Decrypt queue-key']));
  });

  test('grantReadStatus', () => {
    expect(granted((t, role) => t.grantReadStatus(role))).toEqual(sorted(STATUS));
  });

  test('grantReadStatus of an attached target: the pipe it reads is its owner\'s (the stack\'s PipeName output)', () => {
    const third = (input: Record<string, unknown>): void => {
      (input.targets as Record<string, unknown>[]).push({ name: 'third', account: '444444444444', region: 'eu-west-1', tableName: 'table-three', externalId: 'ext-third-123456' });
    };
    // TableReplication attaches the third target to the first pipe owner on a tie (`dr`).
    expect(granted((t, role) => t.grantReadStatus(role), third, 'third', 'dr')).toEqual(sorted(STATUS));
  });

  test('cdk-nag: the only finding of a fully granted role is the GetMetricData wildcard', () => {
    const build = (acknowledge: boolean) => {
      const { replicationStack } = fastApp();
      const role = new Role(replicationStack, 'Operator', { assumedBy: new AccountRootPrincipal() });
      const target = replicationStack.replication.targets[0];
      target.grantPauseResume(role);
      target.grantReplay(role);
      target.grantReadStatus(role);
      if (acknowledge) acknowledgeMetricsWildcard(role);
      return () => Template.fromStack(replicationStack);
    };
    expect(build(false)).toThrow(/AwsSolutions-IAM5[\s\S]*Operator|Operator[\s\S]*AwsSolutions-IAM5/);
    expect(build(true)).not.toThrow();
  });
});
