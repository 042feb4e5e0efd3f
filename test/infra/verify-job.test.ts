import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { VERIFY_JOB_SCRIPT, VerifyJob, type VerifyJobProps } from '../../infra/constructs/verify-job';
import { targetOutputId } from '../../infra/stacks/stack-output-ids';
import { ConfigurationError } from '../../handlers/core/errors';
import { expectGlueJobRole, expectGlueJobSecurity, expectTransientJobBucket, glueRuntimeStatements } from './glue-job-expectations';
import { FAST_APP_PROPS, fastApp, logicalIdOf, testConfig } from './support';

const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });
const ASSET = /^s3:\/\/cdk-[a-z0-9]+-assets-111111111111-eu-west-1\/[0-9a-f]{64}\.py$/;

const app = fastApp(testConfig());
const { replicationStack } = app;
const template = Template.fromStack(replicationStack);
const id = (type: string, prefix: string) => logicalIdOf(template, type, prefix);
const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const jobOf = (prefix: string) => template.findResources('AWS::Glue::Job')[id('AWS::Glue::Job', `${prefix}Job`)].Properties;

describe('Glue job', () => {
  test('is a Glue 5.0 Python 3 Spark ETL job running verify_job.py, never retried, one run at a time, G.1X × 2', () => {
    const job = jobOf('VerifyJobDr');
    expect(job.Command).toEqual({ Name: 'glueetl', PythonVersion: '3', ScriptLocation: expect.stringMatching(ASSET) });
    expect(job).toMatchObject({ GlueVersion: '5.0', Name: 'ddbrepl-orders-dr-verify-job', MaxRetries: 0, ExecutionProperty: { MaxConcurrentRuns: 1 }, WorkerType: 'G.1X', NumberOfWorkers: 2 });
    expect(job.SecurityConfiguration).toEqual({ Ref: id('AWS::Glue::SecurityConfiguration', 'VerifyJobDrSecurityConfiguration') });
  });

  test('ships the script and exactly its two modules, whose content is the repository\'s', () => {
    const stackJob = replicationStack.verifyJobs.get('dr');
    if (stackJob === undefined) throw new Error('no verify job for target dr');
    const staged = stackJob.node.findAll().filter((c): c is Asset => c instanceof Asset)
      .map((asset) => readFileSync(join(FAST_APP_PROPS.outdir!, asset.assetPath), 'utf8'));
    const repo = (file: string) => readFileSync(join(__dirname, '..', '..', 'infra', 'glue', file), 'utf8');
    expect(staged.sort()).toEqual([repo('verify_job.py'), repo('replication_common.py'), repo('item_digest.py')].sort());
    const extra = String(jobOf('VerifyJobDr').DefaultArguments['--extra-py-files']).split(',');
    expect(extra).toEqual([expect.stringMatching(ASSET), expect.stringMatching(ASSET)]);
  });

  test('default arguments are the script\'s names: tables, role, view, key schema, reports, buckets, settle time (run id is per run)', () => {
    const glueManaged = { '--extra-py-files': expect.any(String), '--job-language': 'python', '--enable-continuous-cloudwatch-log': 'true', '--enable-metrics': '', '--enable-observability-metrics': 'true' };
    expect(jobOf('VerifyJobDr').DefaultArguments).toEqual({
      '--source_table': 'orders',
      '--source_region': 'eu-west-1',
      '--target_table': 'orders-replica',
      '--target_region': 'eu-central-1',
      '--target_role_arn': partitionArn(':iam::222222222222:role/ddbrepl-orders-dr-target'),
      '--external_id': 'orders-dr-7f3c1a',
      '--target_policy': JSON.stringify({ partitionKeyName: 'pk', partitionKeyPrefixes: [], attributeEquals: [], redaction: null }),
      '--key_schema': JSON.stringify({ partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } }),
      '--report_bucket': { Ref: id('AWS::S3::Bucket', 'VerifyJobDrReportBucket') },
      '--report_prefix': 'verify',
      '--buckets': '65536',
      '--settle_seconds': '10',
      ...glueManaged,
    });
    // The filtered target compares the source in its view.
    const policy = JSON.parse(String(jobOf('VerifyJobEuAnalytics').DefaultArguments['--target_policy'])) as { partitionKeyPrefixes: string[] };
    expect(policy.partitionKeyPrefixes.length).toBeGreaterThan(0);
  });

  test('every argument the construct sets is one the Glue script reads, and every required one but --run_id is set', () => {
    const script = readFileSync(VERIFY_JOB_SCRIPT, 'utf8');
    const names = (tuple: string) => [...(script.match(new RegExp(`^${tuple} = \\(([^)]*)\\)`, 'm'))?.[1] ?? '').matchAll(/"(\w+)"/g)].map((m) => m[1]);
    const known = [...names('REQUIRED_ARGS'), ...names('OPTIONAL_ARGS')];
    const ours = Object.keys(jobOf('VerifyJobDr').DefaultArguments as object).filter((k) => /^--[a-z_]+$/.test(k)).map((k) => k.slice(2));
    for (const name of ours) expect(known).toContain(name);
    expect(names('REQUIRED_ARGS').filter((name) => !ours.includes(name))).toEqual(['run_id']);
  });
});

