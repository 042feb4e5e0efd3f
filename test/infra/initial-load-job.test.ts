import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { INITIAL_LOAD_SCRIPT, InitialLoadJob, type InitialLoadJobProps } from '../../infra/constructs/initial-load-job';
import { targetOutputId } from '../../infra/stacks/stack-output-ids';
import { ConfigurationError } from '../../handlers/core/errors';
import { InvalidReplicationConfigError } from '../../schemas/replication-config';
import { expectGlueJobRole, expectGlueJobSecurity, expectTransientJobBucket, glueRuntimeStatements } from './glue-job-expectations';
import { fastApp, logicalIdOf, testConfig } from './support';

const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });

// `dr` keeps the defaults; `eu-analytics` changes every initialLoad option.
const config = testConfig((input) => {
  const targets = input.targets as Record<string, unknown>[];
  targets[1].initialLoad = { workerType: 'G.2X', numberOfWorkers: 6, engine: 'export', segments: 48, writeRateItemsPerSecond: 2500, excludeAttributes: ['secret', 'blob'] };
});
const { replicationStack } = fastApp(config);
const template = Template.fromStack(replicationStack);
const id = (type: string, prefix: string) => logicalIdOf(template, type, prefix);
const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const jobOf = (prefix: string) => template.findResources('AWS::Glue::Job')[id('AWS::Glue::Job', `${prefix}Job`)].Properties;

describe('Glue job', () => {
  test('is a Glue 5.0 Python 3 Spark ETL job running the initial_load.py asset, never retried, one run at a time', () => {
    // One initial-load job per target (the verify jobs are the others: test/infra/verify-job.test.ts).
    expect(Object.values(template.findResources('AWS::Glue::Job')).filter((r) => String(r.Properties.Name).endsWith('-initial-load'))).toHaveLength(2);
    const job = jobOf('InitialLoadDr');
    expect(job.Command).toEqual({ Name: 'glueetl', PythonVersion: '3', ScriptLocation: expect.stringMatching(/^s3:\/\/cdk-[a-z0-9]+-assets-111111111111-eu-west-1\/[0-9a-f]{64}\.py$/) });
    expect(job).toMatchObject({ GlueVersion: '5.0', Name: 'ddbrepl-orders-dr-initial-load', MaxRetries: 0, ExecutionProperty: { MaxConcurrentRuns: 1 } });
  });

  test('worker type and count: G.1X × 2 by default, as configured otherwise', () => {
    expect(jobOf('InitialLoadDr')).toMatchObject({ WorkerType: 'G.1X', NumberOfWorkers: 2 });
    expect(jobOf('InitialLoadEuAnalytics')).toMatchObject({ WorkerType: 'G.2X', NumberOfWorkers: 6 });
  });

  test('default arguments are exactly the script\'s argument names with the configured values', () => {
    // replication_common.py, shipped next to the script (content-addressed asset).
    const extraPyFiles = { '--extra-py-files': expect.stringMatching(/^s3:\/\/cdk-[a-z0-9]+-assets-111111111111-eu-west-1\/[0-9a-f]{64}\.py$/) };
    const glueManaged = { ...extraPyFiles, '--job-language': 'python', '--enable-continuous-cloudwatch-log': 'true', '--enable-metrics': '', '--enable-observability-metrics': 'true' };
    expect(jobOf('InitialLoadDr').DefaultArguments).toEqual({
      '--source_table': 'orders',
      '--source_region': 'eu-west-1',
      '--target_table': 'orders-replica',
      '--target_region': 'eu-central-1',
      '--target_role_arn': partitionArn(':iam::222222222222:role/ddbrepl-orders-dr-target'),
      '--external_id': 'orders-dr-7f3c1a',
      '--engine': 'scan',
      '--write_rate': '0',
      '--export_bucket': { Ref: id('AWS::S3::Bucket', 'InitialLoadDrExportBucket') },
      '--export_prefix': 'initial-load',
      '--target_policy': JSON.stringify({ partitionKeyName: 'pk', partitionKeyPrefixes: [], attributeEquals: [], redaction: null }),
      ...glueManaged,
    });
    expect(jobOf('InitialLoadEuAnalytics').DefaultArguments).toEqual({
      '--source_table': 'orders',
      '--source_region': 'eu-west-1',
      '--target_table': 'orders-analytics',
      '--target_region': 'eu-west-3',
      '--target_role_arn': partitionArn(':iam::333333333333:role/ddbrepl-orders-eu-analytics-target'),
      '--external_id': 'orders-analytics-91be02',
      '--engine': 'export',
      '--segments': '48',
      '--write_rate': '2500',
      '--exclude_attributes': 'secret,blob',
      '--export_bucket': { Ref: id('AWS::S3::Bucket', 'InitialLoadEuAnalyticsExportBucket') },
      '--export_prefix': 'initial-load',
      '--target_policy': JSON.stringify({ partitionKeyName: 'pk', partitionKeyPrefixes: ['EU#', 'FR#'], attributeEquals: [], redaction: null }),
      ...glueManaged,
    });
  });

  test('every argument the construct sets is one the Glue script reads', () => {
    const script = readFileSync(INITIAL_LOAD_SCRIPT, 'utf8');
    const names = (tuple: string) => [...(script.match(new RegExp(`^${tuple} = \\(([^)]*)\\)`, 'm'))?.[1] ?? '').matchAll(/"(\w+)"/g)].map((m) => m[1]);
    const known = [...names('REQUIRED_ARGS'), ...names('OPTIONAL_ARGS')];
    expect(known).toContain('source_table');
    const ours = Object.keys(jobOf('InitialLoadEuAnalytics').DefaultArguments as object).filter((k) => /^--[a-z_]+$/.test(k)).map((k) => k.slice(2));
    for (const name of ours) expect(known).toContain(name);
    for (const required of names('REQUIRED_ARGS')) expect(ours).toContain(required);
  });

  test('attaches a security configuration: SSE-S3 for S3, the job\'s rotating KMS key for CloudWatch logs and bookmarks', () => {
    const config = id('AWS::Glue::SecurityConfiguration', 'InitialLoadDrSecurityConfiguration');
    expect(jobOf('InitialLoadDr').SecurityConfiguration).toEqual({ Ref: config });
    expectGlueJobSecurity(template, id('AWS::KMS::Key', 'InitialLoadDrKey'), 'ddbrepl-orders-dr-load');
  });
});

