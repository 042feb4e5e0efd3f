import { ConsoleSink } from 'aws-embedded-metrics/lib/sinks/ConsoleSink';
import { createLogger, changeRef, errorRef } from '../../handlers/core/logger';
import { ConfigurationError, InvalidEnvelopeError } from '../../handlers/core/errors';
import { createReplicationMetrics, MemoryMetricsSink, metricsNamespaceFromEnv, metricsSinkFromEnv } from '../../handlers/core/metrics';

describe('metrics', () => {
  it('chooses the sink from METRICS_SINK: stdout by default, off for local mode', async () => {
    expect(metricsSinkFromEnv({})).toBeInstanceOf(ConsoleSink);
    expect(metricsSinkFromEnv({ METRICS_SINK: 'stdout' })).toBeInstanceOf(ConsoleSink);
    const off = metricsSinkFromEnv({ METRICS_SINK: 'off' });
    expect(off).not.toBeInstanceOf(ConsoleSink);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await createReplicationMetrics({ namespace: 'N', replication: 'r', target: 't', sink: off }).publish({ changesApplied: 1, changesCoalesced: 0, applyFailures: 0, resyncsApplied: 0, replicationLagMs: [] });
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
    expect(() => metricsSinkFromEnv({ METRICS_SINK: 'udp' })).toThrow(ConfigurationError);
  });

  it('takes the namespace from METRICS_NAMESPACE, with a default', () => {
    expect(metricsNamespaceFromEnv({})).toBe('DynamoDBCrossAccountReplication');
    expect(metricsNamespaceFromEnv({ METRICS_NAMESPACE: 'Mine' })).toBe('Mine');
  });

  // Two replications with a target of the same name in one account must not share metrics (issue 12 §1f).
  it('writes one EMF record per batch with every metric and the Replication and Target dimensions only', async () => {
    const sink = new MemoryMetricsSink();
    await createReplicationMetrics({ namespace: 'Repl', replication: 'orders', target: 'dr', sink }).publish({ changesApplied: 3, changesCoalesced: 1, applyFailures: 2, resyncsApplied: 1, replicationLagMs: [5, 7] });
    expect(sink.records).toHaveLength(1);
    const record = sink.records[0] as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    const [directive] = record._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe('Repl');
    expect(directive?.Dimensions).toEqual([['Replication', 'Target']]);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual(['ApplyFailures', 'ChangesApplied', 'ChangesCoalesced', 'ReplicationLagMs', 'ResyncsApplied']);
    expect(record).toMatchObject({ Replication: 'orders', Target: 'dr', ChangesApplied: 3, ChangesCoalesced: 1, ApplyFailures: 2, ResyncsApplied: 1, ReplicationLagMs: [5, 7] });
  });
});

describe('logger helpers', () => {
  it('identifies changes by groupId, eventId and messageId only', () => {
    expect(changeRef({ groupId: 'g', eventId: 'e', keys: { pk: { S: 'secret' } } } as { groupId: string; eventId: string }, 'm')).toEqual({ messageId: 'm', groupId: 'g', eventId: 'e' });
    expect(errorRef(new InvalidEnvelopeError('bad'))).toEqual({ errorName: 'InvalidEnvelopeError', errorMessage: 'bad' });
    expect(errorRef(new InvalidEnvelopeError('bad', { cause: new SyntaxError('secret body') }))).toEqual({ errorName: 'InvalidEnvelopeError', errorMessage: 'bad', causeName: 'SyntaxError' });
    expect(errorRef('x')).toEqual({ errorName: 'string', errorMessage: 'non-Error thrown' });
  });

  it('takes the level from LOG_LEVEL (default INFO) and refuses unknown levels', () => {
    expect(createLogger('svc', {}).getLevelName()).toBe('INFO');
    expect(createLogger('svc', { LOG_LEVEL: 'debug' }).getLevelName()).toBe('DEBUG');
    expect(createLogger('svc', { LOG_LEVEL: 'SILENT' }).getLevelName()).toBe('SILENT');
    expect(() => createLogger('svc', { LOG_LEVEL: 'LOUD' })).toThrow('environment variable LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR, SILENT, got "LOUD"');
  });
});
