import { resolve } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Code, GlueVersion, PySparkEtlJob, type SecurityConfiguration } from 'aws-cdk-lib/aws-glue';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import { roleNames, targetFilterSchema, targetPolicyProblems, type InitialLoadOptions, type TargetFilter, type TargetRedaction } from '../../schemas/replication-config';
import {
  GLUE_COMMON_MODULES, GLUE_SCRIPT_DIR, GLUE_WORKER_TYPES, acknowledgeGlueJobRuntime, glueJobEncryption, gluePythonModules,
  grantGlueJobRuntime, iam5, nagString, transientJobBucket,
} from './glue-job-support';
import { initialLoadTargetPolicy } from './glue-target-policy';
import { grantSourceTableDecrypt, type TargetTableProps } from './target-table-props';

/** The Glue script, shipped as an asset next to the CDK code. */
export const VERIFY_JOB_SCRIPT = resolve(GLUE_SCRIPT_DIR, 'verify_job.py');
/** Modules the script imports, shipped next to it (extraPythonFiles). */
export const VERIFY_JOB_MODULES = [...GLUE_COMMON_MODULES, 'item_digest.py'];
/** Reports go under `<prefix>/<run id>/` in the report bucket; the job role may only write there. */
export const VERIFY_REPORT_PREFIX = 'verify';
/** Bucket digests per run (as the `verify` command, cli/operator/verify.ts DEFAULT_BUCKETS). */
export const DEFAULT_VERIFY_BUCKETS = 65_536;
const MAX_VERIFY_BUCKETS = 1 << 24;

export interface VerifyJobProps extends TargetTableProps {
  /** The target's filter: source items outside its view are not expected in the target. @default every item */
  readonly filter?: TargetFilter;
  /** The target's redaction: source items are compared as redacted. @default none */
  readonly redaction?: TargetRedaction;
  /** Glue worker type. @default 'G.1X' */
  readonly workerType?: InitialLoadOptions['workerType'];
  /** Glue workers (driver included), 2 to 299. @default 2 */
  readonly numberOfWorkers?: number;
  /** Bucket digests (`--buckets`), 1 to 2^24. @default 65536 */
  readonly buckets?: number;
  /** Seconds to let in-flight changes land before re-reading differing keys (`--settle_seconds`), 0 to 600. @default 10 */
  readonly settleSeconds?: number;
  /** Days before report objects expire, 1 to 3650. @default 30 */
  readonly reportExpiryDays?: number;
}

/**
 * The full verification of one target on AWS Glue (docs/architecture.md#verify-job): a Glue 5.0
 * PySpark job running infra/glue/verify_job.py, the `verify` command's two-pass bucket-digest
 * compare with Spark tasks doing the scans. Its own role (fixed name `roleNames.verifyJob`, trusted by
 * the target account's role), security configuration and KMS key, and a report bucket the CLI reads.
 *
 * Construct ids below are part of the contract: renaming one replaces the resource.
 */
export class VerifyJob extends Construct {
  public readonly job: PySparkEtlJob;
  public readonly role: Role;
  /** Run reports under `VERIFY_REPORT_PREFIX/<run id>/` (progress.json, summary.json, differences.jsonl); they expire. */
  public readonly reportBucket: Bucket;
  public readonly securityConfiguration: SecurityConfiguration;

