import type { DynamoDBRecord } from 'aws-lambda';
import { DELIVERY_MODES, targetOptionsSchema } from '../../schemas/replication-config';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { envelopesForTarget, parseAttachedTargets, type CompiledAttachedTarget } from './attached-delivery';
import type { EnvelopeContext } from './envelope';
import { ENV, intEnv, optionalEnv, requireEnv } from './env';
import { ConfigurationError } from './errors';
import { parseKeySchema } from './key-schema';
import { targetPolicyFromEnv, type TargetPolicy } from './target-policy';

/** The config's default, defined once in schemas/replication-config.ts. */
const RESYNC_THRESHOLD_DEFAULT = targetOptionsSchema.shape.resyncThresholdBytes.parse(undefined);

export interface EnrichConfig extends EnvelopeContext {
  /** The pipe owner's own filter (TARGET_FILTER) and redaction (TARGET_REDACTION); unset = everything, as is. */
  policy: TargetPolicy;
  /** Queues attached to this pipe (ATTACHED_TARGETS); empty without fan-out. */
  attachedTargets: CompiledAttachedTarget[];
  /**
   * With DELIVERY=enrichment-send: the owner itself as a queue the enrichment sends to (same path,
   * ordering and dedup as an attached queue); the handler then returns no envelopes. @default undefined (pipe-target)
   */
  ownerQueue?: CompiledAttachedTarget;
}

export function enrichConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EnrichConfig {
  const keySchema = parseKeySchema(requireEnv(ENV.keySchema, env));
  const attachedJson = optionalEnv(ENV.attachedTargets, '', env);
  const policy = targetPolicyFromEnv(keySchema, env);
  const delivery = optionalEnv(ENV.delivery, 'pipe-target', env);
  if (!(DELIVERY_MODES as readonly string[]).includes(delivery)) {
    throw new ConfigurationError(`environment variable ${ENV.delivery} must be one of ${DELIVERY_MODES.join(', ')}, got "${delivery}"`);
  }
  return {
    keySchema,
    sourceTableName: requireEnv(ENV.sourceTableName, env),
    resyncThresholdBytes: intEnv(ENV.resyncThresholdBytes, RESYNC_THRESHOLD_DEFAULT, env),
    policy,
    attachedTargets: attachedJson === '' ? [] : parseAttachedTargets(attachedJson, keySchema, ENV.attachedTargets),
    ...(delivery === 'enrichment-send'
      ? { ownerQueue: { targetName: optionalEnv(ENV.targetName, 'owner', env), queueUrl: requireEnv(ENV.ownerQueueUrl, env), policy } }
      : {}),
  };
}

/**
 * Stream records → the pipe owner's envelopes, in order. The owner's whole filter applies here —
 * event names, TTL deletes, key prefixes, attribute conditions: the pipe's FilterCriteria hold only
 * `dynamodb.*` patterns (Pipes filters DynamoDB sources on that key alone), and with fan-out they are
 * the union of the targets' patterns, so they let through records this target does not want. A record that cannot be encoded throws: the pipe retries and
 * dead-letters, nothing is dropped silently.
 */
export function enrichRecords(records: readonly DynamoDBRecord[], config: EnrichConfig): ChangeEnvelopeV1[] {
  return envelopesForTarget(records, config.policy, config);
}