describe('role', () => {
  test('has the fixed name the target account trusts and is assumed by Glue only', () => {
    expectGlueJobRole(template, 'ddbrepl-orders-dr-load');
    expect(jobOf('InitialLoadDr').Role).toEqual(getAtt(id('AWS::IAM::Role', 'InitialLoadDrRole')));
  });

  test('its policy is exactly: read the source, its exports, its export bucket, assume the target role, its key, Glue logs and metrics, the script', () => {
    const policy = template.findResources('AWS::IAM::Policy')[id('AWS::IAM::Policy', 'InitialLoadDrRoleDefaultPolicy')].Properties;
    const bucket = id('AWS::S3::Bucket', 'InitialLoadDrExportBucket');
    const exportObjects = { 'Fn::Join': ['', [getAtt(bucket), '/initial-load/*']] };
    expect(policy.Roles).toEqual([{ Ref: id('AWS::IAM::Role', 'InitialLoadDrRole') }]);
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:DescribeContinuousBackups', 'dynamodb:ExportTableToPointInTime'],
        Resource: partitionArn(':dynamodb:eu-west-1:111111111111:table/orders'),
      },
      { Effect: 'Allow', Action: 'dynamodb:DescribeExport', Resource: partitionArn(':dynamodb:eu-west-1:111111111111:table/orders/export/*') },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:PutObject', 's3:PutObjectLegalHold', 's3:PutObjectRetention', 's3:PutObjectTagging', 's3:PutObjectVersionTagging', 's3:Abort*'],
        Resource: [getAtt(bucket), exportObjects],
      },
      { Effect: 'Allow', Action: ['s3:PutObjectAcl', 's3:PutObjectVersionAcl'], Resource: exportObjects },
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: partitionArn(':iam::222222222222:role/ddbrepl-orders-dr-target') },
      ...glueRuntimeStatements(id('AWS::KMS::Key', 'InitialLoadDrKey')),
    ]);
  });

  test('no other policy in the stack names the load role', () => {
    const attached = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(id('AWS::IAM::Role', 'InitialLoadDrRole')))
      .map(([logicalId]) => logicalId);
    expect(attached).toEqual([id('AWS::IAM::Policy', 'InitialLoadDrRoleDefaultPolicy')]);
  });
});

