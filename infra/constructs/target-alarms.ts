import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IAlarm, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { METRIC_NAMES, metricDimensions } from '../../handlers/core/metrics';
import type { TargetAlarms as TargetAlarmsConfig } from '../../schemas/replication-config';

/**
 * EventBridge Pipes metrics: namespace `AWS/EventBridge/Pipes`, dimension `PipeName`, published every
 * minute and only while the pipe executes ("Logging and monitoring Amazon EventBridge Pipes",
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-monitoring.html).
 * ExecutionThrottled is left out: that page lists it under "AwsAccountId, PipeName" without saying
 * whether that is one dimension set or two, and an alarm on a metric that never exists stays silent.
 */
export const PIPES_NAMESPACE = 'AWS/EventBridge/Pipes' as const;
export const PIPE_METRIC_NAMES = {
  executionFailed: 'ExecutionFailed',
  enrichmentStageFailed: 'EnrichmentStageFailed',
  targetStageFailed: 'TargetStageFailed',
  invocations: 'Invocations',
} as const;

type ReplicationMetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];
type PipeMetricName = (typeof PIPE_METRIC_NAMES)[keyof typeof PIPE_METRIC_NAMES];

/**
 * A metric the apply handler publishes (EMF, dimensions `Replication` and `Target` —
 * `metricDimensions` in handlers/core/metrics.ts). The namespace is the handler's default, so the
 * functions need no METRICS_NAMESPACE variable and the two cannot drift apart.
 */
export function replicationMetric(metricName: ReplicationMetricName, replicationName: string, targetName: string, options: { statistic: string; period?: Duration; label?: string }): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE_DEFAULT,
    metricName,
    dimensionsMap: metricDimensions(replicationName, targetName),
    statistic: options.statistic,
    period: options.period ?? Duration.minutes(1),
    label: options.label,
  });
}

export function pipeMetric(metricName: PipeMetricName, pipeName: string, options: { period?: Duration; label?: string } = {}): Metric {
  return new Metric({
    namespace: PIPES_NAMESPACE,
    metricName,
    dimensionsMap: { PipeName: pipeName },
    statistic: 'Sum',
    period: options.period ?? Duration.minutes(5),
    label: options.label,
  });
}

/** Alarm name suffixes (`ddbrepl-<replication>-<target>-<suffix>`): stable, so `ddb-replicate status` can find them. */
export const ALARM_SUFFIXES = {
  deadLetterQueue: 'dlq-not-empty',
  queueAge: 'queue-stalled',
  lagP99: 'lag-p99',
  pipeExecutionFailed: 'pipe-failed',
  pipeEnrichmentFailed: 'pipe-enrichment-failed',
  pipeDeadLetterQueue: 'pipe-dlq-not-empty',
  applyErrors: 'apply-errors',
  applyThrottles: 'apply-throttles',
  enrichErrors: 'enrich-errors',
} as const;
export type AlarmKind = keyof typeof ALARM_SUFFIXES;

export interface TargetAlarmsProps {
  /** `ddbrepl-<replication>-<target>`: the alarms are named `<baseName>-<suffix>`. */
  readonly baseName: string;
  /** The custom metrics' Replication dimension. */
  readonly replicationName: string;
  readonly targetName: string;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  readonly pipeDeadLetterQueue: IQueue;
  readonly pipeName: string;
  readonly applyFunction: IFunction;
  readonly enrichFunction: IFunction;
  /** Thresholds (`targetAlarmsSchema` in schemas/replication-config.ts, defaults there). */
  readonly thresholds: Pick<TargetAlarmsConfig, 'oldestMessageAgeSeconds' | 'lagP99Ms'>;
  /** Notified on ALARM and on OK. @default no actions (the alarms still show in the console and in `status`) */
  readonly topic?: ITopic;
}

interface AlarmSpec {
  metric: IMetric;
  threshold: number;
  comparisonOperator: ComparisonOperator;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  treatMissingData: TreatMissingData;
  description: string;
}

/**
 * The alarms of one target. docs/operating.md says what each means and what to run when it fires.
 * Construct ids are the `AlarmKind`s, capitalised, and part of the contract.
 */
export class TargetAlarms extends Construct {
  public readonly alarms: Readonly<Record<AlarmKind, IAlarm>>;

