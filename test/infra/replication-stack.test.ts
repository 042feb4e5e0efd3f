import { Match, Template } from 'aws-cdk-lib/assertions';
import { TARGET_OUTPUTS } from '../../infra/stacks/replication-stack';
import { targetOutputId, type TargetOutputName } from '../../infra/stacks/stack-output-ids';
import { fastApp, logicalIdOf, SOURCE_STREAM_ARN, testConfig } from './support';

const { replicationStack } = fastApp();
const template = Template.fromStack(replicationStack);

const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const id = (type: string, prefix: string) => logicalIdOf(template, type, prefix);
const pipeOf = (target: 'dr' | 'euanalytics') => template.findResources('AWS::Pipes::Pipe')[id('AWS::Pipes::Pipe', `Replication${target}Pipe`)].Properties;

describe('pipe', () => {
  test('reads the source stream with the configured starting position, batch size, bisect and the pipe DLQ', () => {
    template.resourceCountIs('AWS::Pipes::Pipe', 2);
    template.hasResourceProperties('AWS::Pipes::Pipe', {
      Name: 'ddbrepl-orders-dr',
      Source: SOURCE_STREAM_ARN,
      SourceParameters: {
        DynamoDBStreamParameters: {
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: 10,
          MaximumRetryAttempts: 10,
          OnPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          DeadLetterConfig: { Arn: getAtt(id('AWS::SQS::Queue', 'ReplicationdrPipeDeadLetterQueue')) },
        },
      },
    });
    expect(pipeOf('euanalytics').SourceParameters.DynamoDBStreamParameters).toMatchObject({ StartingPosition: 'LATEST', BatchSize: 5 });
  });

  test('a filtered target has the compiled filter pattern; an unfiltered one has no FilterCriteria', () => {
    expect(pipeOf('dr').SourceParameters.FilterCriteria).toBeUndefined();
    const filters = pipeOf('euanalytics').SourceParameters.FilterCriteria.Filters as { Pattern: string }[];
    expect(filters).toHaveLength(1);
    // Only `dynamodb` fields: its event names and the TTL exclusion are applied by the enrichment.
    expect(JSON.parse(filters[0].Pattern)).toEqual({ dynamodb: { Keys: { pk: { S: [{ prefix: 'EU#' }, { prefix: 'FR#' }] } } } });
  });

  test('enriches with the target\'s enrich function and sends to its FIFO queue with groupId / eventId', () => {
    template.hasResourceProperties('AWS::Pipes::Pipe', {
      Name: 'ddbrepl-orders-dr',
      Enrichment: getAtt(id('AWS::Lambda::Function', 'ReplicationdrEnrichFunction')),
      Target: getAtt(id('AWS::SQS::Queue', 'ReplicationdrQueue')),
      TargetParameters: Match.exact({ SqsQueueParameters: { MessageGroupId: '$.groupId', MessageDeduplicationId: '$.eventId' } }),
      LogConfiguration: { Level: 'ERROR', IncludeExecutionData: Match.absent() },
    });
  });
});

describe('queues', () => {
  const tlsOnly = (queueId: string) =>
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [{ Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: getAtt(queueId) }],
      },
    });

  test('the target queue is high-throughput FIFO, explicit dedup, SSE, 14 days, 6× apply timeout, redrive after maxReceiveCount', () => {
    const dlq = id('AWS::SQS::Queue', 'ReplicationdrDeadLetterQueue');
    template.hasResourceProperties('AWS::SQS::Queue', Match.exact({
      QueueName: 'ddbrepl-orders-dr.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: getAtt(dlq), maxReceiveCount: 5 },
    }));
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'ddbrepl-orders-eu-analytics.fifo',
      VisibilityTimeout: 180,
      RedrivePolicy: { maxReceiveCount: 3 },
    });
    tlsOnly(id('AWS::SQS::Queue', 'ReplicationdrQueue'));
  });

  test('the DLQ is FIFO, SSE, TLS-only, 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', Match.exact({
      QueueName: 'ddbrepl-orders-dr-dlq.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    }));
    tlsOnly(id('AWS::SQS::Queue', 'ReplicationdrDeadLetterQueue'));
  });

  test('the pipe DLQ is a standard queue, SSE, TLS-only, 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', Match.exact({
      QueueName: 'ddbrepl-orders-dr-pipe-dlq',
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    }));
    tlsOnly(id('AWS::SQS::Queue', 'ReplicationdrPipeDeadLetterQueue'));
  });
});

