import { resolve } from 'node:path';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import { CloudWatchEncryption, Code, JobBookmarksEncryption, S3Encryption, SecurityConfiguration, WorkerType, type PySparkEtlJob } from 'aws-cdk-lib/aws-glue';
import { Effect, PolicyStatement, ServicePrincipal, type Role } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import type { InitialLoadOptions } from '../../schemas/replication-config';

/**
 * What the Glue jobs of a target (initial load, verify) share: their Python modules, their own KMS
 * key and security configuration, the log/metric permissions of their role, and the cdk-nag
 * acknowledgements those permissions need.
 */

/** The Glue scripts' directory (shipped as assets next to the CDK code). */
export const GLUE_SCRIPT_DIR = resolve(__dirname, '..', 'glue');
/** Modules every job imports (replication_common.py: endpoints, target-role credentials, clients, scan, target view). */
export const GLUE_COMMON_MODULES = ['replication_common.py'] as const;
/** Glue writes driver/executor logs to log groups under this prefix (suffixed with the security configuration's name). */
const GLUE_LOG_GROUP_PREFIX = '/aws-glue/';

export const GLUE_WORKER_TYPES: Record<InitialLoadOptions['workerType'], WorkerType> = {
  'G.1X': WorkerType.G_1X,
  'G.2X': WorkerType.G_2X,
  'G.4X': WorkerType.G_4X,
  'G.8X': WorkerType.G_8X,
};

/** `extraPythonFiles` of a job: each module of infra/glue as its own asset (Glue puts them on the Python path of driver and executors). */
export function gluePythonModules(modules: readonly string[]): Code[] {
  return modules.map((file) => Code.fromAsset(resolve(GLUE_SCRIPT_DIR, file)));
}

/**
 * A bucket for a job's transient files (exports, reports): SSE-S3, TLS only, private, owner-enforced,
 * objects expire after `expiryDays`. `contents` completes the cdk-nag S1 acknowledgement ("Holds only …").
 */
export function transientJobBucket(scope: Construct, id: string, expiryDays: number, contents: string): Bucket {
  const bucket = new Bucket(scope, id, {
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(expiryDays), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: `Holds only ${contents}; they expire after ${expiryDays} days. An access-log bucket would outlive the data it audits; CloudTrail S3 data events are the audit trail where one is required.`,
  });
  return bucket;
}

export interface GlueJobEncryption {
  readonly key: Key;
  readonly securityConfiguration: SecurityConfiguration;
}

/**
 * The job's own KMS key and security configuration (construct ids `Key`, `SecurityConfiguration`
 * under `scope`). Its own key (not the one SecurityConfiguration would create) so the key policy can
 * admit CloudWatch Logs, which encrypts the job's log groups with it (AWS: "Encrypt log data in
 * CloudWatch Logs using AWS KMS").
 */
export function glueJobEncryption(scope: Construct, securityConfigurationName: string, keyDescription: string): GlueJobEncryption {
  const stack = Stack.of(scope);
  const key = new Key(scope, 'Key', { enableKeyRotation: true, description: keyDescription });
  key.addToResourcePolicy(new PolicyStatement({
    effect: Effect.ALLOW,
    principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': glueLogGroupsArn(stack) } },
  }));
  const securityConfiguration = new SecurityConfiguration(scope, 'SecurityConfiguration', {
    securityConfigurationName,
    s3Encryption: S3Encryption.s3Managed(),
    cloudWatchEncryption: CloudWatchEncryption.kms(key),
    jobBookmarksEncryption: JobBookmarksEncryption.clientSideKms(key),
  });
  return { key, securityConfiguration };
}

function glueLogGroupsArn(stack: Stack): string {
  return stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${GLUE_LOG_GROUP_PREFIX}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** What any Glue job role needs to run: its key, its log groups, its job metrics. */
export function grantGlueJobRuntime(role: Role, key: Key): void {
  const stack = Stack.of(role);
  key.grantEncryptDecrypt(role);
  // Glue names its log groups itself (the security configuration's name is part of them), so the prefix.
  const glueLogGroups = glueLogGroupsArn(stack);
  role.addToPrincipalPolicy(new PolicyStatement({
    actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
    resources: [glueLogGroups, `${glueLogGroups}:*`],
  }));
  // --enable-metrics / observability metrics: PutMetricData has no resource-level permissions, only the namespace condition.
  role.addToPrincipalPolicy(new PolicyStatement({
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
  }));
}

/** A cdk-nag IAM5 acknowledgement of one exact finding (so a new wildcard still fails synth). */
export function iam5(finding: string, reason: string): { id: string; reason: string } {
  return { id: `AwsSolutions-IAM5[${finding}]`, reason };
}

/**
 * Acknowledges the wildcards of `grantGlueJobRuntime` and of the job's script/module assets on `role`;
 * `otherReads` says why else the role has the s3:GetObject*, GetBucket*, List* actions, if it does.
 */
export function acknowledgeGlueJobRuntime(label: string, role: Role, job: PySparkEtlJob, otherReads?: string): void {
  const stack = Stack.of(role);
  const assets = job.node.findAll().filter((c): c is Asset => c instanceof Asset);
  if (assets.length === 0) throw new ConfigurationError(`${label}: the Glue job created no script asset`);
  const glueLogGroups = glueLogGroupsArn(stack);
  const keyReason = 'KMS GenerateDataKey*/ReEncrypt* on the job\'s own key only (Glue encrypts its logs and bookmarks with it).';
  const logsReason = 'Glue names the job\'s log groups itself (the security configuration\'s name is part of them); scoped to /aws-glue/* in this account and Region.';
  const assetBuckets = [...new Set(assets.map((asset) => nagString(stack, asset.s3BucketName)))];
  const readsReason = `Read access to the CDK asset bucket holding the Glue script and its modules, granted by the Glue job construct.${otherReads === undefined ? '' : ` ${otherReads}`}`;
  Validations.of(role).acknowledge(
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*'].map((action) => iam5(`Action::${action}`, readsReason)),
    ...assetBuckets.map((bucket) => iam5(`Resource::arn:<AWS::Partition>:s3:::${bucket}/*`, 'Read access to the CDK asset bucket holding the Glue script and its modules, granted by the Glue job construct (objects are content-addressed).')),
    iam5('Action::kms:ReEncrypt*', keyReason),
    iam5('Action::kms:GenerateDataKey*', keyReason),
    iam5(`Resource::${nagString(stack, glueLogGroups)}`, logsReason),
    iam5(`Resource::${nagString(stack, glueLogGroups)}:*`, logsReason),
    iam5('Resource::*', 'cloudwatch:PutMetricData has no resource-level permissions; it is limited to the Glue namespace by condition (job metrics).'),
  );
}

/** A CDK string the way cdk-nag prints it in finding ids: `{Ref: X}` → `<X>`, `Fn::GetAtt` → `<X.Attr>`, joins concatenated. */
export function nagString(stack: Stack, value: string): string {
  const render = (node: unknown): string => {
    if (typeof node === 'string') return node;
    if (typeof node === 'object' && node !== null) {
      const o = node as Record<string, unknown>;
      if (typeof o.Ref === 'string') return `<${o.Ref}>`;
      const getAtt = o['Fn::GetAtt'];
      if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
      const join = o['Fn::Join'];
      if (Array.isArray(join) && Array.isArray(join[1])) return (join[1] as unknown[]).map(render).join(String(join[0]));
    }
    throw new ConfigurationError(`cannot render ${JSON.stringify(node)} as a cdk-nag finding`);
  };
  return render(stack.resolve(value));
}
