import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { targetCredentials } from './core/credentials';
import { createLogger, errorRef } from './core/logger';
import { recordSampledVerify } from './core/replication-state';
import { metricsNamespaceFromEnv, metricsSinkFromEnv } from './core/metrics';
import { sampledVerify, sampledVerifyConfigFromEnv, type SampledVerifyResult } from './core/sampled-verify';
import { createVerifyMetrics } from './core/verify-metrics';

export type SampledVerifyHandler = (event: unknown, context?: Context) => Promise<Omit<SampledVerifyResult, 'keys'>>;

/**
 * The handler with its configuration, clients and credential provider, built once per execution
 * environment (below, at module scope). Local mode builds one per session with that session's
 * environment (local/sampled-verifier.ts).
 */
export function buildHandler(env: NodeJS.ProcessEnv = process.env): SampledVerifyHandler {
  const config = sampledVerifyConfigFromEnv(env);
  const logger = createLogger('ddb-replication-sampled-verify', env);
  const source = new DynamoDBClient({ region: config.sourceRegion });
  const target = new DynamoDBClient({
    region: config.targetRegion,
    credentials: targetCredentials({
      roleArn: config.targetRoleArn,
      externalId: config.targetExternalId,
      region: config.targetRegion,
      sessionName: `ddbrepl-verify-${config.targetName}`,
    }),
  });
  // The endpoint is the configured one (AWS_ENDPOINT_URL_SQS locally), not the queue URL's host, as in enrich.ts.
  const sqs = config.autoRepair ? new SQSClient({ region: config.sourceRegion, useQueueUrlAsEndpoint: false }) : undefined;
  const metrics = createVerifyMetrics({ namespace: metricsNamespaceFromEnv(env), replication: config.replicationName, target: config.targetName, sink: metricsSinkFromEnv(env) });
  return async (_event, context) => {
    if (context !== undefined) logger.addContext(context);
    const { keys, ...result } = await sampledVerify({ config, source, target, ...(sqs === undefined ? {} : { sqs }), sleep: (ms) => sleep(ms) });
    await metrics.publish(result);
    if (config.stateTableName !== undefined) {
      // The failover reads the last run from here with the target account's credentials (docs/disaster-recovery.md).
      try {
        await recordSampledVerify(target, config.stateTableName, { at: new Date().toISOString(), sampled: result.sampled, mismatches: result.mismatches, repaired: result.repaired });
      } catch (error) {
        // The run itself succeeded and its metrics are out; the next run records again.
        logger.warn('sampled verification result not recorded in the state table', errorRef(error));
      }
    }
    // Counts only: keys and values stay out of the logs (keys can be personal data).
    if (result.mismatches > 0) logger.warn('sampled verification found mismatches', { ...result, kinds: keys.map((k) => k.kind) });
    else logger.info('sampled verification', result);
    return result;
  };
}

/** Invoked by EventBridge Scheduler every `continuousVerify.everyMinutes` (the event carries nothing we need). */
export const handler = buildHandler();
