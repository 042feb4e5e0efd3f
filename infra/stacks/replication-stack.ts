import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import { targetRoleArn, type ReplicationConfig } from '../../schemas/replication-config';
import { ENV } from '../../handlers/core/env';
import { InitialLoadJob } from '../constructs/initial-load-job';
import { ReplicationControlTable } from '../constructs/replication-control-table';
import { controlTableName } from '../../handlers/core/freeze';
import { stateTableName } from '../../handlers/core/replication-state';
import { SampledVerify } from '../constructs/sampled-verify';
import { grantSourceTableDecrypt } from '../constructs/target-table-props';
import { TableReplication } from '../constructs/table-replication';
import { VerifyJob } from '../constructs/verify-job';
import type { ReplicationTarget } from '../constructs/replication-target';
import { pascalCase, targetOutputId, type InitialLoadOutputName, type TargetOutputName, type TargetPipelineOutputName, type VerifyJobOutputName } from './stack-output-ids';

/**
 * The value of each stack output the CLI reads, per target; the ids and the contract are in
 * stack-output-ids.ts (which the CLI loads without aws-cdk-lib).
 */
export const TARGET_OUTPUTS: Readonly<Record<TargetPipelineOutputName, (t: ReplicationTarget) => string>> = {
  QueueUrl: (t) => t.queue.queueUrl,
  QueueArn: (t) => t.queue.queueArn,
  DeadLetterQueueUrl: (t) => t.deadLetterQueue.queueUrl,
  DeadLetterQueueArn: (t) => t.deadLetterQueue.queueArn,
  PipeDeadLetterQueueUrl: (t) => t.pipeDeadLetterQueue.queueUrl,
  PipeDeadLetterQueueArn: (t) => t.pipeDeadLetterQueue.queueArn,
  ApplyFunctionName: (t) => t.applyFunction.functionName,
  EventSourceMappingUuid: (t) => t.eventSourceMapping.eventSourceMappingId,
  PipeName: (t) => t.pipe.pipeName,
};
/** Outputs of the target's initial-load job. */
export const INITIAL_LOAD_OUTPUTS: Readonly<Record<InitialLoadOutputName, (j: InitialLoadJob) => string>> = {
  InitialLoadJobName: (j) => j.jobName,
  InitialLoadExportBucketName: (j) => j.exportBucket.bucketName,
};
/** Outputs of the target's verify job. */
export const VERIFY_JOB_OUTPUTS: Readonly<Record<VerifyJobOutputName, (j: VerifyJob) => string>> = {
  VerifyJobName: (j) => j.jobName,
  VerifyReportBucketName: (j) => j.reportBucket.bucketName,
};

export interface ReplicationStackProps extends StackProps {
  /** The validated app config (`parseReplicationConfig`). */
  readonly config: ReplicationConfig;
}

/** The source-account stack: one `TableReplication` over the existing source table and its stream. */
export class ReplicationStack extends Stack {
  public readonly replication: TableReplication;
  /**
   * The source table's customer managed key (`source.kmsKeyArn`), undefined without one. Constructs
   * reading the source table take it as `sourceTableKey` and call `grantSourceTableDecrypt`.
   */
  public readonly sourceTableKey?: IKey;
  /** By target name. */
  public readonly initialLoadJobs: ReadonlyMap<string, InitialLoadJob>;
  /** The Glue verify job of each target (the `verify` command's server-side engine), by target name. */
  public readonly verifyJobs: ReadonlyMap<string, VerifyJob>;
  /** Freeze marks of the targets (cutover/failover, docs/disaster-recovery.md). */
  public readonly controlTable: ReplicationControlTable;

