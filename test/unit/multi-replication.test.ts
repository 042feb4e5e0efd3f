import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { loadReplicationConfig, loadReplicationConfigs } from '../../infra/config';
import { InvalidReplicationConfigError, parseReplicationConfigs } from '../../schemas/replication-config';
import { threeReplications } from '../support/replications';
import { runCli as run } from '../support/run-cli';

/**
 * Many replications in one config (issue 17 §1): both shapes parse to a list, the cross-replication
 * checks (names, shared sources, loops) name the fields, and the CLI resolves `--replication`.
 */
// The raw (pre-parse) JSON shape these tests edit: loose on purpose, the parser is what is under test.
type Json = Record<string, unknown>;
type ReplicationInput = Json & { source: Json; targets: Json[] };
type Input = { replications: ReplicationInput[] };
const three = (): Input => threeReplications() as Input;
const single = (): ReplicationInput => ({ ...three().replications[0] });

describe('parseReplicationConfigs', () => {
  test('the single-replication shape stays valid and becomes a list of one, defaults applied', () => {
    const [config, ...rest] = parseReplicationConfigs(single());
    expect(rest).toEqual([]);
    expect(config.replicationName).toBe('orders');
    expect(config.targets[0].options.maxReceiveCount).toBe(5);
  });

  test('the list shape keeps config order', () => {
    expect(parseReplicationConfigs(three()).map((c) => c.replicationName)).toEqual(['orders', 'customers', 'carts']);
  });

  test('a field error inside the list names its replication', () => {
    const input = three();
    input.replications[2].targets[0].account = '42';
    expect(() => parseReplicationConfigs(input, 'cfg.json')).toThrow('cfg.json is invalid:\n  replications.2.targets.0.account: a 12-digit AWS account id');
  });

  test('an empty list is refused', () => {
    expect(() => parseReplicationConfigs({ replications: [] })).toThrow('replications: at least one replication');
  });

  test('duplicate replication names, and names that could clash ("a" and "a-b")', () => {
    const dup = three();
    dup.replications[2].replicationName = 'orders';
    expect(() => parseReplicationConfigs(dup)).toThrow('replications.2.replicationName: duplicate replication name "orders" (also replications.0)');
    const prefix = three();
    prefix.replications[1].replicationName = 'orders-eu';
    expect(() => parseReplicationConfigs(prefix)).toThrow('replications.1.replicationName: "orders-eu" and "orders" (replications.0) could give two resources the same name');
  });

  test('two replications of one source table are refused (stream readers)', () => {
    const input = three();
    input.replications[1].source = { ...input.replications[0].source };
    expect(() => parseReplicationConfigs(input)).toThrow('replications.1.source.tableName: table 111111111111/eu-west-1/orders is already the source of replications.0');
  });

  describe('loop check', () => {
    test('a pair replicated both ways is refused, naming both fields', () => {
      const input = three();
      // carts now replicates orders-replica (dr account) back into orders: a loop with replications.0.targets.0.
      input.replications[2] = {
        replicationName: 'back',
        source: { account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', tableStreamArn: 'arn:aws:dynamodb:eu-central-1:222222222222:table/orders-replica/stream/2026-12-01T00:00:00.000', keySchema: { partitionKey: { name: 'pk', type: 'S' } } },
        targets: [{ name: 'primary', account: '111111111111', region: 'eu-west-1', tableName: 'orders', externalId: 'back-primary-1' }],
      };
      expect(() => parseReplicationConfigs(input)).toThrow(
        'replications.2.targets.0.tableName: replication loop: replications.2.targets.0 replicates 222222222222/eu-central-1/orders-replica → 111111111111/eu-west-1/orders, ' +
        'and replications.0.targets.0 replicates 111111111111/eu-west-1/orders → 222222222222/eu-central-1/orders-replica',
      );
    });

    test('a target that is its own source is refused, in either shape', () => {
      const config = single();
      config.targets = [{ ...config.targets[0], account: '111111111111', region: 'eu-west-1', tableName: 'orders' }];
      expect(() => parseReplicationConfigs(config)).toThrow('  targets.0.tableName: target dr is the source table 111111111111/eu-west-1/orders itself: a replication loop');
      expect(() => parseReplicationConfigs({ replications: [config] })).toThrow('  replications.0.targets.0.tableName: target dr is the source table');
    });

    test('the same table name in another account is not a loop', () => {
      const input = three();
      input.replications[0].targets[0].tableName = 'orders';
      expect(parseReplicationConfigs(input)).toHaveLength(3);
    });
  });
});

describe('loading a config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ddbrepl-multi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('loadReplicationConfigs reads the list; loadReplicationConfig wants exactly one', () => {
    const file = join(dir, 'three.json');
    writeFileSync(file, JSON.stringify(three()));
    expect(loadReplicationConfigs(file)).toHaveLength(3);
    expect(() => loadReplicationConfig(file)).toThrow(new InvalidReplicationConfigError(`replication config ${file} holds 3 replications (orders, customers, carts); name one`));
  });
});

