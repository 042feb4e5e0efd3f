import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { ChangeEnvelopeV1 } from '../schemas/change-envelope.v1';
import { enrichConfigFromEnv, enrichRecords } from './core/enrich-records';
import { createLogger } from './core/logger';

// Module scope: read once per cold start; a missing variable fails the cold start loudly.
const config = enrichConfigFromEnv();
const logger = createLogger('ddb-replication-enrich');

/**
 * EventBridge Pipes enrichment: stream records → change envelopes. Pipes passes a plain JSON array
 * (DESIGN §6); the `{ Records }` shape of a Lambda stream trigger is accepted too. Each returned
 * element becomes one message; the pipe's target reads `$.groupId` and `$.eventId` from it.
 */
export const handler = async (event: DynamoDBRecord[] | DynamoDBStreamEvent): Promise<ChangeEnvelopeV1[]> => {
  const records = Array.isArray(event) ? event : event.Records;
  const envelopes = enrichRecords(records, config);
  logger.info('records enriched', { records: records.length, envelopes: envelopes.length, resyncs: envelopes.filter((e) => e.op === 'RESYNC').length });
  return envelopes;
};
