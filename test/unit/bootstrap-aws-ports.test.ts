import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchStopJobRunCommand, GetJobRunCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand, PipesClient } from '@aws-sdk/client-pipes';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsClients } from '../../cli/aws/clients';
import type { TargetStackOutputs } from '../../cli/aws/stack-outputs';
import { awsBootstrapPorts, copyStateOfJobRun } from '../../cli/bootstrap/aws-ports';
import { EXIT } from '../../cli/errors';

/** The AWS ports: which API each calls with what, how answers map to the orchestrator's states, errors in plain words. */

const lambda = mockClient(LambdaClient);
const pipes = mockClient(PipesClient);
const glue = mockClient(GlueClient);
const sqs = mockClient(SQSClient);
const dynamodb = mockClient(DynamoDBClient);

const values: Record<string, string> = {
  QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo',
  EventSourceMappingUuid: 'uuid-1',
  PipeName: 'ddbrepl-orders-dr',
  InitialLoadJobName: 'ddbrepl-orders-dr-initial-load',
};
const outputs: TargetStackOutputs = {
  stackName: 'Ddbrepl-orders', targetName: 'dr',
  optional: (name) => values[name],
  require: (name) => values[name],
};
let clients: AwsClients;
const portsWith = (copy: Parameters<typeof awsBootstrapPorts>[0]['copy'], now = () => 1_000_000) =>
  awsBootstrapPorts({ clients, outputs, sourceTableName: 'orders', copy, now });

beforeEach(() => {
  for (const m of [lambda, pipes, glue, sqs, dynamodb]) m.reset();
  clients = new AwsClients('eu-west-1');
});
afterEach(() => clients.destroy());

test('names, pipe state, mapping state and updates, queue depth and item count go to the right resources', async () => {
  pipes.on(DescribePipeCommand, { Name: 'ddbrepl-orders-dr' }).resolves({ CurrentState: 'RUNNING' });
  lambda.on(GetEventSourceMappingCommand, { UUID: 'uuid-1' }).resolves({ State: 'Disabling' });
  lambda.on(UpdateEventSourceMappingCommand).resolves({});
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '7', ApproximateNumberOfMessagesNotVisible: '2', ApproximateNumberOfMessagesDelayed: '1' } });
  dynamodb.on(DescribeTableCommand, { TableName: 'orders' }).resolves({ Table: { ItemCount: 12345 } });
  const ports = portsWith({ kind: 'glue' });

  expect(ports.names).toEqual({ target: 'dr', pipe: 'ddbrepl-orders-dr', mapping: 'uuid-1', queue: values.QueueUrl, sourceTable: 'orders', copy: 'Glue job ddbrepl-orders-dr-initial-load' });
  expect(await ports.describePipe()).toBe('RUNNING');
  expect(await ports.getMappingState()).toBe('Disabling');
  await ports.disableMapping();
  await ports.enableMapping();
  expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'uuid-1', Enabled: false }, { UUID: 'uuid-1', Enabled: true }]);
  expect(await ports.queueDepth()).toBe(10);
  expect(sqs.commandCalls(GetQueueAttributesCommand)[0].args[0].input).toEqual({
    QueueUrl: values.QueueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  });
  expect(await ports.tableItemCount()).toBe(12345);
});

test('the Glue copy: StartJobRun with only the overrides given, GetJobRun state and elapsed time, BatchStopJobRun', async () => {
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  glue.on(GetJobRunCommand).resolvesOnce({ JobRun: { JobRunState: 'RUNNING', StartedOn: new Date(1_000_000 - 90_000) } })
    .resolvesOnce({ JobRun: { JobRunState: 'FAILED', ExecutionTime: 120, ErrorMessage: 'InitialLoadError: 1 of 16 units failed' } });
  glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobName: 'j', JobRunId: 'jr_1' }], Errors: [] });

  const ports = portsWith({ kind: 'glue', engine: 'export', segments: 32 });
  expect(ports.names.copy).toBe('Glue job ddbrepl-orders-dr-initial-load (engine export)');
  const handle = await ports.startCopy();
  expect(glue.commandCalls(StartJobRunCommand)[0].args[0].input).toEqual({ JobName: 'ddbrepl-orders-dr-initial-load', Arguments: { '--engine': 'export', '--segments': '32' } });
  expect(handle.id).toBe('jr_1');
  expect(await ports.copyProgress(handle)).toEqual({ state: 'RUNNING', elapsedMs: 90_000 });
  expect(await ports.copyProgress(handle)).toEqual({ state: 'FAILED', elapsedMs: 120_000, message: 'InitialLoadError: 1 of 16 units failed' });
  expect(glue.commandCalls(GetJobRunCommand)[0].args[0].input).toEqual({ JobName: 'ddbrepl-orders-dr-initial-load', RunId: 'jr_1' });
  await ports.cancelCopy(handle);
  expect(glue.commandCalls(BatchStopJobRunCommand)[0].args[0].input).toEqual({ JobName: 'ddbrepl-orders-dr-initial-load', JobRunIds: ['jr_1'] });

  await portsWith({ kind: 'glue' }).startCopy();
  expect(glue.commandCalls(StartJobRunCommand)[1].args[0].input).toEqual({ JobName: 'ddbrepl-orders-dr-initial-load', Arguments: {} });
});

test('a stop Glue refuses is an error, not a silent success', async () => {
  glue.on(BatchStopJobRunCommand).resolves({ Errors: [{ JobName: 'j', JobRunId: 'jr_1', ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'Job run is not running' } }] });
  await expect(portsWith({ kind: 'glue' }).cancelCopy({ id: 'jr_1', description: 'x' }))
    .rejects.toThrow('glue:BatchStopJobRun could not stop Glue job ddbrepl-orders-dr-initial-load run jr_1: InvalidInputException Job run is not running');
});

test('Glue run states map onto the orchestrator\'s four', () => {
  expect(['STARTING', 'RUNNING', 'STOPPING', 'WAITING', undefined].map(copyStateOfJobRun)).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
  expect(['SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT', 'ERROR', 'EXPIRED'].map(copyStateOfJobRun)).toEqual(['SUCCEEDED', 'STOPPED', 'FAILED', 'FAILED', 'FAILED', 'FAILED']);
});

test('AccessDenied on any call says which permission is missing on which resource', async () => {
  const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
  lambda.on(UpdateEventSourceMappingCommand).rejects(denied);
  pipes.on(DescribePipeCommand).rejects(denied);
  glue.on(StartJobRunCommand).rejects(denied);
  const ports = portsWith({ kind: 'glue' });
  await expect(ports.disableMapping()).rejects.toMatchObject({ exitCode: EXIT.failure, message: 'missing permission lambda:UpdateEventSourceMapping on event source mapping uuid-1' });
  await expect(ports.describePipe()).rejects.toMatchObject({ message: 'missing permission pipes:DescribePipe on pipe ddbrepl-orders-dr' });
  await expect(ports.startCopy()).rejects.toMatchObject({ message: 'missing permission glue:StartJobRun on Glue job ddbrepl-orders-dr-initial-load' });
});