describe('CLI: --replication', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ddbrepl-multi-cli-'));
  const file = join(dir, 'replication.config.json');
  writeFileSync(file, JSON.stringify(three()));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cfn = mockClient(CloudFormationClient);
  const sqs = mockClient(SQSClient);
  const lambda = mockClient(LambdaClient);
  const pipes = mockClient(PipesClient);
  const ddb = mockClient(DynamoDBClient);
  const cloudWatch = mockClient(CloudWatchClient);
  beforeEach(() => {
    for (const mock of [cfn, sqs, lambda, pipes, ddb, cloudWatch]) mock.reset();
  });

  /** Stack `Ddbrepl-<name>` with one output set per target. */
  const deploy = (replication: string, targets: string[]): void => {
    const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
    cfn.on(DescribeStacksCommand, { StackName: `Ddbrepl-${replication}` }).resolves({
      Stacks: [{
        StackName: `Ddbrepl-${replication}`, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(),
        Outputs: targets.flatMap((t) => [
          { OutputKey: `Target${pascal(t)}QueueUrl`, OutputValue: `https://sqs/ddbrepl-${replication}-${t}.fifo` },
          { OutputKey: `Target${pascal(t)}DeadLetterQueueUrl`, OutputValue: `https://sqs/ddbrepl-${replication}-${t}-dlq.fifo` },
          { OutputKey: `Target${pascal(t)}EventSourceMappingUuid`, OutputValue: `uuid-${replication}-${t}` },
          { OutputKey: `Target${pascal(t)}PipeName`, OutputValue: `ddbrepl-${replication}-${t}` },
        ]),
      }],
    });
  };

  test.each([['pause'], ['replay'], ['verify'], ['bootstrap']])('%s without --replication: exit 2, the error lists the replications', async (command) => {
    const result = await run(command, '--config', file, '--target', 'dr');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: the config has 3 replications; name one with --replication NAME (one of: orders, customers, carts)');
    expect(cfn.calls()).toHaveLength(0);
  });

  test('an unknown --replication lists the configured ones', async () => {
    const result = await run('pause', '--config', file, '--replication', 'invoices', '--target', 'dr');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: replication "invoices" is not in the config; configured replications: orders, customers, carts');
  });

  test('--replication picks the stack of that replication, and the printed next commands name it', async () => {
    deploy('customers', ['dr']);
    lambda.on(GetEventSourceMappingCommand).resolvesOnce({ State: 'Enabled' }).resolves({ State: 'Disabled' });
    lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Disabling' });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
    pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING' });
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true } } });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const result = await run('pause', '--config', file, '--replication', 'customers', '--target', 'dr');
    expect(result.code).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName)).toEqual(['Ddbrepl-customers']);
    expect(lambda.commandCalls(GetEventSourceMappingCommand)[0].args[0].input.UUID).toBe('uuid-customers-dr');
    expect(result.stdout).toContain('ddb-replicate resume --replication customers --target dr');
  });

  test('status without arguments: every replication and target in one table', async () => {
    deploy('orders', ['dr', 'analytics']);
    deploy('customers', ['dr']);
    cfn.on(DescribeStacksCommand, { StackName: 'Ddbrepl-carts' }).rejects(Object.assign(new Error('Stack with id Ddbrepl-carts does not exist'), { name: 'ValidationError' }));
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    lambda.on(GetEventSourceMappingCommand, { UUID: 'uuid-customers-dr' }).resolves({ State: 'Disabled' });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: 'https://sqs/ddbrepl-orders-analytics-dlq.fifo' }).resolves({ Attributes: { ApproximateNumberOfMessages: '3', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
    pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING' });
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true } } });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'oldest', Values: [30] }, { Id: 'lagp99', Values: [850] }] });

    const result = await run('status', '--config', file);
    expect(result.code).toBe(1); // carts is not deployed
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^REPLICATION\s+TARGET\s+PIPE\s+APPLY\s+QUEUE\s+DLQ\s+OLDEST\s+LAG P99\s+WARNINGS$/);
    expect(lines.slice(1, 5).map((l) => l.split(/\s{2,}/))).toEqual([
      ['orders', 'dr', 'RUNNING', 'Enabled', '0', '0', '30 s', '850 ms', '0'],
      ['orders', 'analytics', 'RUNNING', 'Enabled', '0', '3', '30 s', '850 ms', '1'],
      ['customers', 'dr', 'RUNNING', 'Disabled', '0', '0', '30 s', '850 ms', '1'],
      ['carts', 'dr', 'not resolved', '?', '?', '?', '?', '?', '?'],
    ]);
    expect(result.stdout).toContain('✗ orders/analytics: DLQ has 3 messages: run `ddb-replicate replay --replication orders --target analytics`');
    expect(result.stdout).toContain('! customers/dr: apply is paused: run `ddb-replicate resume --replication customers --target dr`');
    expect(result.stdout).toContain('? carts/dr: stack Ddbrepl-carts not found in eu-west-1');

    const json = await run('status', '--config', file, '--replication', 'orders', '--json');
    const parsed = JSON.parse(json.stdout) as { targets: { replication: string; target: string }[] };
    expect(parsed.targets.map((t) => `${t.replication}/${t.target}`)).toEqual(['orders/dr', 'orders/analytics']);
  });
});
