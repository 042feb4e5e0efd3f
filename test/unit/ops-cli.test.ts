import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import * as heap from '../../cli/operator/heap';
import { runCli as run } from '../support/run-cli';

/**
 * The operator commands over AWS, with every AWS client mocked (aws-sdk-client-mock): argument
 * validation, target resolution and its plain-words errors, and the AWS ports of status, pause,
 * resume and replay. No network.
 */
const CONFIG = join(__dirname, '..', '..', 'replication.config.example.json');
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr-dlq.fifo';
const UUID = 'a1b2c3d4-0000-4000-8000-000000000001';
const STREAM = 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2026-11-01T00:00:00.000';

const cfn = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const pipes = mockClient(PipesClient);
const ddb = mockClient(DynamoDBClient);
const cloudWatch = mockClient(CloudWatchClient);
const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });


function deployed(): void {
  cfn.on(DescribeStacksCommand, { StackName: 'Ddbrepl-orders' }).resolves({
    Stacks: [{
      StackName: 'Ddbrepl-orders', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(),
      Outputs: [
        { OutputKey: 'TargetDrQueueUrl', OutputValue: QUEUE },
        { OutputKey: 'TargetDrDeadLetterQueueUrl', OutputValue: DLQ },
        { OutputKey: 'TargetDrEventSourceMappingUuid', OutputValue: UUID },
        { OutputKey: 'TargetDrPipeName', OutputValue: 'ddbrepl-orders-dr' },
        { OutputKey: 'TargetAnalyticsQueueUrl', OutputValue: QUEUE.replace('dr', 'analytics') },
      ],
    }],
  });
}

const depth = (visible: number, inFlight = 0) => ({ Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(inFlight), ApproximateNumberOfMessagesDelayed: '0' } });

beforeEach(() => {
  for (const mock of [cfn, sqs, lambda, pipes, ddb, cloudWatch]) mock.reset();
});

