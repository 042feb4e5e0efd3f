import type { z } from 'zod';
import { ConfigurationError } from './errors';

/**
 * Environment variables the handlers read, in one place. The CDK constructs set them from the app
 * config; local mode sets them for the emulators. Endpoints are never set here: the SDK reads
 * AWS_ENDPOINT_URL_DYNAMODB / _SQS / _STS itself.
 */
export const ENV = {
  /** Replication name (the metrics' Replication dimension: two replications may have targets of one name). */
  replicationName: 'REPLICATION_NAME',
  /** Target name (metrics dimension, log field). */
  targetName: 'TARGET_NAME',
  sourceTableName: 'SOURCE_TABLE_NAME',
  sourceRegion: 'SOURCE_REGION',
  /** JSON KeySchema: {"partitionKey":{"name","type"},"sortKey"?:{…}}. */
  keySchema: 'KEY_SCHEMA',
  targetTableName: 'TARGET_TABLE_NAME',
  targetRegion: 'TARGET_REGION',
  targetRoleArn: 'TARGET_ROLE_ARN',
  targetExternalId: 'TARGET_EXTERNAL_ID',
  resyncThresholdBytes: 'RESYNC_THRESHOLD_BYTES',
  /** JSON TargetFilter, applied again in enrichment for attached queues (fan-out). */
  targetFilter: 'TARGET_FILTER',
  /** JSON TargetRedaction of the pipe owner's own target; unset = no redaction. */
  targetRedaction: 'TARGET_REDACTION',
  /** JSON list of the queues attached to this pipe (fan-out, docs/fan-out.md): targetName, queueUrl, filter, redaction. */
  attachedTargets: 'ATTACHED_TARGETS',
  /** 'pipe-target' (default: the enrichment returns the owner's envelopes) or 'enrichment-send' (it sends them to OWNER_QUEUE_URL and returns []). */
  delivery: 'DELIVERY',
  /** The pipe owner's own queue, set with DELIVERY=enrichment-send. */
  ownerQueueUrl: 'OWNER_QUEUE_URL',
  logLevel: 'LOG_LEVEL',
  metricsNamespace: 'METRICS_NAMESPACE',
  /** The replication's control table holding the freeze mark (handlers/core/freeze.ts); unset = no freeze check. */
  controlTableName: 'CONTROL_TABLE_NAME',
  /**
   * The target's replication state table in the target account (handlers/core/replication-state.ts):
   * the apply records its last applied change there, the sampled verify its last run. Unset = not recorded.
   */
  stateTableName: 'STATE_TABLE_NAME',
  /** Where EMF metrics go: 'stdout' (default; CloudWatch extracts them from the function's log) or 'off' (local mode). */
  metricsSink: 'METRICS_SINK',
  /** Cap of apply's visibility backoff in seconds (handlers/core/visibility-backoff.ts); at most the queue's visibility timeout. @default 60 */
  visibilityBackoffMaxSeconds: 'VISIBILITY_BACKOFF_MAX_SECONDS',
  // Sampled verification (handlers/sampled-verify.ts).
  /** Items sampled from each table per run. */
  verifySampleSize: 'VERIFY_SAMPLE_SIZE',
  /** Seconds to wait before re-reading a mismatch. */
  verifySettleSeconds: 'VERIFY_SETTLE_SECONDS',
  /** 'true': enqueue a RESYNC per confirmed mismatch on QUEUE_URL. */
  verifyAutoRepair: 'VERIFY_AUTO_REPAIR',
  /** The target's FIFO queue (RESYNCs of the auto-repair). */
  queueUrl: 'QUEUE_URL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export function requireEnv(name: EnvName, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} is not set; it is set by the CDK construct (or by local mode) — redeploy the stack`);
  }
  return value;
}

export function optionalEnv(name: EnvName, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

export function intEnv(name: EnvName, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = optionalEnv(name, String(fallback), env);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(`environment variable ${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

export const METRICS_NAMESPACE_DEFAULT = 'DynamoDBCrossAccountReplication' as const;

/** A JSON variable parsed with its schema; undefined when unset. */
export function jsonEnv<S extends z.ZodType>(name: EnvName, schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> | undefined {
  const text = optionalEnv(name, '', env);
  return text === '' ? undefined : parseJsonEnv(name, text, schema);
}

/** JSON text of the environment variable `name`, parsed with `schema`; a ConfigurationError names the variable and the failing paths. */
export function parseJsonEnv<S extends z.ZodType>(name: string, text: string, schema: S): z.output<S> {
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
