import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { applyBatch, applyConfigFromEnv, type ApplyDeps } from './core/apply-batch';
import { targetCredentials } from './core/credentials';
import { ENV, optionalEnv } from './core/env';
import { applyUnlessFrozen, cachedFreezeReader, readFreezeState } from './core/freeze';
import { createLogger } from './core/logger';
import { keepProtoAttributes } from './core/proto-attributes';
import { createReplicationMetrics, metricsNamespaceFromEnv, metricsSinkFromEnv } from './core/metrics';

// Module scope: config, clients and the credential provider live as long as the execution
// environment, so the target role is assumed about once an hour, not once per invocation.
const config = applyConfigFromEnv();
const logger = createLogger('ddb-replication-apply');
const deps: ApplyDeps = {
  config,
  sourceClient: keepProtoAttributes(new DynamoDBClient({ region: config.sourceRegion })),
  targetClient: new DynamoDBClient({
    region: config.targetRegion,
    credentials: targetCredentials({
      roleArn: config.targetRoleArn,
      externalId: config.targetExternalId,
      region: config.targetRegion,
      sessionName: `ddbrepl-apply-${config.targetName}`,
    }),
  }),
  // Its own queue: failed messages get a visibility backoff (core/visibility-backoff.ts).
  // QueueUrl comes from GetQueueUrl; requests go to the configured endpoint (an emulator's URLs name another host).
  sqsClient: new SQSClient({ useQueueUrlAsEndpoint: false }),
  metrics: createReplicationMetrics({ namespace: metricsNamespaceFromEnv(), replication: config.replicationName, target: config.targetName, sink: metricsSinkFromEnv() }),
  logger,
};

// The freeze mark (cutover/failover): read from the control table, cached for a few seconds.
const controlTable = optionalEnv(ENV.controlTableName, '');
const freeze = controlTable === '' ? undefined : cachedFreezeReader(() => readFreezeState(deps.sourceClient, controlTable, config.targetName));

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return applyUnlessFrozen(event.Records, freeze, logger, () => applyBatch(event.Records, context.getRemainingTimeInMillis(), deps));
};