  constructor(scope: Construct, id: string, props: ReplicationStackProps) {
    super(scope, id, props);
    const { config } = props;
    // An existing table: imported by name and stream ARN, never created or changed here.
    const sourceTable = TableV2.fromTableAttributes(this, 'SourceTable', {
      tableName: config.source.tableName,
      tableStreamArn: config.source.tableStreamArn,
    });
    this.sourceTableKey = config.source.kmsKeyArn === undefined ? undefined : Key.fromKeyArn(this, 'SourceTableKey', config.source.kmsKeyArn);
    this.replication = new TableReplication(this, 'Replication', {
      replicationName: config.replicationName,
      sourceTable,
      sourceTableKey: this.sourceTableKey,
      keySchema: config.source.keySchema,
    });

    this.controlTable = new ReplicationControlTable(this, 'Control', { replicationName: config.replicationName });
    new CfnOutput(this, 'ControlTableName', { value: this.controlTable.table.tableName, description: 'Freeze marks of the targets (ddb-replicate cutover/failover)' });

    const initialLoadJobs = new Map<string, InitialLoadJob>();
    this.initialLoadJobs = initialLoadJobs;
    const verifyJobs = new Map<string, VerifyJob>();
    this.verifyJobs = verifyJobs;
    const outputPrefixes = new Map<string, string>();
    for (const target of config.targets) {
      const prefix = targetOutputId(target.name, 'QueueUrl');
      const clash = outputPrefixes.get(prefix);
      if (clash !== undefined) {
        throw new ConfigurationError(`targets "${clash}" and "${target.name}" would share the stack output ids ${prefix}…; rename one of them`);
      }
      outputPrefixes.set(prefix, target.name);

      // What every writer and reader of this target gets: its table, its role, its view of the items.
      const targetAccess = {
        targetTableName: target.tableName,
        targetRegion: target.region,
        targetRoleArn: targetRoleArn(config, target, this.partition),
        externalId: target.externalId,
        filter: target.filter,
        ...(target.redaction === undefined ? {} : { redaction: target.redaction }),
      };
      const replicationTarget = this.replication.addTarget({
        targetName: target.name,
        ...targetAccess,
        options: target.options,
      });
      // The apply reads its freeze mark before each batch (handlers/core/freeze.ts).
      // The fixed physical name, not a Ref: local mode reads this variable from the template as it is.
      replicationTarget.addApplyEnvironment(ENV.controlTableName, controlTableName(config.replicationName));
      this.controlTable.grantReadMark(replicationTarget.applyRole, target.name);
      // The apply records its last applied change in the target's state table (target account, the
      // target-access stack; handlers/core/replication-state.ts), through the target role. Fixed name, as above.
      replicationTarget.addApplyEnvironment(ENV.stateTableName, stateTableName(config.replicationName, target.name));
      this.addTargetOutputs(target.name, TARGET_OUTPUTS, replicationTarget);

      const initialLoadJob = new InitialLoadJob(this, `InitialLoad${pascalCase(target.name)}`, {
        replicationName: config.replicationName,
        targetName: target.name,
        sourceTable,
        sourceTableKey: this.sourceTableKey,
        keySchema: config.source.keySchema,
        targetTableName: target.tableName,
        targetRegion: target.region,
        targetRoleArn: targetRoleArn(config, target, this.partition),
        externalId: target.externalId,
        options: target.initialLoad,
        filter: target.filter,
        ...(target.redaction === undefined ? {} : { redaction: target.redaction }),
      });
      initialLoadJobs.set(target.name, initialLoadJob);
      // Full verification on Glue (the `verify` command's server-side engine), reading the source like the initial load.
      const verifyJob = new VerifyJob(this, `VerifyJob${pascalCase(target.name)}`, {
        replicationName: config.replicationName,
        sourceTable,
        sourceTableKey: this.sourceTableKey,
        keySchema: config.source.keySchema,
        targetName: target.name,
        ...targetAccess,
      });
      verifyJobs.set(target.name, verifyJob);
      // Continuous sampled verification (issue 13), when configured: schedule, function, alarms, a dashboard row.
      if (target.continuousVerify?.enabled === true) {
        const sampledVerify = new SampledVerify(this, `SampledVerify${pascalCase(target.name)}`, {
          replicationName: config.replicationName,
          targetName: target.name,
          sourceTable,
          keySchema: config.source.keySchema,
          ...targetAccess,
          queue: replicationTarget.queue,
          ...(replicationTarget.queueKey === undefined ? {} : { queueKey: replicationTarget.queueKey }),
          config: target.continuousVerify,
          ...(this.replication.alarmTopic === undefined ? {} : { alarmTopic: this.replication.alarmTopic }),
        });
        // It reads the source table: with a customer key, it decrypts like every other reader.
        grantSourceTableDecrypt({ sourceTableKey: this.sourceTableKey }, sampledVerify.role);
        // Each run is recorded in the target's state table, as the apply records its changes.
        sampledVerify.function.addEnvironment(ENV.stateTableName, stateTableName(config.replicationName, target.name));
        this.replication.dashboard.dashboard.addWidgets(...sampledVerify.dashboardWidgets());
      }
      this.addTargetOutputs(target.name, INITIAL_LOAD_OUTPUTS, initialLoadJob);
      this.addTargetOutputs(target.name, VERIFY_JOB_OUTPUTS, verifyJob);
    }
  }

  /** One CfnOutput per entry of `outputs` (TARGET_OUTPUTS, INITIAL_LOAD_OUTPUTS, VERIFY_JOB_OUTPUTS), ids from `targetOutputId`. */
  private addTargetOutputs<T>(targetName: string, outputs: Readonly<Partial<Record<TargetOutputName, (resource: T) => string>>>, resource: T): void {
    for (const [output, value] of Object.entries(outputs) as [TargetOutputName, (resource: T) => string][]) {
      new CfnOutput(this, targetOutputId(targetName, output), { value: value(resource), description: `${output} of replication target ${targetName}` });
    }
  }
}

