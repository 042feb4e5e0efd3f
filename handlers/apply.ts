import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { applyBatch, applyConfigFromEnv, type ApplyDeps } from './core/apply-batch';
import { targetCredentials } from './core/credentials';
import { createLogger } from './core/logger';
import { createReplicationMetrics, metricsNamespaceFromEnv, metricsSinkFromEnv } from './core/metrics';

// Module scope: config, clients and the credential provider live as long as the execution
// environment, so the target role is assumed about once an hour, not once per invocation.
const config = applyConfigFromEnv();
const logger = createLogger('ddb-replication-apply');
const deps: ApplyDeps = {
  config,
  sourceClient: new DynamoDBClient({ region: config.sourceRegion }),
  targetClient: new DynamoDBClient({
    region: config.targetRegion,
    credentials: targetCredentials({
      roleArn: config.targetRoleArn,
      externalId: config.targetExternalId,
      region: config.targetRegion,
      sessionName: `ddbrepl-apply-${config.targetName}`,
    }),
  }),
  metrics: createReplicationMetrics({ namespace: metricsNamespaceFromEnv(), replication: config.replicationName, target: config.targetName, sink: metricsSinkFromEnv() }),
  logger,
};

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return applyBatch(event.Records, context.getRemainingTimeInMillis(), deps);
};
