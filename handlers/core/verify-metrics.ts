import { Unit } from 'aws-embedded-metrics/lib/logger/Unit';
import { dimensionedMetricsLogger, type MetricsSink } from './metrics';

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
  const newLogger = dimensionedMetricsLogger(options);
  return {
    async publish(result) {
      const logger = newLogger();
      logger.putMetric(VERIFY_METRIC_NAMES.verifySampled, result.sampled, Unit.Count);
      logger.putMetric(VERIFY_METRIC_NAMES.verifyMismatches, result.mismatches, Unit.Count);
      await logger.flush();
    },
  };
}