describe('export bucket', () => {
  test('is encrypted, private, TLS-only, and its objects expire after 7 days', () => {
    const bucket = id('AWS::S3::Bucket', 'InitialLoadDrExportBucket');
    expectTransientJobBucket(template, bucket, 7);
  });
});

describe('stack outputs', () => {
  test('name the job and the export bucket per target, next to the existing outputs', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs[targetOutputId('dr', 'InitialLoadJobName')].Value).toEqual({ Ref: id('AWS::Glue::Job', 'InitialLoadDrJob') });
    expect(outputs[targetOutputId('eu-analytics', 'InitialLoadExportBucketName')].Value).toEqual({ Ref: id('AWS::S3::Bucket', 'InitialLoadEuAnalyticsExportBucket') });
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['TargetDrQueueUrl', 'TargetDrEventSourceMappingUuid', 'TargetDrPipeName', 'TargetDrInitialLoadJobName']));
  });
});

describe('props validation', () => {
  const build = (options: Record<string, unknown>, policy: Pick<InitialLoadJobProps, 'filter' | 'redaction'> = {}) => {
    const stack = new Stack(new App(), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
    const sourceTable = TableV2.fromTableAttributes(stack, 'T', { tableName: 'orders', tableStreamArn: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/x' });
    return new InitialLoadJob(stack, 'Load', {
      replicationName: 'orders', targetName: 'dr', sourceTable, keySchema: { partitionKey: { name: 'pk', type: 'S' } },
      targetTableName: 'orders-replica', targetRegion: 'eu-central-1', targetRoleArn: 'arn:aws:iam::222222222222:role/r', externalId: 'x1', options,
      ...policy,
    });
  };
  test('refuses to exclude a key attribute, and fewer than 2 workers, with exact messages', () => {
    expect(() => build({ excludeAttributes: ['pk'] })).toThrow(new ConfigurationError('InitialLoadJob "dr": options.excludeAttributes names key attribute(s) pk; key attributes are always copied'));
    expect(() => build({ numberOfWorkers: 1 })).toThrow('InitialLoadJob "dr": options.numberOfWorkers: Glue Spark jobs need at least 2 workers (driver + executor)');
  });
  test('refuses a policy that redacts a key or is invalid, as the config does', () => {
    expect(() => build({}, { redaction: { redact: ['pk'] } })).toThrow('InitialLoadJob "dr": redaction.redact: key attribute(s) pk cannot be redacted; keys are always replicated as they are');
    expect(() => build({}, { filter: { eventNames: [] } })).toThrow(/^InitialLoadJob "dr": filter\.eventNames: /);
  });
});

describe('config', () => {
  test('initialLoad defaults: G.1X × 2, engine scan, segments chosen by the script, no write cap, nothing excluded', () => {
    expect(testConfig().targets[0].initialLoad).toEqual({ workerType: 'G.1X', numberOfWorkers: 2, engine: 'scan', writeRateItemsPerSecond: 0, excludeAttributes: [] });
  });
  test('excluding a key attribute fails validation at its path', () => {
    expect(() => testConfig((input) => { (input.targets as Record<string, unknown>[])[0].initialLoad = { excludeAttributes: ['note', 'sk'] }; }))
      .toThrow(InvalidReplicationConfigError);
    expect(() => testConfig((input) => { (input.targets as Record<string, unknown>[])[0].initialLoad = { excludeAttributes: ['sk'] }; }))
      .toThrow('targets.0.initialLoad.excludeAttributes: key attribute(s) sk cannot be excluded; key attributes are always copied');
  });
});
