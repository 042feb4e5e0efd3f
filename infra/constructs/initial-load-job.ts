import { resolve } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Code, GlueVersion, PySparkEtlJob, type SecurityConfiguration } from 'aws-cdk-lib/aws-glue';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import { keyAttributeNames, type KeySchema } from '../../handlers/core/key-schema';
import {
  GLUE_COMMON_MODULES, GLUE_SCRIPT_DIR, GLUE_WORKER_TYPES, acknowledgeGlueJobRuntime, glueJobEncryption, gluePythonModules,
  grantGlueJobRuntime, iam5, nagString, transientJobBucket,
} from './glue-job-support';
import { grantSourceTableDecrypt, type TargetTableProps } from './target-table-props';
import type { InitialLoadOptionsProps, TargetFilterProps, TargetRedactionProps } from './target-options';
import { initialLoadTargetPolicy } from './glue-target-policy';

export { nagString } from './glue-job-support';
import {
  initialLoadSchema, roleNames, targetFilterSchema, targetPolicyProblems, targetRedactionSchema,
  type InitialLoadOptions, type TargetFilter, type TargetRedaction,
} from '../../schemas/replication-config';

/** The Glue script, shipped as an asset next to the CDK code. */
export const INITIAL_LOAD_SCRIPT = resolve(GLUE_SCRIPT_DIR, 'initial_load.py');
/**
 * S3Prefix of native exports in the export bucket (DynamoDB appends `/AWSDynamoDB/<export id>/…`);
 * the job role may only touch objects under it.
 */
export const EXPORT_PREFIX = 'initial-load';
/** Export files are only needed while the job runs: they expire after this many days. */
export const EXPORT_EXPIRY_DAYS = 7;
/** Modules the script imports, shipped next to it (extraPythonFiles). */
export const INITIAL_LOAD_MODULES = [...GLUE_COMMON_MODULES];

export interface InitialLoadJobProps extends TargetTableProps {
  /** Worker type/count, engine, segments, write rate, exclusions. @default the `InitialLoadOptionsProps` defaults */
  readonly options?: InitialLoadOptionsProps;
  /** The target's filter: only items in its view are copied. @default every item */
  readonly filter?: TargetFilterProps;
  /** The target's redaction, applied to every copied item. @default none */
  readonly redaction?: TargetRedactionProps;
}

/**
 * The initial load of one target (docs/architecture.md#initial-load): a Glue 5.0 PySpark job running infra/glue/initial_load.py,
 * with its own role (fixed name, trusted by the target account's role), security configuration,
 * KMS key for its logs and bookmarks, and an S3 bucket for the `export` engine's native exports.
 *
 * Construct ids below are part of the contract: renaming one replaces the resource.
 */
export class InitialLoadJob extends Construct {
  public readonly job: PySparkEtlJob;
  /** Fixed name `roleNames.initialLoad(...)`, trusted by the target account's role before it exists. */
  public readonly role: Role;
  /** Where the `export` engine's native exports go (under EXPORT_PREFIX); objects expire after EXPORT_EXPIRY_DAYS. */
  public readonly exportBucket: Bucket;
  public readonly securityConfiguration: SecurityConfiguration;
  public readonly options: InitialLoadOptions;
  public readonly filter: TargetFilter;
  public readonly redaction?: TargetRedaction;

