import type { DynamoDBRecord } from 'aws-lambda';
import { targetOptionsSchema } from '../../schemas/replication-config';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { envelopesForTarget, parseAttachedTargets, type CompiledAttachedTarget } from './attached-delivery';
import type { EnvelopeContext } from './envelope';
import { ENV, intEnv, optionalEnv, requireEnv } from './env';
import { parseKeySchema } from './key-schema';
import { targetPolicyFromEnv, type TargetPolicy } from './target-policy';

/** The config's default, defined once in schemas/replication-config.ts. */
const RESYNC_THRESHOLD_DEFAULT = targetOptionsSchema.shape.resyncThresholdBytes.parse(undefined);

export interface EnrichConfig extends EnvelopeContext {
  /** The pipe owner's own filter (TARGET_FILTER) and redaction (TARGET_REDACTION); unset = everything, as is. */
  policy: TargetPolicy;
  /** Queues attached to this pipe (ATTACHED_TARGETS); empty without fan-out. */
  attachedTargets: CompiledAttachedTarget[];
}

export function enrichConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EnrichConfig {
  const keySchema = parseKeySchema(requireEnv(ENV.keySchema, env));
  const attachedJson = optionalEnv(ENV.attachedTargets, '', env);
  return {
    keySchema,
    sourceTableName: requireEnv(ENV.sourceTableName, env),
    resyncThresholdBytes: intEnv(ENV.resyncThresholdBytes, RESYNC_THRESHOLD_DEFAULT, env),
    policy: targetPolicyFromEnv(keySchema, env),
    attachedTargets: attachedJson === '' ? [] : parseAttachedTargets(attachedJson, keySchema, ENV.attachedTargets),
  };
}

/**
 * Stream records → the pipe owner's envelopes, in order. A record its filter rejects is skipped
 * (with fan-out the pipe's own filter is the union of its targets', so it may let through records
 * this target does not want). A record that cannot be encoded throws: the pipe retries and
 * dead-letters, nothing is dropped silently.
 */
export function enrichRecords(records: readonly DynamoDBRecord[], config: EnrichConfig): ChangeEnvelopeV1[] {
  return envelopesForTarget(records, config.policy, config);
}