describe('apply', () => {
  test('the event source mapping reads the FIFO queue in batches ≤ 10, reports item failures, caps concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', Match.exact({
      EventSourceArn: getAtt(id('AWS::SQS::Queue', 'ReplicationdrQueue')),
      FunctionName: { Ref: id('AWS::Lambda::Function', 'ReplicationdrApplyFunction') },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id('AWS::Lambda::Function', 'ReplicationeuanalyticsApplyFunction') },
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  test('the apply function: nodejs22.x on arm64, sized from options, every env var from the config', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'ddbrepl-orders-eu-analytics-apply',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 30,
      Role: getAtt(id('AWS::IAM::Role', 'ReplicationeuanalyticsApplyRole')),
      LoggingConfig: { LogGroup: { Ref: id('AWS::Logs::LogGroup', 'ReplicationeuanalyticsApplyLogGroup') } },
      Environment: {
        Variables: Match.exact({
          // The metrics' Replication dimension (handlers/core/metrics.ts).
          REPLICATION_NAME: 'orders',
          TARGET_NAME: 'eu-analytics',
          SOURCE_TABLE_NAME: 'orders',
          SOURCE_REGION: 'eu-west-1',
          KEY_SCHEMA: JSON.stringify({ partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } }),
          TARGET_TABLE_NAME: 'orders-analytics',
          TARGET_REGION: 'eu-west-3',
          TARGET_ROLE_ARN: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::333333333333:role/ddbrepl-orders-eu-analytics-target']] },
          TARGET_EXTERNAL_ID: 'orders-analytics-91be02',
          LOG_LEVEL: 'DEBUG',
          RESYNC_THRESHOLD_BYTES: '100000',
          // The visibility backoff's cap: min(60 s, the queue's visibility timeout of 6 × 30 s).
          VISIBILITY_BACKOFF_MAX_SECONDS: '60',
          // A RESYNC writes this target's view of the re-read item (handlers/core/target-policy.ts).
          TARGET_FILTER: JSON.stringify({ eventNames: ['INSERT', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: ['EU#', 'FR#'] }),
          // The freeze mark's table (handlers/core/freeze.ts).
          CONTROL_TABLE_NAME: 'ddbrepl-orders-control',
          // The target's replication state table, in the target account (handlers/core/replication-state.ts).
          STATE_TABLE_NAME: 'ddbrepl-orders-eu-analytics-state',
        }),
      },
    });
  });

  test('the enrich function: nodejs22.x on arm64, its filter and key schema in env', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'ddbrepl-orders-eu-analytics-enrich',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 60,
      Environment: {
        Variables: Match.exact({
          TARGET_NAME: 'eu-analytics',
          SOURCE_TABLE_NAME: 'orders',
          KEY_SCHEMA: JSON.stringify({ partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } }),
          RESYNC_THRESHOLD_BYTES: '100000',
          TARGET_FILTER: JSON.stringify({ eventNames: ['INSERT', 'REMOVE'], replicateTtlDeletes: false, partitionKeyPrefixes: ['EU#', 'FR#'] }),
          LOG_LEVEL: 'DEBUG',
        }),
      },
    });
  });

  test('every function log group has a retention', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(6); // enrich, apply, pipe × 2 targets
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });
});

describe('a target with redaction', () => {
  const redaction = { exclude: ['ssn'], redact: ['email'], redactWith: { sha256: true } };
  const redacted = Template.fromStack(fastApp(testConfig((input) => {
    (input.targets as Record<string, unknown>[])[1].redaction = redaction;
  })).replicationStack);
  const envOf = (functionName: string) => Object.values(redacted.findResources('AWS::Lambda::Function', { Properties: { FunctionName: functionName } }))[0]?.Properties.Environment.Variables as Record<string, unknown>;
  const policy = JSON.stringify({ exclude: ['ssn'], redact: ['email'], redactWith: { sha256: true } });

  test('enrichment and apply (RESYNC) both get it; the other target gets none', () => {
    expect(envOf('ddbrepl-orders-eu-analytics-enrich')).toMatchObject({ TARGET_REDACTION: policy });
    expect(envOf('ddbrepl-orders-eu-analytics-apply')).toMatchObject({ TARGET_REDACTION: policy, TARGET_FILTER: expect.any(String) });
    expect(envOf('ddbrepl-orders-dr-apply')).not.toHaveProperty('TARGET_REDACTION');
    expect(envOf('ddbrepl-orders-dr-enrich')).not.toHaveProperty('TARGET_REDACTION');
  });

  test('the initial-load job copies the target\'s view: --target_policy carries the filter\'s item conditions and the redaction', () => {
    const job = Object.values(redacted.findResources('AWS::Glue::Job', { Properties: { Name: 'ddbrepl-orders-eu-analytics-initial-load' } }))[0];
    expect(JSON.parse(job?.Properties.DefaultArguments['--target_policy'] as string)).toEqual({
      partitionKeyName: 'pk', partitionKeyPrefixes: ['EU#', 'FR#'], attributeEquals: [], redaction: JSON.parse(policy),
    });
  });
});