  constructor(scope: Construct, id: string, props: InitialLoadJobProps) {
    super(scope, id);
    const label = `InitialLoadJob "${props.targetName}"`;
    const parsed = initialLoadSchema.safeParse(props.options ?? {});
    if (!parsed.success) {
      const reasons = parsed.error.issues.map((issue) => `${['options', ...issue.path.map(String)].join('.')}: ${issue.message}`);
      throw new ConfigurationError(`${label}: ${reasons.join('; ')}`, { cause: parsed.error });
    }
    this.options = parsed.data;
    const filter = targetFilterSchema.safeParse(props.filter ?? {});
    const redaction = props.redaction === undefined ? undefined : targetRedactionSchema.safeParse(props.redaction);
    for (const [field, result] of [['filter', filter], ['redaction', redaction]] as const) {
      if (result !== undefined && !result.success) {
        throw new ConfigurationError(`${label}: ${result.error.issues.map((i) => `${[field, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')}`, { cause: result.error });
      }
    }
    this.filter = filter.data ?? targetFilterSchema.parse({});
    this.redaction = redaction?.data;
    const policyProblems = targetPolicyProblems(props.keySchema, this.filter, this.redaction);
    if (policyProblems.length > 0) throw new ConfigurationError(`${label}: ${policyProblems.map(([path, message]) => `${path.join('.')}: ${message}`).join('; ')}`);
    const excludedKeys = this.options.excludeAttributes.filter((name) => keyAttributeNames(props.keySchema).includes(name));
    if (excludedKeys.length > 0) {
      throw new ConfigurationError(`${label}: options.excludeAttributes names key attribute(s) ${excludedKeys.join(', ')}; key attributes are always copied`);
    }
    const stack = Stack.of(this);
    const baseName = `ddbrepl-${props.replicationName}-${props.targetName}`;

    // Export bucket ------------------------------------------------------------------------------
    this.exportBucket = transientJobBucket(this, 'ExportBucket', EXPORT_EXPIRY_DAYS, 'transient DynamoDB export files, written by DynamoDB and read by this job\'s role alone');

    // Encryption ---------------------------------------------------------------------------------
    const { key, securityConfiguration } = glueJobEncryption(this, `${baseName}-load`,
      `Glue logs and job bookmarks of the initial load of replication ${props.replicationName} to target ${props.targetName}`);
    this.securityConfiguration = securityConfiguration;

    // Role ---------------------------------------------------------------------------------------
    this.role = new Role(this, 'Role', {
      roleName: roleNames.initialLoad(props.replicationName, props.targetName),
      assumedBy: new ServicePrincipal('glue.amazonaws.com'),
      description: `Initial-load Glue job of replication ${props.replicationName} to target ${props.targetName}; trusted by the target account's role`,
    });
    // Source: read by Scan, or by a native export (PITR checked first), and nothing else.
    props.sourceTable.grant(this.role, 'dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:DescribeContinuousBackups', 'dynamodb:ExportTableToPointInTime');
    grantSourceTableDecrypt(props, this.role);
    this.role.addToPrincipalPolicy(new PolicyStatement({
      actions: ['dynamodb:DescribeExport'],
      resources: [`${props.sourceTable.tableArn}/export/*`],
    }));
    // The export writes its files with the caller's permissions (PutObject, PutObjectAcl, AbortMultipartUpload); the job reads them.
    this.exportBucket.grantReadWrite(this.role, `${EXPORT_PREFIX}/*`);
    this.exportBucket.grantPutAcl(this.role, `${EXPORT_PREFIX}/*`);
    // Cross-account writes go through the target role only.
    Role.fromRoleArn(this, 'TargetRole', props.targetRoleArn, { mutable: false }).grantAssumeRole(this.role);
    grantGlueJobRuntime(this.role, key);

    // Job ----------------------------------------------------------------------------------------
    this.job = new PySparkEtlJob(this, 'Job', {
      jobName: `${baseName}-initial-load`,
      description: `Initial load of ${props.sourceTable.tableName} into ${props.targetTableName} (${props.targetRegion}) for target ${props.targetName}`,
      role: this.role,
      script: Code.fromAsset(INITIAL_LOAD_SCRIPT),
      extraPythonFiles: gluePythonModules(INITIAL_LOAD_MODULES),
      glueVersion: GlueVersion.V5_0,
      workerConfiguration: { workerType: GLUE_WORKER_TYPES[this.options.workerType], numberOfWorkers: this.options.numberOfWorkers },
      securityConfiguration: this.securityConfiguration,
      // A run is an explicit operator action (`ddb-replicate bootstrap`), never retried behind their back, never two at once.
      maxRetries: 0,
      maxConcurrentRuns: 1,
      defaultArguments: initialLoadArguments({
        sourceTableName: props.sourceTable.tableName,
        sourceRegion: stack.region,
        targetTableName: props.targetTableName,
        targetRegion: props.targetRegion,
        targetRoleArn: props.targetRoleArn,
        externalId: props.externalId,
        exportBucketName: this.exportBucket.bucketName,
        options: this.options,
        keySchema: props.keySchema,
        filter: this.filter,
        ...(this.redaction === undefined ? {} : { redaction: this.redaction }),
      }),
    });
    this.job.node.addDependency(this.role);

    // Each wildcard finding by its exact id, so a new wildcard still fails synth.
    const bucketReason = `grantReadWrite/grantPutAcl on the export bucket, scoped to the ${EXPORT_PREFIX}/ prefix: the native export writes files there and the job reads them back.`;
    acknowledgeGlueJobRuntime(label, this.role, this.job, bucketReason);
    const exportsReason = 'Native exports of the source table get ids chosen by DynamoDB: DescribeExport is scoped to table/<source>/export/*.';
    Validations.of(this.role).acknowledge(
      iam5(`Resource::${nagString(stack, props.sourceTable.tableArn)}/export/*`, exportsReason),
      ...['s3:DeleteObject*', 's3:Abort*'].map((action) => iam5(`Action::${action}`, bucketReason)),
      iam5(`Resource::${nagString(stack, this.exportBucket.bucketArn)}/${EXPORT_PREFIX}/*`, bucketReason),
    );
  }

  public get jobName(): string {
    return this.job.jobName;
  }
}

export interface InitialLoadArgumentsInput {
  sourceTableName: string;
  sourceRegion: string;
  targetTableName: string;
  targetRegion: string;
  targetRoleArn: string;
  externalId: string;
  exportBucketName: string;
  options: InitialLoadOptions;
  keySchema: KeySchema;
  filter: TargetFilter;
  redaction?: TargetRedaction;
}

/**
 * The job's default arguments, named as infra/glue/initial_load.py reads them (REQUIRED_ARGS,
 * OPTIONAL_ARGS). `--segments` is left out unless configured: the script then uses 4 × its Spark
 * parallelism. `ddb-replicate bootstrap` overrides `--engine`/`--segments` per run.
 */
export function initialLoadArguments(input: InitialLoadArgumentsInput): Record<string, string> {
  const { options } = input;
  return {
    '--source_table': input.sourceTableName,
    '--source_region': input.sourceRegion,
    '--target_table': input.targetTableName,
    '--target_region': input.targetRegion,
    '--target_role_arn': input.targetRoleArn,
    '--external_id': input.externalId,
    '--engine': options.engine,
    ...(options.segments === undefined ? {} : { '--segments': String(options.segments) }),
    '--write_rate': String(options.writeRateItemsPerSecond),
    ...(options.excludeAttributes.length === 0 ? {} : { '--exclude_attributes': options.excludeAttributes.join(',') }),
    '--export_bucket': input.exportBucketName,
    '--export_prefix': EXPORT_PREFIX,
    // Always set, so a run copies the target's view even when the policy is empty today and set later.
    '--target_policy': JSON.stringify(initialLoadTargetPolicy(input.keySchema, input.filter, input.redaction)),
  };
}