  constructor(scope: Construct, id: string, props: VerifyJobProps) {
    super(scope, id);
    const label = `VerifyJob "${props.targetName}"`;
    const numberOfWorkers = props.numberOfWorkers ?? 2;
    const buckets = props.buckets ?? DEFAULT_VERIFY_BUCKETS;
    const settleSeconds = props.settleSeconds ?? 10;
    const reportExpiryDays = props.reportExpiryDays ?? 30;
    const filter = props.filter ?? targetFilterSchema.parse({});
    const problems = [
      ...(Number.isInteger(numberOfWorkers) && numberOfWorkers >= 2 && numberOfWorkers <= 299 ? [] : [`numberOfWorkers must be an integer from 2 to 299 (Glue Spark jobs need a driver and an executor), got ${numberOfWorkers}`]),
      ...(Number.isInteger(buckets) && buckets >= 1 && buckets <= MAX_VERIFY_BUCKETS ? [] : [`buckets must be an integer from 1 to ${MAX_VERIFY_BUCKETS}, got ${buckets}`]),
      ...(Number.isFinite(settleSeconds) && settleSeconds >= 0 && settleSeconds <= 600 ? [] : [`settleSeconds must be from 0 to 600, got ${settleSeconds}`]),
      ...(Number.isInteger(reportExpiryDays) && reportExpiryDays >= 1 && reportExpiryDays <= 3650 ? [] : [`reportExpiryDays must be an integer from 1 to 3650, got ${reportExpiryDays}`]),
      ...targetPolicyProblems(props.keySchema, filter, props.redaction).map(([path, message]) => `${path.join('.')}: ${message}`),
    ];
    if (problems.length > 0) throw new ConfigurationError(`${label}: ${problems.join('; ')}`);
    const stack = Stack.of(this);
    const baseName = `ddbrepl-${props.replicationName}-${props.targetName}`;

    // Report bucket ------------------------------------------------------------------------------
    this.reportBucket = transientJobBucket(this, 'ReportBucket', reportExpiryDays, 'verify run reports (keys of differing items, never values), written by this job\'s role alone');

    // Encryption ---------------------------------------------------------------------------------
    const { key, securityConfiguration } = glueJobEncryption(this, `${baseName}-verify-job`,
      `Glue logs and job bookmarks of the verify job of replication ${props.replicationName} to target ${props.targetName}`);
    this.securityConfiguration = securityConfiguration;

    // Role ---------------------------------------------------------------------------------------
    this.role = new Role(this, 'Role', {
      roleName: roleNames.verifyJob(props.replicationName, props.targetName),
      assumedBy: new ServicePrincipal('glue.amazonaws.com'),
      description: `Verify Glue job of replication ${props.replicationName} to target ${props.targetName}; trusted by the target account's role`,
    });
    // Source: read only (DescribeTable checks the key schema, Scan the passes, GetItem the re-check).
    props.sourceTable.grant(this.role, 'dynamodb:DescribeTable', 'dynamodb:Scan', 'dynamodb:GetItem');
    grantSourceTableDecrypt(props, this.role);
    // Reports: written, never read back by the job (the CLI reads them with the operator's credentials).
    this.reportBucket.grantPut(this.role, `${VERIFY_REPORT_PREFIX}/*`);
    // The target is read through the target role only.
    Role.fromRoleArn(this, 'TargetRole', props.targetRoleArn, { mutable: false }).grantAssumeRole(this.role);
    grantGlueJobRuntime(this.role, key);

    // Job ----------------------------------------------------------------------------------------
    this.job = new PySparkEtlJob(this, 'Job', {
      jobName: `${baseName}-verify-job`,
      description: `Verifies ${props.targetTableName} (${props.targetRegion}) against ${props.sourceTable.tableName} for target ${props.targetName}`,
      role: this.role,
      script: Code.fromAsset(VERIFY_JOB_SCRIPT),
      extraPythonFiles: gluePythonModules(VERIFY_JOB_MODULES),
      glueVersion: GlueVersion.V5_0,
      workerConfiguration: { workerType: GLUE_WORKER_TYPES[props.workerType ?? 'G.1X'], numberOfWorkers },
      securityConfiguration: this.securityConfiguration,
      // A run is an explicit operator action (the `verify` command), never retried behind their back, never two at once.
      maxRetries: 0,
      maxConcurrentRuns: 1,
      defaultArguments: {
        '--source_table': props.sourceTable.tableName,
        '--source_region': stack.region,
        '--target_table': props.targetTableName,
        '--target_region': props.targetRegion,
        '--target_role_arn': props.targetRoleArn,
        '--external_id': props.externalId,
        // Always set, so a run compares the target's view even when the policy is empty today and set later.
        '--target_policy': JSON.stringify(initialLoadTargetPolicy(props.keySchema, filter, props.redaction)),
        '--key_schema': JSON.stringify(props.keySchema),
        '--report_bucket': this.reportBucket.bucketName,
        '--report_prefix': VERIFY_REPORT_PREFIX,
        '--buckets': String(buckets),
        '--settle_seconds': String(settleSeconds),
      },
    });
    this.job.node.addDependency(this.role);

    // Each wildcard finding by its exact id, so a new wildcard still fails synth.
    acknowledgeGlueJobRuntime(label, this.role, this.job);
    const reportReason = `grantPut on the report bucket, scoped to the ${VERIFY_REPORT_PREFIX}/ prefix: each run writes its reports under ${VERIFY_REPORT_PREFIX}/<run id>/.`;
    Validations.of(this.role).acknowledge(
      iam5('Action::s3:Abort*', reportReason),
      iam5(`Resource::${nagString(stack, this.reportBucket.bucketArn)}/${VERIFY_REPORT_PREFIX}/*`, reportReason),
    );
  }

  public get jobName(): string {
    return this.job.jobName;
  }
}