describe('IAM', () => {
  test('the apply role has its fixed name and may only assume the target role, read the source table, consume its queue, write its logs', () => {
    const role = id('AWS::IAM::Role', 'ReplicationdrApplyRole');
    template.hasResourceProperties('AWS::IAM::Role', Match.exact({
      RoleName: 'ddbrepl-orders-dr-apply',
      Description: Match.anyValue(),
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }],
      },
    }));
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: role }]) } });
    expect(Object.keys(policies)).toHaveLength(1);
    expect(Object.values(policies)[0].Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: getAtt(id('AWS::Logs::LogGroup', 'ReplicationdrApplyLogGroup')) },
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::222222222222:role/ddbrepl-orders-dr-target']] } },
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:DescribeTable'], Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':dynamodb:eu-west-1:111111111111:table/orders']] } },
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: getAtt(id('AWS::SQS::Queue', 'ReplicationdrQueue')),
      },
      // Its freeze mark only: the control table item whose key is the target's name (handlers/core/freeze.ts).
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: getAtt(id('AWS::DynamoDB::GlobalTable', 'ControlTable')), Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['dr'] } } },
    ]);
  });

  test('the control table: fixed name per replication, PITR, retained, keyed by target name', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        TableName: 'ddbrepl-orders-control',
        KeySchema: [{ AttributeName: 'target', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      }),
    });
  });

  test('the pipe role reads the stream, invokes only the enrich function, sends to the queue, the pipe DLQ and its log group', () => {
    const role = id('AWS::IAM::Role', 'ReplicationdrPipeRole');
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }));
    expect(policies).toHaveLength(1);
    const statements = policies[0].Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
    const enrich = id('AWS::Lambda::Function', 'ReplicationdrEnrichFunction');
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], Resource: SOURCE_STREAM_ARN }),
      expect.objectContaining({ Action: 'lambda:InvokeFunction', Resource: [{ 'Fn::Join': ['', [getAtt(enrich), ':$LATEST']] }, getAtt(enrich)] }),
      expect.objectContaining({ Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Resource: getAtt(id('AWS::SQS::Queue', 'ReplicationdrQueue')) }),
      expect.objectContaining({ Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Resource: getAtt(id('AWS::SQS::Queue', 'ReplicationdrPipeDeadLetterQueue')) }),
    ]));
    // No wildcard resource anywhere in the pipe's permissions.
    expect(JSON.stringify(statements)).not.toMatch(/"Resource":"\*"/);
  });
});

test('stack outputs: every value the CLI needs, per target, under stable ids', () => {
  const outputs = template.toJSON().Outputs as Record<string, unknown>;
  const names = Object.keys(TARGET_OUTPUTS) as TargetOutputName[];
  expect(names).toEqual([
    'QueueUrl', 'QueueArn', 'DeadLetterQueueUrl', 'DeadLetterQueueArn', 'PipeDeadLetterQueueUrl', 'PipeDeadLetterQueueArn',
    'ApplyFunctionName', 'EventSourceMappingUuid', 'PipeName',
  ]);
  expect(targetOutputId('eu-analytics', 'QueueUrl')).toBe('TargetEuAnalyticsQueueUrl');
  for (const target of ['dr', 'eu-analytics']) for (const name of names) expect(outputs).toHaveProperty(targetOutputId(target, name));
  template.hasOutput('TargetDrEventSourceMappingUuid', { Value: { Ref: id('AWS::Lambda::EventSourceMapping', 'ReplicationdrApplyEventSource') } });
  template.hasOutput('TargetDrPipeName', { Value: { Ref: id('AWS::Pipes::Pipe', 'ReplicationdrPipe') } });
  template.hasOutput('TargetDrQueueUrl', { Value: { Ref: id('AWS::SQS::Queue', 'ReplicationdrQueue') } });
});
