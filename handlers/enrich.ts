import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { ChangeEnvelopeV1 } from '../schemas/change-envelope.v1';
import { deliverToAttachedTargets } from './core/attached-delivery';
import { enrichConfigFromEnv, enrichRecords } from './core/enrich-records';
import { createLogger } from './core/logger';

// Module scope: read once per cold start; a missing variable fails the cold start loudly.
const config = enrichConfigFromEnv();
const logger = createLogger('ddb-replication-enrich');
// Only a pipe with attached queues talks to SQS. The endpoint is the configured one (AWS_ENDPOINT_URL_SQS
// locally), not the queue URL's host: fauxqs hands out URLs on sqs.<region>.localhost, which need not resolve.
// With DELIVERY=enrichment-send the owner's queue is one of those it sends to.
const queues = config.ownerQueue === undefined ? config.attachedTargets : [config.ownerQueue, ...config.attachedTargets];
const sqs = queues.length > 0 ? new SQSClient({ useQueueUrlAsEndpoint: false }) : undefined;

/**
 * EventBridge Pipes enrichment: stream records → change envelopes. Pipes passes a plain JSON array
 * (docs/architecture.md#enrichment); the `{ Records }` shape of a Lambda stream trigger is accepted too. Each returned
 * element becomes one message; the pipe's target reads `$.groupId` and `$.eventId` from it.
 *
 * With fan-out it first delivers the attached targets' envelopes to their queues and throws if one
 * still refuses them: the pipe then retries the whole batch (the shard does not advance, so per-item
 * order holds, and the eventId dedup id absorbs what was already sent). With DELIVERY=enrichment-send
 * the owner's queue is delivered the same way and the pipe target gets nothing (`[]`).
 */
export const handler = async (event: DynamoDBRecord[] | DynamoDBStreamEvent): Promise<ChangeEnvelopeV1[]> => {
  const records = Array.isArray(event) ? event : event.Records;
  // The owner's envelopes first: a record that cannot be encoded fails before anything is sent
  // (deliverToAttachedTargets also encodes everything before sending, the owner's queue included).
  const envelopes = config.ownerQueue === undefined ? enrichRecords(records, config) : [];
  const attached = sqs === undefined ? {} : await deliverToAttachedTargets(records, queues, { sqs, ctx: config });
  logger.info('records enriched', {
    records: records.length,
    envelopes: envelopes.length,
    resyncs: envelopes.filter((e) => e.op === 'RESYNC').length,
    ...(sqs === undefined ? {} : { attached }),
  });
  return envelopes;
};
