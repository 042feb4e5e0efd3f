import type { DynamoDBRecord } from 'aws-lambda';
import { targetFilterSchema, targetOptionsSchema } from '../../schemas/replication-config';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { envelopeFromStreamRecord, type EnvelopeContext } from './envelope';
import { ENV, intEnv, optionalEnv, requireEnv } from './env';
import { ConfigurationError } from './errors';
import { compileFilterPredicate, type RecordPredicate } from './filter';
import { parseKeySchema } from './key-schema';

/** The config's default, defined once in schemas/replication-config.ts. */
const RESYNC_THRESHOLD_DEFAULT = targetOptionsSchema.shape.resyncThresholdBytes.parse(undefined);

export interface EnrichConfig extends EnvelopeContext {
  /** Present when TARGET_FILTER is set: records it rejects are not forwarded. */
  filter?: RecordPredicate;
}

export function enrichConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EnrichConfig {
  const keySchema = parseKeySchema(requireEnv(ENV.keySchema, env));
  const config: EnrichConfig = {
    keySchema,
    sourceTableName: requireEnv(ENV.sourceTableName, env),
    resyncThresholdBytes: intEnv(ENV.resyncThresholdBytes, RESYNC_THRESHOLD_DEFAULT, env),
  };
  const filterJson = optionalEnv(ENV.targetFilter, '', env);
  if (filterJson !== '') {
    let raw: unknown;
    try {
      raw = JSON.parse(filterJson);
    } catch (cause) {
      throw new ConfigurationError(`${ENV.targetFilter} is not JSON`, { cause });
    }
    const parsed = targetFilterSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigurationError(`${ENV.targetFilter} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    config.filter = compileFilterPredicate(parsed.data, keySchema);
  }
  return config;
}

/**
 * Stream records → envelopes, in order. A record the filter rejects is skipped (the real pipe's
 * filter already dropped it; this matters for queues attached to another target's pipe). A record
 * that cannot be encoded throws: the pipe retries and dead-letters, nothing is dropped silently.
 */
export function enrichRecords(records: readonly DynamoDBRecord[], config: EnrichConfig): ChangeEnvelopeV1[] {
  const envelopes: ChangeEnvelopeV1[] = [];
  for (const record of records) {
    if (config.filter !== undefined && !config.filter(record)) continue;
    envelopes.push(envelopeFromStreamRecord(record, config));
  }
  return envelopes;
}
