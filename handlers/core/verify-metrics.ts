import type { IEnvironment } from 'aws-embedded-metrics/lib/environment/IEnvironment';
import { LambdaEnvironment } from 'aws-embedded-metrics/lib/environment/LambdaEnvironment';
import { MetricsLogger } from 'aws-embedded-metrics/lib/logger/MetricsLogger';
import { Unit } from 'aws-embedded-metrics/lib/logger/Unit';
import { metricDimensions, type MetricsSink } from './metrics';

/** The sampled verification's metrics (handlers/core/sampled-verify.ts), beside the apply's (metrics.ts). */
export const VERIFY_METRIC_NAMES = {
  verifySampled: 'VerifySampled',
  verifyMismatches: 'VerifyMismatches',
} as const;

export interface VerifyMetrics {
  publish(result: { sampled: number; mismatches: number }): Promise<void>;
}

/**
 * EMF records dimensioned by Replication and Target, the dimensions of every custom metric of the
 * replication (the same shape as the apply's metrics), and nothing else.
 */
export function createVerifyMetrics(options: { namespace: string; replication: string; target: string; sink: MetricsSink }): VerifyMetrics {
  const lambda = new LambdaEnvironment();
  const environment: IEnvironment = {
    probe: () => Promise.resolve(true),
    getName: () => lambda.getName(),
    getType: () => lambda.getType(),
    getLogGroupName: () => lambda.getLogGroupName(),
    configureContext: (context) => lambda.configureContext(context),
    getSink: () => options.sink,
  };
  return {
    async publish(result) {
      const logger = new MetricsLogger(() => Promise.resolve(environment));
      logger.setNamespace(options.namespace);
      logger.setDimensions(metricDimensions(options.replication, options.target));
      logger.putMetric(VERIFY_METRIC_NAMES.verifySampled, result.sampled, Unit.Count);
      logger.putMetric(VERIFY_METRIC_NAMES.verifyMismatches, result.mismatches, Unit.Count);
      await logger.flush();
    },
  };
}
