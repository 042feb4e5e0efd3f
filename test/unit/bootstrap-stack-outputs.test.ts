import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { defaultStackName, resolveTargetOutputs } from '../../cli/aws/stack-outputs';
import { CliError, EXIT } from '../../cli/errors';

/** Resolving a target's resources from the replication stack's outputs, and the plain-words errors. */

const cfn = mockClient(CloudFormationClient);
const client = new CloudFormationClient({ region: 'eu-west-1' });
const resolve = (targetName: string, configuredTargets?: string[]) =>
  resolveTargetOutputs({ cloudFormation: client, region: 'eu-west-1', stackName: 'Ddbrepl-orders', targetName, ...(configuredTargets ? { configuredTargets } : {}) });
const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

const outputs = [
  { OutputKey: 'TargetDrQueueUrl', OutputValue: 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo' },
  { OutputKey: 'TargetDrEventSourceMappingUuid', OutputValue: 'a1b2c3d4-0000-4000-8000-000000000001' },
  { OutputKey: 'TargetDrPipeName', OutputValue: 'ddbrepl-orders-dr' },
  { OutputKey: 'TargetDrInitialLoadJobName', OutputValue: 'ddbrepl-orders-dr-initial-load' },
  { OutputKey: 'TargetEuAnalyticsQueueUrl', OutputValue: 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-eu-analytics.fifo' },
  { OutputKey: 'TargetLegacyQueueUrl', OutputValue: 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-legacy.fifo' },
];

beforeEach(() => cfn.reset());

test('the default stack name is the one infra/app.ts deploys', () => {
  expect(defaultStackName('orders')).toBe('Ddbrepl-orders');
});

test('reads the target\'s outputs by their output ids', async () => {
  cfn.on(DescribeStacksCommand, { StackName: 'Ddbrepl-orders' }).resolves({ Stacks: [{ StackName: 'Ddbrepl-orders', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
  const resolved = await resolve('dr');
  expect(resolved.require('QueueUrl')).toBe('https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo');
  expect(resolved.require('EventSourceMappingUuid')).toBe('a1b2c3d4-0000-4000-8000-000000000001');
  expect(resolved.require('PipeName')).toBe('ddbrepl-orders-dr');
  expect(resolved.require('InitialLoadJobName')).toBe('ddbrepl-orders-dr-initial-load');
  expect(resolved.optional('ApplyFunctionName')).toBeUndefined();
  expect(() => resolved.require('ApplyFunctionName')).toThrow(new CliError('stack Ddbrepl-orders has no output TargetDrApplyFunctionName: it was deployed by an older version of this project; deploy it again', EXIT.failure));
  expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
});

test('a stack that does not exist: "not found", exit 1', async () => {
  cfn.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id Ddbrepl-orders does not exist'));
  const error = await resolve('dr').catch((e: unknown) => e) as CliError;
  expect(error).toBeInstanceOf(CliError);
  expect(error.exitCode).toBe(EXIT.failure);
  expect(error.message).toBe('stack Ddbrepl-orders not found in eu-west-1: deploy it first (npx cdk deploy Ddbrepl-orders), or name the right one with --stack/--region');
});

test('a target the stack does not have: exit 2, listing the configured ones by name', async () => {
  cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Ddbrepl-orders', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
  await expect(resolve('staging', ['dr', 'eu-analytics'])).rejects.toThrow(new CliError('target "staging" is not configured in stack Ddbrepl-orders; configured targets: dr, eu-analytics, Legacy', EXIT.badInput));
  const error = await resolve('staging').catch((e: unknown) => e) as CliError;
  expect(error.exitCode).toBe(EXIT.badInput);
});

test('AccessDenied: "missing permission <action> on <resource>"', async () => {
  cfn.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'User: arn:aws:iam::111111111111:user/ops is not authorized to perform: cloudformation:DescribeStacks'));
  await expect(resolve('dr')).rejects.toMatchObject({ name: 'CliError', exitCode: EXIT.failure, message: 'missing permission cloudformation:DescribeStacks on stack Ddbrepl-orders in eu-west-1' });
});

test('any other error names the call and keeps the service\'s words', async () => {
  cfn.on(DescribeStacksCommand).rejects(awsError('Throttling', 'Rate exceeded'));
  await expect(resolve('dr')).rejects.toThrow('cloudformation:DescribeStacks on stack Ddbrepl-orders in eu-west-1 failed: Throttling: Rate exceeded');
});