describe('bad arguments: exit 2, one plain line, nothing called', () => {
  it.each([
    [['verify', '--target', 'dr', '--sample', '2'], /--sample <fraction>' argument '2' is invalid. must be a fraction greater than 0 and at most 1/],
    [['verify', '--target', 'dr', '--sample', '0'], /must be a fraction greater than 0 and at most 1/],
    [['verify', '--target', 'dr', '--sample', '5%'], /must be a fraction greater than 0 and at most 1/],
    [['verify', '--target', 'dr', '--segments', '0'], /--segments <n>' argument '0' is invalid. must be an integer from 1 to 1000000/],
    [['replay', '--target', 'dr', '--max', '0'], /--max <n>' argument '0' is invalid. must be an integer from 1 to 1000000/],
    [['replay', '--target', 'dr', '--max', '1.5'], /must be an integer from 1 to 1000000/],
    [['replay', '--target', 'dr', '--max', 'all'], /must be an integer from 1 to 1000000/],
    [['replay', '--config', CONFIG], /--target is required \(or --local for a kept local session\)/],
    [['pause', '--config', CONFIG], /--target is required/],
    [['replay', '--config', CONFIG, '--target', 'staging'], /target "staging" is not in the config; configured targets: dr, analytics/],
    [['status', '--config', CONFIG, '--target', 'staging'], /target "staging" is not in the config; configured targets: dr, analytics/],
    [['local', '--keep'], /--key-schema is required/],
    [['local', '--keep', '--demo', '--json'], /--keep prints a summary for people and keeps running; drop --json/],
    [['local', '--keep', '--demo', '--bootstrap'], /--keep does not combine with --bootstrap/],
    [['local', '--keep', '--demo', '--key-schema', 'pk:S'], /--demo generates its own data; drop --key-schema/],
    [['local', '--keep', '--key-schema', 'pk:S', '--faults', 'meteor=1'], /unknown fault "meteor"/],
  ])('%j', async (args, message) => {
    const result = await run(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(cfn.calls()).toHaveLength(0);
  });

  it('every command has --help with its exit codes', async () => {
    for (const command of ['replay', 'verify', 'status', 'pause', 'resume']) {
      const help = await run(command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('--local [file]');
      expect(help.stdout).toContain('Exit codes:');
    }
  });
});

describe('resolving the target in AWS', () => {
  it('stack not found: says so, with the stack and Region, exit 1', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id Ddbrepl-orders does not exist'));
    const result = await run('status', '--config', CONFIG, '--target', 'dr');
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: stack Ddbrepl-orders not found in eu-west-1: deploy it first (npx cdk deploy Ddbrepl-orders), or name the right one with --stack/--region\n' });
  });

  it('a configured target that is not deployed: lists the deployed ones, exit 2', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Ddbrepl-orders', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'TargetDrQueueUrl', OutputValue: QUEUE }] }] });
    const result = await run('replay', '--config', CONFIG, '--target', 'analytics');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: target "analytics" is not configured in stack Ddbrepl-orders; configured targets: dr\n');
  });

  it('AccessDenied: "missing permission <action> on <resource>"', async () => {
    deployed();
    sqs.on(GetQueueAttributesCommand).rejects(awsError('AccessDenied', 'not authorized to perform sqs:GetQueueAttributes'));
    const result = await run('replay', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: missing permission sqs:GetQueueAttributes on queue ${DLQ}\n`);
  });

  it('--stack and --region name another stack', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id Other does not exist'));
    const result = await run('status', '--config', CONFIG, '--target', 'dr', '--stack', 'Other', '--region', 'us-east-1');
    expect(result.stderr).toContain('stack Other not found in us-east-1');
  });
});

describe('status in AWS', () => {
  it('reads pipe, stream, mapping, queues and metrics, and warns in plain words', async () => {
    deployed();
    pipes.on(DescribePipeCommand).resolves({ Name: 'ddbrepl-orders-dr', CurrentState: 'STOPPED', StateReason: 'User initiated', Source: STREAM });
    ddb.on(DescribeTableCommand).resolves({ Table: { TableName: 'orders', StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' }, LatestStreamArn: STREAM } });
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID, State: 'Disabled' });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: QUEUE }).resolves(depth(40, 2)).on(GetQueueAttributesCommand, { QueueUrl: DLQ }).resolves(depth(12));
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'oldest', Values: [3600] }, { Id: 'applied', Values: [] }, { Id: 'lagp99', Values: [] }, { Id: 'lagmax', Values: [] },
      ],
    });
    const result = await run('status', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('target dr (stack Ddbrepl-orders in eu-west-1)');
    expect(result.stdout).toMatch(/queue\s+42 \(40 visible, 2 in flight\)/);
    expect(result.stdout).toMatch(/oldest message\s+60 min/);
    expect(result.stdout).toContain('✗ pipe ddbrepl-orders-dr is STOPPED (User initiated): changes are not read from the stream; start it with `aws pipes start-pipe --name ddbrepl-orders-dr`');
    expect(result.stdout).toContain('! apply is paused: run `ddb-replicate resume --target dr`');
    expect(result.stdout).toContain('✗ DLQ has 12 messages: run `ddb-replicate replay --target dr`');
    const metricQuery = cloudWatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries!;
    expect(metricQuery.find((q) => q.Id === 'applied')?.MetricStat?.Metric).toEqual({ Namespace: 'DynamoDBCrossAccountReplication', MetricName: 'ChangesApplied', Dimensions: [{ Name: 'Replication', Value: 'orders' }, { Name: 'Target', Value: 'dr' }] });
    expect(metricQuery.find((q) => q.Id === 'oldest')?.MetricStat?.Metric?.Dimensions).toEqual([{ Name: 'QueueName', Value: 'ddbrepl-orders-dr.fifo' }]);

    expect((await run('status', '--config', CONFIG, '--target', 'dr', '--fail-on-warning')).code).toBe(1);
  });

  it('a disabled stream: the pipe can never recover', async () => {
    deployed();
    pipes.on(DescribePipeCommand).resolves({ Name: 'ddbrepl-orders-dr', CurrentState: 'RUNNING', Source: STREAM });
    ddb.on(DescribeTableCommand).resolves({ Table: { TableName: 'orders', StreamSpecification: { StreamEnabled: false } } });
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID, State: 'Enabled' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const result = await run('status', '--config', CONFIG, '--target', 'dr', '--json');
    expect(result.code).toBe(0);
    const [status] = (JSON.parse(result.stdout) as { targets: { warnings: { code: string; text: string }[] }[] }).targets;
    expect(status.warnings).toEqual([expect.objectContaining({ code: 'stream-disabled', text: expect.stringContaining('the pipe can never recover') })]);
  });

  it('a part it cannot read is listed and makes the exit code 1', async () => {
    deployed();
    pipes.on(DescribePipeCommand).rejects(awsError('AccessDeniedException', 'no'));
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true }, LatestStreamArn: STREAM } });
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID, State: 'Enabled' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    cloudWatch.on(GetMetricDataCommand).rejects(awsError('AccessDenied', 'no'));
    const result = await run('status', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('? could not read missing permission pipes:DescribePipe on pipe ddbrepl-orders-dr');
    expect(result.stdout).toContain('? could not read missing permission cloudwatch:GetMetricData on metrics of target dr');
  });

  it('without --target: every configured target; one not deployed is reported, not hiding the others', async () => {
    deployed();
    pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING', Source: STREAM });
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true }, LatestStreamArn: STREAM } });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'applied', Values: [42] }, { Id: 'lagp99', Values: [850] }, { Id: 'lagmax', Values: [1200] }] });
    const result = await run('status', '--config', CONFIG);
    expect(result.code).toBe(1);
    // Several targets: one table, a row each (cli/operator/status.ts statusSummaryTable).
    const rows = result.stdout.split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[1]).toEqual(['orders', 'dr', 'RUNNING', 'Enabled', '0', '0', '?', '850 ms', '0']);
    expect(rows[2]).toEqual(['orders', 'analytics', 'not resolved', '?', '?', '?', '?', '?', '?']);
    expect(result.stdout).toContain('? orders/analytics: stack Ddbrepl-orders has no output TargetAnalyticsDeadLetterQueueUrl');
  });
});

describe('status: the sampled verification\'s last run', () => {
  it('a line with the latest VerifySampled/VerifyMismatches datapoint, read with the Replication and Target dimensions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'status-verify-'));
    try {
      const config = JSON.parse(readFileSync(CONFIG, 'utf8')) as { targets: Record<string, unknown>[] };
      config.targets[0].continuousVerify = { everyMinutes: 5 };
      const file = join(dir, 'replication.config.json');
      writeFileSync(file, JSON.stringify(config));
      deployed();
      pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING', Source: STREAM });
      ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true }, LatestStreamArn: STREAM } });
      lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
      sqs.on(GetQueueAttributesCommand).resolves(depth(0));
      const at = new Date('2026-12-01T01:05:00Z');
      cloudWatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: { Id: string }[] }) => (input.MetricDataQueries.some((q) => q.Id === 'sampled')
        ? { MetricDataResults: [{ Id: 'sampled', Timestamps: [at, new Date(at.getTime() - 300_000)], Values: [200, 200] }, { Id: 'mismatches', Timestamps: [at], Values: [3] }] }
        : { MetricDataResults: [] }));
      const result = await run('status', '--config', file, '--target', 'dr');
      expect(result.stdout).toMatch(/sampled verify\s+✗ 3 mismatches in 200 items \(last run 2026-12-01T01:05:00.000Z\)/);
      const query = cloudWatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries!).find((q) => q.some((m) => m.Id === 'mismatches'))!;
      expect(query.find((m) => m.Id === 'mismatches')?.MetricStat?.Metric).toEqual({ Namespace: 'DynamoDBCrossAccountReplication', MetricName: 'VerifyMismatches', Dimensions: [{ Name: 'Replication', Value: 'orders' }, { Name: 'Target', Value: 'dr' }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pause and resume in AWS', () => {
  it('pause disables the mapping, waits for Disabled, and says how long the queue can buffer', async () => {
    deployed();
    lambda.on(GetEventSourceMappingCommand).resolvesOnce({ State: 'Enabled' }).resolvesOnce({ State: 'Disabling' }).resolves({ State: 'Disabled' });
    lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Disabling' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(5));
    pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING', Source: STREAM });
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true }, LatestStreamArn: STREAM } });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'oldest', Values: [2 * 86_400] }] });
    // One Disabling poll: the command waits its 2 s poll interval once.
    const result = await run('pause', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`event source mapping ${UUID}: Disabling`);
    expect(result.stdout).toContain(`apply of target dr is paused (event source mapping ${UUID}: Disabled).`);
    expect(result.stdout).toContain('the oldest is 2 days old, so it can buffer for another 12 days before SQS drops changes');
    expect(result.stdout).toContain('Resume with `ddb-replicate resume --target dr`.');
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0].args[0].input).toEqual({ UUID, Enabled: false });
  });

  it('pause on an empty queue says how long each change is kept, in plain words', async () => {
    deployed();
    lambda.on(GetEventSourceMappingCommand).resolvesOnce({ State: 'Enabled' }).resolves({ State: 'Disabled' });
    lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Disabled' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    pipes.on(DescribePipeCommand).resolves({ CurrentState: 'RUNNING', Source: STREAM });
    ddb.on(DescribeTableCommand).resolves({ Table: { StreamSpecification: { StreamEnabled: true }, LatestStreamArn: STREAM } });
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'oldest', Values: [] }] });
    const result = await run('pause', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("The queue is empty; it buffers the changes that arrive now, keeping each for up to 14 days (the queue's retention) before SQS drops it.");
    expect(result.stdout).not.toContain('0 h');
  });

  it('resume on a running mapping changes nothing', async () => {
    deployed();
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    const result = await run('resume', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('is already running');
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
  });

  it('pause without lambda:UpdateEventSourceMapping: names the action and the mapping', async () => {
    deployed();
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    lambda.on(UpdateEventSourceMappingCommand).rejects(awsError('AccessDeniedException', 'User is not authorized'));
    const result = await run('pause', '--config', CONFIG, '--target', 'dr');
    expect(result).toMatchObject({ code: 1, stderr: `error: missing permission lambda:UpdateEventSourceMapping on event source mapping ${UUID}\n` });
  });
});

describe('replay in AWS', () => {
  const envelope = (eventId: string) => JSON.stringify({ v: 1, op: 'PUT', table: 'orders', keys: { pk: { S: 'k' }, sk: { S: '1' } }, image: { pk: { S: 'k' }, sk: { S: '1' } }, seq: '1', at: 1, eventId, groupId: 'g1', origin: 'user' });

  it('sends a RESYNC per message, then deletes it; keeps and lists an undecodable one', async () => {
    deployed();
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ }).resolvesOnce(depth(2)).resolves(depth(1));
    sqs.on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm-1', ReceiptHandle: 'r-1', Body: envelope('e1') }, { MessageId: 'm-2', ReceiptHandle: 'r-2', Body: '{"v":9}' }] })
      .resolves({ Messages: [] });
    sqs.on(SendMessageCommand).resolves({ MessageId: 'new' });
    sqs.on(DeleteMessageCommand).resolves({});
    const result = await run('replay', '--config', CONFIG, '--target', 'dr');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('replayed 1 message as RESYNC, 1 undecodable kept in the DLQ, 1 remaining in the DLQ');
    expect(result.stdout).toContain('m-2: unknown envelope version 9; this consumer knows v1');
    const sent = sqs.commandCalls(SendMessageCommand)[0].args[0].input;
    expect(sent).toMatchObject({ QueueUrl: QUEUE, MessageGroupId: 'g1', MessageDeduplicationId: 'replay-pGG0cstBqew97lyQz45KeCUsnYIxmt91gwAxuMMJv8Y' });
    expect(JSON.parse(sent.MessageBody!)).toMatchObject({ v: 1, op: 'RESYNC', table: 'orders', keys: { pk: { S: 'k' }, sk: { S: '1' } }, groupId: 'g1', origin: 'replay', seq: '', eventId: sent.MessageDeduplicationId });
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([{ QueueUrl: DLQ, ReceiptHandle: 'r-1' }]);
  });
});

describe('verify in AWS', () => {
  it('interrupted before anything was compared: does not claim the target equals the source', async () => {
    deployed();
    // Ctrl-C during the first page of the source scan: the SDK abandons the page in flight (its
    // abortSignal), and the scan stops before anything is compared.
    ddb.on(ScanCommand).callsFake(() => {
      process.emit('SIGINT');
      throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
    });
    // The scan engine holds the old generation down before it scans (cli/operator/heap.ts); not set in this jest worker.
    const heapGrowth = jest.spyOn(heap, 'limitOldGenerationGrowth').mockImplementation(() => undefined);
    const result = await run('verify', '--config', CONFIG, '--target', 'dr', '--segments', '1');
    expect(heapGrowth).toHaveBeenCalledTimes(1);
    heapGrowth.mockRestore();
    expect(result.code).toBe(130);
    expect(result.stdout).toContain('(interrupted: incomplete)');
    expect(result.stdout).not.toContain('target equals source');
    expect((ddb.commandCalls(ScanCommand)[0].args as unknown[])[1]).toMatchObject({ abortSignal: expect.objectContaining({ aborted: true }) });
  });
});
