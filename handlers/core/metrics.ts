// Deep imports on purpose: the package root starts environment discovery at import time, which
// outside Lambda probes the EC2 metadata endpoint over HTTP. We pick the environment ourselves.
import { LambdaEnvironment } from 'aws-embedded-metrics/lib/environment/LambdaEnvironment';
import type { IEnvironment } from 'aws-embedded-metrics/lib/environment/IEnvironment';
import type { MetricsContext } from 'aws-embedded-metrics/lib/logger/MetricsContext';
import { MetricsLogger } from 'aws-embedded-metrics/lib/logger/MetricsLogger';
import { Unit } from 'aws-embedded-metrics/lib/logger/Unit';
import { LogSerializer } from 'aws-embedded-metrics/lib/serializers/LogSerializer';
import { ConsoleSink } from 'aws-embedded-metrics/lib/sinks/ConsoleSink';
import type { ISink } from 'aws-embedded-metrics/lib/sinks/Sink';
import { ENV, METRICS_NAMESPACE_DEFAULT, optionalEnv } from './env';
import { ConfigurationError } from './errors';

/** Where EMF records go (aws-embedded-metrics' sink interface). */
export type MetricsSink = ISink;

export const METRIC_NAMES = {
  changesApplied: 'ChangesApplied',
  changesCoalesced: 'ChangesCoalesced',
  applyFailures: 'ApplyFailures',
  resyncsApplied: 'ResyncsApplied',
  replicationLagMs: 'ReplicationLagMs',
  /** 1 when a batch's writes succeeded but recording its last applied change did not (handlers/core/replication-state.ts). */
  applyStateWriteFailed: 'ApplyStateWriteFailed',
} as const;

/**
 * The dimensions of every custom metric, in this order. The replication name is one of them because
 * two replications in one account may each have a target of the same name; without it their lag
 * and alarms would mix. Alarms, dashboard and `ddb-replicate status` build theirs from here.
 */
export function metricDimensions(replication: string, target: string): { Replication: string; Target: string } {
  return { Replication: replication, Target: target };
}

/** What one apply batch reports. */
export interface BatchMetrics {
  changesApplied: number;
  changesCoalesced: number;
  applyFailures: number;
  resyncsApplied: number;
  /** now − envelope `at`, one value per applied change. */
  replicationLagMs: number[];
  /** 0 or 1: the replication state write failed (the batch itself did not). Only with a state table. */
  stateWriteFailures?: number;
}

export interface ReplicationMetrics {
  publish(metrics: BatchMetrics): Promise<void>;
}

/** Keeps EMF records in memory (tests, and local mode should it want to show them). */
export class MemoryMetricsSink implements MetricsSink {
  readonly name = 'MemoryMetricsSink';
  readonly records: Record<string, unknown>[] = [];
  private readonly serializer = new LogSerializer();
  accept(context: MetricsContext): Promise<void> {
    for (const line of this.serializer.serialize(context)) this.records.push(JSON.parse(line) as Record<string, unknown>);
    return Promise.resolve();
  }
}

const discardSink: MetricsSink = { name: 'DiscardSink', accept: () => Promise.resolve() };

/** METRICS_SINK: 'stdout' (default, what Lambda's log ingestion turns into metrics) or 'off'. */
export function metricsSinkFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsSink {
  const value = optionalEnv(ENV.metricsSink, 'stdout', env);
  if (value === 'stdout') return new ConsoleSink();
  if (value === 'off') return discardSink;
  throw new ConfigurationError(`environment variable ${ENV.metricsSink} must be "stdout" or "off", got "${value}"`);
}

export function metricsNamespaceFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return optionalEnv(ENV.metricsNamespace, METRICS_NAMESPACE_DEFAULT, env);
}

/**
 * A factory of EMF loggers with the replication's namespace and `Replication` + `Target` dimensions
 * only, writing to `sink`; Lambda metadata (function version, trace id) become properties. Every
 * custom metric of the replication (apply, sampled verify) is published through one of these.
 */
export function dimensionedMetricsLogger(options: { namespace: string; replication: string; target: string; sink: MetricsSink }): () => MetricsLogger {
  const lambda = new LambdaEnvironment();
  const environment: IEnvironment = {
    probe: () => Promise.resolve(true),
    getName: () => lambda.getName(),
    getType: () => lambda.getType(),
    getLogGroupName: () => lambda.getLogGroupName(),
    configureContext: (context) => lambda.configureContext(context),
    getSink: () => options.sink,
  };
  return () => {
    const logger = new MetricsLogger(() => Promise.resolve(environment));
    logger.setNamespace(options.namespace);
    logger.setDimensions(metricDimensions(options.replication, options.target));
    return logger;
  };
}

/**
 * EMF metrics dimensioned by `Replication` and `Target` only (`metricDimensions`; the library's
 * default ServiceName/ServiceType/LogGroup dimensions are dropped: they would multiply the metric
 * count for no use).
 */
export function createReplicationMetrics(options: { namespace: string; replication: string; target: string; sink: MetricsSink }): ReplicationMetrics {
  const newLogger = dimensionedMetricsLogger(options);
  return {
    async publish(metrics) {
      const logger = newLogger();
      logger.putMetric(METRIC_NAMES.changesApplied, metrics.changesApplied, Unit.Count);
      logger.putMetric(METRIC_NAMES.changesCoalesced, metrics.changesCoalesced, Unit.Count);
      logger.putMetric(METRIC_NAMES.applyFailures, metrics.applyFailures, Unit.Count);
      logger.putMetric(METRIC_NAMES.resyncsApplied, metrics.resyncsApplied, Unit.Count);
      // One value per change; EMF keeps up to 100 values per key and the logger flushes beyond that.
      if (metrics.stateWriteFailures !== undefined) logger.putMetric(METRIC_NAMES.applyStateWriteFailed, metrics.stateWriteFailures, Unit.Count);
      for (const lag of metrics.replicationLagMs) logger.putMetric(METRIC_NAMES.replicationLagMs, lag, Unit.Milliseconds);
      await logger.flush();
    },
  };
}
