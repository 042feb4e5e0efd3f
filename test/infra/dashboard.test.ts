import { METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { METRIC_NAMES } from '../../handlers/core/metrics';
import { PIPES_NAMESPACE } from '../../infra/constructs/target-alarms';
import { synthBoth, targetResourceId, type Synths, type TargetName } from './observability-support';

interface Widget {
  type: 'text' | 'metric';
  width: number;
  height: number;
  x: number;
  y: number;
  properties: { title?: string; markdown?: string; metrics?: unknown[][] };
}

/**
 * DashboardBody is an Fn::Join of JSON text and tokens (Ref / Fn::GetAtt). Each token becomes a
 * readable placeholder — `<Ref:Id>` or `<GetAtt:Id.Attribute>` — inside its JSON string, so the body
 * parses and a test can name the resource a widget points at.
 */
function resolveDashboardBody(body: unknown): { widgets: Widget[] } {
  const join = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (token.Ref !== undefined) return `<Ref:${token.Ref}>`;
      if (token['Fn::GetAtt'] !== undefined) return `<GetAtt:${token['Fn::GetAtt'].join('.')}>`;
      throw new Error(`unexpected token in DashboardBody: ${JSON.stringify(part)}`);
    })
    .join(join[0]);
  return JSON.parse(text) as { widgets: Widget[] };
}

let synths: Synths;
let widgets: Widget[];
beforeAll(() => {
  synths = synthBoth();
  const dashboards = Object.values(synths.plain.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  expect(dashboards[0].Properties.DashboardName).toBe('ddbrepl-orders');
  widgets = resolveDashboardBody(dashboards[0].Properties.DashboardBody).widgets;
});

/** The metric lines of a graph, without their rendering options (the last element when it is an object). */
const metricLines = (widget: Widget) =>
  (widget.properties.metrics ?? []).map((line) => (typeof line[line.length - 1] === 'object' ? { metric: line.slice(0, -1), options: line[line.length - 1] as Record<string, unknown> } : { metric: line, options: {} }));

function rowOf(target: TargetName): Widget[] {
  const header = widgets.findIndex((w) => w.properties.markdown === `## Target ${target}`);
  expect(header).toBeGreaterThan(0);
  return widgets.slice(header + 1, header + 7);
}

function graph(target: TargetName, title: string): Widget {
  const found = rowOf(target).find((w) => w.properties.title === `${target}: ${title}`);
  if (found === undefined) throw new Error(`no graph "${target}: ${title}"`);
  return found;
}

describe('ReplicationDashboard', () => {
  test('a title, then per target a header and one full-width row of six graphs', () => {
    expect(widgets[0].properties.markdown).toMatch(/^# DynamoDB replication orders/);
    for (const target of ['dr', 'eu-analytics'] as const) {
      const row = rowOf(target);
      expect(row.map((w) => w.type)).toEqual(Array(6).fill('metric'));
      expect(row.reduce((sum, w) => sum + w.width, 0)).toBe(24);
      expect(new Set(row.map((w) => w.y)).size).toBe(1);
      expect(row.map((w) => w.properties.title)).toEqual(
        ['changes /s', 'failures and resyncs', 'replication lag (ms)', 'queue', 'dead-letter queues', 'pipe and functions'].map((t) => `${target}: ${t}`),
      );
    }
  });

  test.each(['dr', 'eu-analytics'] as const)('%s: handler metrics in the handler namespace with the Replication and Target dimensions; rates per second', (target) => {
    const custom = (name: string) => [METRICS_NAMESPACE_DEFAULT, name, 'Replication', 'orders', 'Target', target];
    const rates = metricLines(graph(target, 'changes /s'));
    expect(rates).toEqual([
      { metric: [], options: { label: 'applied /s', expression: 'applied / PERIOD(applied)', period: 60 } },
      { metric: custom(METRIC_NAMES.changesApplied), options: { id: 'applied', visible: false, period: 60, stat: 'Sum' } },
      { metric: [], options: { label: 'coalesced /s', expression: 'coalesced / PERIOD(coalesced)', period: 60 } },
      { metric: custom(METRIC_NAMES.changesCoalesced), options: { id: 'coalesced', visible: false, period: 60, stat: 'Sum' } },
    ]);
    expect(metricLines(graph(target, 'failures and resyncs'))).toEqual([
      { metric: custom(METRIC_NAMES.applyFailures), options: expect.objectContaining({ stat: 'Sum', period: 60 }) },
      { metric: custom(METRIC_NAMES.resyncsApplied), options: expect.objectContaining({ stat: 'Sum', period: 60 }) },
    ]);
    expect(metricLines(graph(target, 'replication lag (ms)'))).toEqual([
      { metric: custom(METRIC_NAMES.replicationLagMs), options: expect.objectContaining({ stat: 'p50' }) },
      { metric: custom(METRIC_NAMES.replicationLagMs), options: expect.objectContaining({ stat: 'p99' }) },
    ]);
  });

  test.each(['dr', 'eu-analytics'] as const)('%s: queue, DLQs, pipe and functions point at this target\'s resources', (target) => {
    const id = (type: string, construct: string) => targetResourceId(synths.plain, target, type, construct);
    const queueName = (construct: string) => `<GetAtt:${id('AWS::SQS::Queue', construct)}.QueueName>`;
    const sqs = (name: string, construct: string) => ['AWS/SQS', name, 'QueueName', queueName(construct)];
    const queue = metricLines(graph(target, 'queue'));
    expect(queue.map((l) => l.metric)).toEqual([
      sqs('ApproximateNumberOfMessagesVisible', 'Queue'),
      sqs('ApproximateNumberOfMessagesNotVisible', 'Queue'),
      sqs('ApproximateAgeOfOldestMessage', 'Queue'),
    ]);
    expect(queue[2].options).toMatchObject({ yAxis: 'right', stat: 'Maximum' });
    expect(metricLines(graph(target, 'dead-letter queues')).map((l) => l.metric)).toEqual([
      sqs('ApproximateNumberOfMessagesVisible', 'DeadLetterQueue'),
      sqs('ApproximateNumberOfMessagesVisible', 'PipeDeadLetterQueue'),
    ]);
    const pipe = `<Ref:${id('AWS::Pipes::Pipe', 'Pipe')}>`;
    const fn = (construct: string) => `<Ref:${id('AWS::Lambda::Function', construct)}>`;
    expect(metricLines(graph(target, 'pipe and functions')).map((l) => l.metric)).toEqual([
      [PIPES_NAMESPACE, 'ExecutionFailed', 'PipeName', pipe],
      [PIPES_NAMESPACE, 'EnrichmentStageFailed', 'PipeName', pipe],
      [PIPES_NAMESPACE, 'TargetStageFailed', 'PipeName', pipe],
      ['AWS/Lambda', 'Errors', 'FunctionName', fn('EnrichFunction')],
      ['AWS/Lambda', 'Errors', 'FunctionName', fn('ApplyFunction')],
      ['AWS/Lambda', 'Throttles', 'FunctionName', fn('ApplyFunction')],
    ]);
  });
});
