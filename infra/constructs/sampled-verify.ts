import { resolve } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, GraphWidget, Metric, TextWidget, TreatMissingData, type IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { ConfigurationError } from '../../handlers/core/errors';
import { metricDimensions } from '../../handlers/core/metrics';
import { VERIFY_METRIC_NAMES } from '../../handlers/core/verify-metrics';
import { continuousVerifySchema, roleNames, targetFilterSchema, targetRedactionSchema, type ContinuousVerifyConfig } from '../../schemas/replication-config';
import type { ContinuousVerifyProps, TargetFilterProps, TargetRedactionProps } from './target-options';
import { nagString } from './initial-load-job';
import { targetAccessEnvironment, type TargetTableProps } from './target-table-props';

const REPO_ROOT = resolve(__dirname, '..', '..');
/** Sampling 2 × 1,000 items with GetItems on both sides is seconds of work; the settle wait comes on top. */
const WORK_SECONDS = 120;
const MEMORY_MB = 256;

/** `targetRoleArn` is assumed to read the target table: the target role trusts `roleNames.verify` (infra/stacks/target-access-stack.ts). */
export interface SampledVerifyProps extends TargetTableProps {
  /** The target's filter: the sample is compared in the target's view. */
  readonly filter: TargetFilterProps;
  /** The target's redaction. @default none */
  readonly redaction?: TargetRedactionProps;
  /** The target's FIFO queue: RESYNCs of the auto-repair go there (sqs:SendMessage only with autoRepair). */
  readonly queue: IQueue;
  /** The queue's customer managed key, if any: a sender needs kms:GenerateDataKey and kms:Decrypt. @default none */
  readonly queueKey?: IKey;
  /** `continuousVerify` of the target config. @default the `ContinuousVerifyProps` defaults */
  readonly config?: ContinuousVerifyProps;
  /** Notified on ALARM and OK. @default no actions */
  readonly alarmTopic?: ITopic;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * Continuous sampled verification of one target (handlers/sampled-verify.ts): an EventBridge
 * Scheduler schedule invokes a function every `everyMinutes` that samples both tables, compares in
 * the target's view and publishes VerifySampled / VerifyMismatches; an alarm fires on any confirmed
 * mismatch. Least privilege: read the source table, assume the target role, and — only with
 * autoRepair — send to the target's queue. It never writes a table.
 *
 * Construct ids are part of the contract.
 */
export class SampledVerify extends Construct {
  public readonly config: ContinuousVerifyConfig;
  public readonly function: NodejsFunction;
  /** Fixed name `roleNames.verify(...)`, trusted by the target account's role before it exists. */
  public readonly role: Role;
  public readonly schedule: Schedule;
  public readonly mismatchAlarm: Alarm;
  public readonly errorAlarm: Alarm;
  private readonly targetName: string;
  private readonly replicationName: string;

