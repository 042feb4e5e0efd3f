import { z } from 'zod';

/**
 * The typed app config (`replication.config.json`), validated at synth time. An invalid config
 * fails synth with the field path and the reason (see `parseReplicationConfig`).
 * Defaults live here, once; the README's config reference documents them.
 */

const NAME = /^[a-z][a-z0-9-]{0,19}$/;
const nameSchema = z.string().regex(NAME, 'lower-case letters, digits and "-", starting with a letter, at most 20 characters');
const accountSchema = z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id');
const regionSchema = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS Region such as eu-west-1');
const tableNameSchema = z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, 'a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)');

export const KEY_TYPES = ['S', 'N', 'B'] as const;
export const keyAttributeSchema = z.strictObject({
  name: z.string().min(1).max(255),
  type: z.enum(KEY_TYPES),
});
export const keySchemaSchema = z.strictObject({
  partitionKey: keyAttributeSchema,
  sortKey: keyAttributeSchema.optional(),
});

export const STREAM_EVENT_NAMES = ['INSERT', 'MODIFY', 'REMOVE'] as const;

/** Which stream records a target receives. Compiled once (handlers/core/filter.ts) to a Pipes filter pattern and to a predicate. */
export const targetFilterSchema = z.strictObject({
  /** @default ['INSERT','MODIFY','REMOVE'] */
  eventNames: z.array(z.enum(STREAM_EVENT_NAMES)).min(1, 'at least one event name, or the target would receive nothing').default([...STREAM_EVENT_NAMES]),
  /** Replicate deletes made by DynamoDB TTL (userIdentity.principalId = dynamodb.amazonaws.com). @default true */
  replicateTtlDeletes: z.boolean().default(true),
  /** Keep only items whose (string) partition key starts with one of these. @default [] (all items) */
  partitionKeyPrefixes: z.array(z.string().min(1)).default([]),
});
export type TargetFilter = z.infer<typeof targetFilterSchema>;

export const targetOptionsSchema = z.strictObject({
  /** Where the pipe starts reading the stream on first deploy. @default 'TRIM_HORIZON' */
  startingPosition: z.enum(['LATEST', 'TRIM_HORIZON']).default('TRIM_HORIZON'),
  /** Stream records per enrichment call. @default 100 */
  pipeBatchSize: z.number().int().min(1).max(10000).default(100),
  /** SQS messages per apply invocation (FIFO event sources allow at most 10). @default 10 */
  applyBatchSize: z.number().int().min(1).max(10).default(10),
  /** Cap on concurrent apply invocations (the SQS event source's maximumConcurrency, 2-1000). @default 10 */
  maximumConcurrency: z.number().int().min(2).max(1000).default(10),
  /** Receives before a message moves to the DLQ. @default 5 */
  maxReceiveCount: z.number().int().min(1).max(1000).default(5),
  /** Envelopes larger than this are sent as RESYNC with keys only. @default 200000 */
  resyncThresholdBytes: z.number().int().min(1024).max(240_000).default(200_000),
  /** Apply function memory. @default 512 */
  applyMemoryMb: z.number().int().min(128).max(10240).default(512),
  /** Apply function timeout; the FIFO queue's visibility timeout is six times this. @default 60 */
  applyTimeoutSeconds: z.number().int().min(5).max(900).default(60),
  /** @default 'INFO' */
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
});
export type TargetOptions = z.infer<typeof targetOptionsSchema>;

export const targetConfigSchema = z.strictObject({
  /** Short name, used in resource names and on the CLI (`--target dr`). */
  name: nameSchema,
  account: accountSchema,
  region: regionSchema,
  tableName: tableNameSchema,
  /** Required by the target role's trust policy; treat as a shared secret-ish identifier. */
  externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'an sts:ExternalId (2-1224 of letters, digits and +=,.@:/-)'),
  /** @default the role TargetAccessStack creates: arn:aws:iam::<account>:role/<targetRoleName(...)> */
  roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,64}$/, 'an IAM role ARN').optional(),
  filter: targetFilterSchema.default(targetFilterSchema.parse({})),
  options: targetOptionsSchema.default(targetOptionsSchema.parse({})),
});
export type TargetConfig = z.infer<typeof targetConfigSchema>;

export const replicationConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  /** Names the replication; part of every resource name. */
  replicationName: nameSchema,
  source: z.strictObject({
    account: accountSchema,
    region: regionSchema,
    tableName: tableNameSchema,
    /** The table's current stream ARN (DescribeTable → LatestStreamArn). The stream must be NEW_AND_OLD_IMAGES. */
    tableStreamArn: z.string().regex(/^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[a-zA-Z0-9_.-]+\/stream\/.+$/, 'a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)'),
    keySchema: keySchemaSchema,
  }),
  targets: z.array(targetConfigSchema).min(1, 'at least one target'),
}).superRefine((cfg, ctx) => {
  const seen = new Set<string>();
  cfg.targets.forEach((t, i) => {
    if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
    seen.add(t.name);
    if (t.filter.partitionKeyPrefixes.length > 0 && cfg.source.keySchema.partitionKey.type !== 'S') {
      ctx.addIssue({ code: 'custom', path: ['targets', i, 'filter', 'partitionKeyPrefixes'], message: `prefixes need a string partition key; "${cfg.source.keySchema.partitionKey.name}" is ${cfg.source.keySchema.partitionKey.type}` });
    }
  });
  const tableArnPrefix = `:${cfg.source.region}:${cfg.source.account}:table/${cfg.source.tableName}/stream/`;
  if (!cfg.source.tableStreamArn.includes(tableArnPrefix)) {
    ctx.addIssue({ code: 'custom', path: ['source', 'tableStreamArn'], message: `must be a stream of table ${cfg.source.tableName} in ${cfg.source.region}/${cfg.source.account}` });
  }
});
export type ReplicationConfig = z.infer<typeof replicationConfigSchema>;

/** Thrown when the config is invalid; the message lists every problem as `path: reason`. */
export class InvalidReplicationConfigError extends Error {
  override readonly name = 'InvalidReplicationConfigError';
}

export function parseReplicationConfig(input: unknown, source = 'replication config'): ReplicationConfig {
  const result = replicationConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  throw new InvalidReplicationConfigError(`${source} is invalid:\n${lines.join('\n')}`);
}

/** Fixed IAM role names, so the target account's trust policy can name them before they exist (DESIGN §1, "Target account"). */
export const roleNames = {
  apply: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-apply`,
  initialLoad: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-load`,
  target: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-target`,
} as const;

export function targetRoleArn(cfg: Pick<ReplicationConfig, 'replicationName'>, target: Pick<TargetConfig, 'name' | 'account' | 'roleArn'>, partition = 'aws'): string {
  return target.roleArn ?? `arn:${partition}:iam::${target.account}:role/${roleNames.target(cfg.replicationName, target.name)}`;
}
