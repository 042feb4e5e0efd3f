import { Duration } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, MathExpression, TextWidget, type GraphWidgetProps, type IMetric, type IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC_NAMES } from '../../handlers/core/metrics';
import { PIPE_METRIC_NAMES, pipeMetric, replicationMetric } from './target-alarms';
import type { ReplicationTarget } from './replication-target';

/** Widget grid: CloudWatch dashboards are 24 units wide; six graphs of 4 fill one row per target. */
const GRAPH_WIDTH = 4;
const GRAPH_HEIGHT = 6;
const ONE_MINUTE = Duration.minutes(1);

export interface ReplicationDashboardProps {
  /** @default CloudFormation generates one */
  readonly dashboardName?: string;
  /** Shown in the dashboard's title line; the custom metrics' Replication dimension. */
  readonly replicationName: string;
}

/**
 * One CloudWatch dashboard per replication: a title, then one row per target (`addTarget`) with
 * throughput, failures, lag, queue, DLQs, and pipe/function health — the same metrics the alarms use.
 */
export class ReplicationDashboard extends Construct {
  public readonly dashboard: Dashboard;
  private readonly replicationName: string;

  constructor(scope: Construct, id: string, props: ReplicationDashboardProps) {
    super(scope, id);
    this.replicationName = props.replicationName;
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    this.dashboard.addWidgets(new TextWidget({
      markdown: `# DynamoDB replication ${props.replicationName}\nOne row per target. What each alarm means and what to run: docs/operating.md.`,
      width: 24,
      height: 2,
    }));
  }

  /** Adds the row of one target (a title line, then six graphs). */
  public addTarget(target: ReplicationTarget): void {
    const name = target.targetName;
    const applied = replicationMetric(METRIC_NAMES.changesApplied, this.replicationName, name, { statistic: 'Sum', period: ONE_MINUTE });
    const coalesced = replicationMetric(METRIC_NAMES.changesCoalesced, this.replicationName, name, { statistic: 'Sum', period: ONE_MINUTE });
    // Expression ids must differ between the expressions of one graph.
    const perSecond = (id: string, metric: IMetric, label: string) =>
      new MathExpression({ expression: `${id} / PERIOD(${id})`, usingMetrics: { [id]: metric }, label, period: ONE_MINUTE });
    const graph = (title: string, axes: Pick<GraphWidgetProps, 'left' | 'right'>): IWidget =>
      new GraphWidget({ title: `${name}: ${title}`, width: GRAPH_WIDTH, height: GRAPH_HEIGHT, ...axes });

    this.dashboard.addWidgets(new TextWidget({ markdown: `## Target ${name}`, width: 24, height: 1 }));
    this.dashboard.addWidgets(
      graph('changes /s', { left: [perSecond('applied', applied, 'applied /s'), perSecond('coalesced', coalesced, 'coalesced /s')] }),
      graph('failures and resyncs', {
        left: [
          replicationMetric(METRIC_NAMES.applyFailures, this.replicationName, name, { statistic: 'Sum', period: ONE_MINUTE, label: 'apply failures' }),
          replicationMetric(METRIC_NAMES.resyncsApplied, this.replicationName, name, { statistic: 'Sum', period: ONE_MINUTE, label: 'resyncs applied' }),
        ],
      }),
      graph('replication lag (ms)', {
        left: [
          replicationMetric(METRIC_NAMES.replicationLagMs, this.replicationName, name, { statistic: 'p50', period: ONE_MINUTE, label: 'lag p50' }),
          replicationMetric(METRIC_NAMES.replicationLagMs, this.replicationName, name, { statistic: 'p99', period: ONE_MINUTE, label: 'lag p99' }),
        ],
      }),
      graph('queue', {
        left: [
          target.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ONE_MINUTE, label: 'visible' }),
          target.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: ONE_MINUTE, label: 'in flight' }),
        ],
        right: [target.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: ONE_MINUTE, label: 'oldest age (s)' })],
      }),
      graph('dead-letter queues', {
        left: [
          target.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ONE_MINUTE, label: 'DLQ' }),
          target.pipeDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ONE_MINUTE, label: 'pipe DLQ' }),
        ],
      }),
      graph('pipe and functions', {
        left: [
          pipeMetric(PIPE_METRIC_NAMES.executionFailed, target.pipe.pipeName, { period: ONE_MINUTE, label: 'pipe executions failed' }),
          pipeMetric(PIPE_METRIC_NAMES.enrichmentStageFailed, target.pipe.pipeName, { period: ONE_MINUTE, label: 'pipe enrichment failed' }),
          pipeMetric(PIPE_METRIC_NAMES.targetStageFailed, target.pipe.pipeName, { period: ONE_MINUTE, label: 'pipe target failed' }),
          target.enrichFunction.metricErrors({ statistic: 'Sum', period: ONE_MINUTE, label: 'enrich errors' }),
          target.applyFunction.metricErrors({ statistic: 'Sum', period: ONE_MINUTE, label: 'apply errors' }),
          target.applyFunction.metricThrottles({ statistic: 'Sum', period: ONE_MINUTE, label: 'apply throttles' }),
        ],
      }),
    );
  }
}