  constructor(scope: Construct, id: string, props: SampledVerifyProps) {
    super(scope, id);
    const parsed = continuousVerifySchema.safeParse(props.config ?? {});
    if (!parsed.success) {
      throw new ConfigurationError(`SampledVerify "${props.targetName}": ${parsed.error.issues.map((i) => `continuousVerify.${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    this.config = parsed.data;
    // The props are plain interfaces: parse them as the other per-target constructs do (a config-parsed value is unchanged).
    const filter = targetFilterSchema.safeParse(props.filter);
    const redaction = props.redaction === undefined ? undefined : targetRedactionSchema.safeParse(props.redaction);
    for (const [field, result] of [['filter', filter], ['redaction', redaction]] as const) {
      if (result !== undefined && !result.success) {
        throw new ConfigurationError(`SampledVerify "${props.targetName}": ${result.error.issues.map((i) => `${[field, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')}`, { cause: result.error });
      }
    }
    this.targetName = props.targetName;
    this.replicationName = props.replicationName;
    const cfg = this.config;
    const baseName = `ddbrepl-${props.replicationName}-${props.targetName}`;

    this.role = new Role(this, 'Role', {
      roleName: roleNames.verify(props.replicationName, props.targetName),
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Sampled verification of replication ${props.replicationName} to target ${props.targetName}; trusted by the target account's role`,
    });
    // Read the source: DescribeTable (ItemCount, for the segment count), Scan (the sample), GetItem (comparison, re-check).
    props.sourceTable.grant(this.role, 'dynamodb:DescribeTable', 'dynamodb:Scan', 'dynamodb:GetItem');
    Role.fromRoleArn(this, 'TargetRole', props.targetRoleArn, { mutable: false }).grantAssumeRole(this.role);
    if (cfg.autoRepair) {
      // SendMessageBatch is authorized as sqs:SendMessage; nothing else on the queue.
      this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }));
      props.queueKey?.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');
    }

    const logGroup = new LogGroup(this, 'LogGroup', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      functionName: `${baseName}-verify`,
      description: `Samples ${props.sourceTable.tableName} and ${props.targetTableName} every ${cfg.everyMinutes} min and compares them (target ${props.targetName})`,
      entry: resolve(REPO_ROOT, 'handlers/sampled-verify.ts'),
      handler: 'handler',
      depsLockFilePath: resolve(REPO_ROOT, 'package-lock.json'),
      projectRoot: REPO_ROOT,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: MEMORY_MB,
      timeout: Duration.seconds(Math.min(900, cfg.settleSeconds + WORK_SECONDS)),
      // One run at a time: a slow run is not overtaken by the next one.
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup,
      environment: {
        ...targetAccessEnvironment(this, props),
        [ENV.targetFilter]: JSON.stringify(filter.data),
        ...(redaction?.data === undefined ? {} : { [ENV.targetRedaction]: JSON.stringify(redaction.data) }),
        [ENV.verifySampleSize]: String(cfg.sampleSize),
        [ENV.verifySettleSeconds]: String(cfg.settleSeconds),
        [ENV.verifyAutoRepair]: String(cfg.autoRepair),
        ...(cfg.autoRepair ? { [ENV.queueUrl]: props.queue.queueUrl } : {}),
      },
      bundling: { bundleAwsSDK: true, format: OutputFormat.CJS, mainFields: ['module', 'main'], minify: true, sourceMap: true, target: 'node22' },
    });
    this.function.node.addDependency(this.role);
    Validations.of(this.function).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'The replication pins nodejs22.x (the runtime the handlers are built and tested for), as for the apply and enrich functions.' },
      { id: 'Serverless-LambdaLatestVersion', reason: 'The replication pins nodejs22.x (the runtime the handlers are built and tested for), as for the apply and enrich functions.' },
      { id: 'Serverless-LambdaDLQ', reason: 'Invoked by the schedule with no payload: a failed run has nothing to keep; the next run samples afresh, and failures raise the verify-errors alarm.' },
      { id: 'Serverless-LambdaTracing', reason: 'A few invocations an hour; results are EMF metrics and a structured log line per run.' },
    );

    // The schedule's own role (rather than the stack-wide one CDK would share): it may invoke this function only.
    const schedulerRole = new Role(this, 'SchedulerRole', { assumedBy: new ServicePrincipal('scheduler.amazonaws.com') });
    this.schedule = new Schedule(this, 'Schedule', {
      scheduleName: `${baseName}-verify`,
      description: `Sampled verification of target ${props.targetName} every ${cfg.everyMinutes} min`,
      schedule: ScheduleExpression.rate(Duration.minutes(cfg.everyMinutes)),
      // The next run is as good as a retry.
      target: new LambdaInvoke(this.function, { retryAttempts: 0, role: schedulerRole }),
      enabled: cfg.enabled,
    });
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagString(Stack.of(this), this.function.functionArn)}:*]`,
      reason: 'LambdaInvoke grants lambda:InvokeFunction on this one function and its versions (ARN:*); the scheduler may invoke nothing else.',
    });

    const period = Duration.minutes(Math.max(5, cfg.everyMinutes));
    const action = props.alarmTopic === undefined ? undefined : new SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, suffix: string, alarmProps: Omit<ConstructorParameters<typeof Alarm>[2], 'alarmName'>): Alarm => {
      const a = new Alarm(this, alarmId, { alarmName: `${baseName}-${suffix}`, ...alarmProps });
      if (action !== undefined) {
        a.addAlarmAction(action);
        a.addOkAction(action);
      }
      return a;
    };
    this.mismatchAlarm = alarm('MismatchAlarm', 'verify-mismatches', {
      metric: this.metric(VERIFY_METRIC_NAMES.verifyMismatches, period),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // No run, no verdict: the error alarm covers runs that fail.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `Target ${props.targetName}: sampled verification found items that still differed after ${cfg.settleSeconds} s${cfg.autoRepair ? ' (RESYNCs were enqueued)' : ''}. Run: ddb-replicate verify --target ${props.targetName}${cfg.autoRepair ? '' : ' --repair'}`,
    });
    this.errorAlarm = alarm('ErrorAlarm', 'verify-errors', {
      metric: this.function.metricErrors({ statistic: 'Sum', period }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `Target ${props.targetName}: the sampled-verify function failed (permissions, AssumeRole, throttling); nothing was verified. Check its log group.`,
    });
  }

  /** A metric the function publishes (dimensions Replication and Target, as every replication metric). */
  public metric(metricName: (typeof VERIFY_METRIC_NAMES)[keyof typeof VERIFY_METRIC_NAMES], period: Duration = Duration.minutes(5)): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE_DEFAULT,
      metricName,
      dimensionsMap: metricDimensions(this.replicationName, this.targetName),
      statistic: 'Sum',
      period,
    });
  }

  /** The dashboard row: sampled and mismatching items per period. */
  public dashboardWidgets(): IWidget[] {
    const period = Duration.minutes(Math.max(5, this.config.everyMinutes));
    return [
      new TextWidget({ markdown: `## Target ${this.targetName}: sampled verification (every ${this.config.everyMinutes} min)`, width: 24, height: 1 }),
      new GraphWidget({
        title: `${this.targetName}: sampled verification`,
        width: 12,
        height: 6,
        left: [this.metric(VERIFY_METRIC_NAMES.verifySampled, period).with({ label: 'items sampled' })],
        right: [this.metric(VERIFY_METRIC_NAMES.verifyMismatches, period).with({ label: 'confirmed mismatches' })],
      }),
    ];
  }
}