  constructor(scope: Construct, id: string, props: TargetAlarmsProps) {
    super(scope, id);
    const fiveMinutes = Duration.minutes(5);
    const oneMinute = Duration.minutes(1);
    // Errors/throttles/failures are counted only when something runs: no data means nothing failed.
    const anyInFiveMinutes = (metric: IMetric, description: string): AlarmSpec => ({
      metric,
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description,
    });
    // SQS stops publishing for an empty queue that has been idle for hours, while a queue that holds
    // messages keeps publishing: missing data means empty.
    const queueNotEmpty = (queue: IQueue, description: string): AlarmSpec => ({
      metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description,
    });

    const specs: Record<AlarmKind, AlarmSpec> = {
      deadLetterQueue: queueNotEmpty(
        props.deadLetterQueue,
        `Target ${props.targetName}: changes failed maxReceiveCount times and wait in the DLQ; the items are not replicated until replayed. Run: ddb-replicate replay --target ${props.targetName}`,
      ),
      queueAge: {
        metric: props.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: oneMinute }),
        threshold: props.thresholds.oldestMessageAgeSeconds,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        // The age only grows while nothing is consumed, so one minute over the threshold is decisive.
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `Target ${props.targetName}: the oldest queued change is older than ${props.thresholds.oldestMessageAgeSeconds} s — apply paused (expected during bootstrap), stuck or too slow. Run: ddb-replicate status --target ${props.targetName}`,
      },
      lagP99: {
        metric: replicationMetric(METRIC_NAMES.replicationLagMs, props.replicationName, props.targetName, { statistic: 'p99', period: oneMinute }),
        threshold: props.thresholds.lagP99Ms,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        // Lag is measured per applied change: no changes, no lag. A consumer that applies nothing at
        // all is the queue-stalled alarm's job.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `Target ${props.targetName}: p99 replication lag above ${props.thresholds.lagP99Ms} ms in 3 of 5 minutes. Run: ddb-replicate status --target ${props.targetName}`,
      },
      pipeExecutionFailed: anyInFiveMinutes(
        pipeMetric(PIPE_METRIC_NAMES.executionFailed, props.pipeName, { period: fiveMinutes }),
        `Target ${props.targetName}: pipe executions failed (enrichment or delivery to the queue); the pipe retries, then sends batch metadata to the pipe DLQ. Check the pipe log group and run: ddb-replicate status --target ${props.targetName}`,
      ),
      pipeEnrichmentFailed: anyInFiveMinutes(
        pipeMetric(PIPE_METRIC_NAMES.enrichmentStageFailed, props.pipeName, { period: fiveMinutes }),
        `Target ${props.targetName}: the pipe could not enrich stream records (function error, throttle or permission). Check the enrich function's log group.`,
      ),
      pipeDeadLetterQueue: queueNotEmpty(
        props.pipeDeadLetterQueue,
        `Target ${props.targetName}: stream batches the pipe gave up on; those changes never reached the queue. Run: ddb-replicate verify --target ${props.targetName} --repair`,
      ),
      applyErrors: anyInFiveMinutes(
        props.applyFunction.metricErrors({ statistic: 'Sum', period: fiveMinutes }),
        `Target ${props.targetName}: the apply function failed whole invocations (configuration, credentials, AssumeRole); messages are retried and end in the DLQ. Check its log group.`,
      ),
      applyThrottles: anyInFiveMinutes(
        props.applyFunction.metricThrottles({ statistic: 'Sum', period: fiveMinutes }),
        `Target ${props.targetName}: the apply function was throttled (account or reserved concurrency); lag grows. Raise the concurrency limit or lower options.maximumConcurrency.`,
      ),
      enrichErrors: anyInFiveMinutes(
        props.enrichFunction.metricErrors({ statistic: 'Sum', period: fiveMinutes }),
        `Target ${props.targetName}: the enrich function threw (a record it cannot encode, or a bug); the pipe retries and bisects. Check its log group.`,
      ),
    };

    const action = props.topic === undefined ? undefined : new SnsAction(props.topic);
    const alarms = {} as Record<AlarmKind, Alarm>;
    for (const [kind, spec] of Object.entries(specs) as [AlarmKind, AlarmSpec][]) {
      const { description, ...alarmProps } = spec;
      const alarm = new Alarm(this, kind.charAt(0).toUpperCase() + kind.slice(1), { alarmName: `${props.baseName}-${ALARM_SUFFIXES[kind]}`, alarmDescription: description, ...alarmProps });
      if (action !== undefined) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      alarms[kind] = alarm;
    }
    this.alarms = alarms;
  }
}