describe('role', () => {
  test('has its own fixed name (trusted by the target role), is assumed by Glue only', () => {
    expectGlueJobRole(template, 'ddbrepl-orders-dr-verify-job');
    expect(jobOf('VerifyJobDr').Role).toEqual(getAtt(id('AWS::IAM::Role', 'VerifyJobDrRole')));
  });

  test('its policy is exactly: read the source, write reports under the prefix, assume the target role, its key, Glue logs and metrics, the script', () => {
    const policy = template.findResources('AWS::IAM::Policy')[id('AWS::IAM::Policy', 'VerifyJobDrRoleDefaultPolicy')].Properties;
    const bucket = id('AWS::S3::Bucket', 'VerifyJobDrReportBucket');
    expect(policy.Roles).toEqual([{ Ref: id('AWS::IAM::Role', 'VerifyJobDrRole') }]);
    expect(policy.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: ['dynamodb:DescribeTable', 'dynamodb:Scan', 'dynamodb:GetItem'], Resource: partitionArn(':dynamodb:eu-west-1:111111111111:table/orders') },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:PutObjectLegalHold', 's3:PutObjectRetention', 's3:PutObjectTagging', 's3:PutObjectVersionTagging', 's3:Abort*'],
        Resource: { 'Fn::Join': ['', [getAtt(bucket), '/verify/*']] },
      },
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: partitionArn(':iam::222222222222:role/ddbrepl-orders-dr-target') },
      ...glueRuntimeStatements(id('AWS::KMS::Key', 'VerifyJobDrKey')),
    ]);
  });

  test('its own security configuration and rotating key, which CloudWatch Logs may use for Glue log groups only', () => {
    expectGlueJobSecurity(template, id('AWS::KMS::Key', 'VerifyJobDrKey'), 'ddbrepl-orders-dr-verify-job');
  });
});

describe('report bucket', () => {
  test('is encrypted, private, TLS-only, and its reports expire after 30 days', () => {
    const bucket = id('AWS::S3::Bucket', 'VerifyJobDrReportBucket');
    expectTransientJobBucket(template, bucket, 30);
  });
});

describe('stack outputs', () => {
  test('name the job and the report bucket per target: TargetDrVerifyJobName, TargetDrVerifyReportBucketName', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(targetOutputId('dr', 'VerifyJobName')).toBe('TargetDrVerifyJobName');
    expect(outputs.TargetDrVerifyJobName.Value).toEqual({ Ref: id('AWS::Glue::Job', 'VerifyJobDrJob') });
    expect(outputs.TargetDrVerifyReportBucketName.Value).toEqual({ Ref: id('AWS::S3::Bucket', 'VerifyJobDrReportBucket') });
    expect(outputs.TargetEuAnalyticsVerifyJobName.Value).toEqual({ Ref: id('AWS::Glue::Job', 'VerifyJobEuAnalyticsJob') });
  });
});

describe('props validation', () => {
  const build = (props: Partial<VerifyJobProps>) => {
    const stack = new Stack(new App(FAST_APP_PROPS), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
    const sourceTable = TableV2.fromTableAttributes(stack, 'T', { tableName: 'orders', tableStreamArn: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/x' });
    return new VerifyJob(stack, 'Verify', {
      replicationName: 'orders', targetName: 'dr', sourceTable, keySchema: { partitionKey: { name: 'pk', type: 'S' } },
      targetTableName: 'orders-replica', targetRegion: 'eu-central-1', targetRoleArn: 'arn:aws:iam::222222222222:role/r', externalId: 'x1',
      ...props,
    });
  };

  test('refuses bad sizes with exact messages, all at once', () => {
    expect(() => build({ numberOfWorkers: 1, buckets: 0, settleSeconds: -1, reportExpiryDays: 0 })).toThrow(new ConfigurationError(
      'VerifyJob "dr": numberOfWorkers must be an integer from 2 to 299 (Glue Spark jobs need a driver and an executor), got 1; ' +
      'buckets must be an integer from 1 to 16777216, got 0; settleSeconds must be from 0 to 600, got -1; reportExpiryDays must be an integer from 1 to 3650, got 0',
    ));
  });

  test('refuses a redaction of a key attribute', () => {
    expect(() => build({ redaction: { redact: ['pk'], exclude: [], redactWith: { token: 'R' } } })).toThrow(/^VerifyJob "dr": redaction\.redact.*pk/);
  });

  test('options reach the job', () => {
    const job = build({ workerType: 'G.2X', numberOfWorkers: 5, buckets: 4096, settleSeconds: 0, reportExpiryDays: 7 });
    const t = Template.fromStack(Stack.of(job));
    t.hasResourceProperties('AWS::Glue::Job', { WorkerType: 'G.2X', NumberOfWorkers: 5, DefaultArguments: Match.objectLike({ '--buckets': '4096', '--settle_seconds': '0' }) });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] } });
  });
});
