import type { DynamoDBRecord } from 'aws-lambda';
import { targetFilterSchema, targetOptionsSchema, targetRedactionSchema } from '../../schemas/replication-config';
import type { ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { compileTargetPolicy, envelopesForTarget, parseAttachedTargets, type CompiledAttachedTarget, type TargetPolicy } from './attached-delivery';
import type { EnvelopeContext } from './envelope';
import { ENV, intEnv, optionalEnv, requireEnv, type EnvName } from './env';
import { ConfigurationError } from './errors';
import { parseKeySchema } from './key-schema';
import type { z } from 'zod';

/** The config's default, defined once in schemas/replication-config.ts. */
const RESYNC_THRESHOLD_DEFAULT = targetOptionsSchema.shape.resyncThresholdBytes.parse(undefined);

export interface EnrichConfig extends EnvelopeContext {
  /** The pipe owner's own filter (TARGET_FILTER) and redaction (TARGET_REDACTION); unset = everything, as is. */
  policy: TargetPolicy;
  /** Queues attached to this pipe (ATTACHED_TARGETS); empty without fan-out. */
  attachedTargets: CompiledAttachedTarget[];
}

function jsonEnv<S extends z.ZodType>(name: EnvName, schema: S, env: NodeJS.ProcessEnv): z.output<S> | undefined {
  const text = optionalEnv(name, '', env);
  if (text === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigurationError(`${name} is not JSON`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigurationError(`${name} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { cause: parsed.error });
  }
  return parsed.data;
}

export function enrichConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EnrichConfig {
  const keySchema = parseKeySchema(requireEnv(ENV.keySchema, env));
  const filter = jsonEnv(ENV.targetFilter, targetFilterSchema, env) ?? targetFilterSchema.parse({});
  const redaction = jsonEnv(ENV.targetRedaction, targetRedactionSchema, env);
  const attachedJson = optionalEnv(ENV.attachedTargets, '', env);
  return {
    keySchema,
    sourceTableName: requireEnv(ENV.sourceTableName, env),
    resyncThresholdBytes: intEnv(ENV.resyncThresholdBytes, RESYNC_THRESHOLD_DEFAULT, env),
    policy: compileTargetPolicy({ filter, redaction }, keySchema),
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
