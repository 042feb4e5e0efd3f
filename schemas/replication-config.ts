// Namespace import: lets esbuild tree-shake zod (`import { z }` bundles all of it, locales included: ~450 KB vs ~100 KB).
import * as z from 'zod';

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

/**
 * A top-level attribute name. Only its syntax can be checked at synth: DynamoDB has no schema for
 * non-key attributes, so a name that no item carries is accepted (it simply never matches).
 */
export const attributeNameSchema = z.string().min(1).max(255)
  .regex(/^[^.[\]]+$/, 'a top-level attribute name (nested paths such as a.b or a[0] are not supported)');

/** A number as DynamoDB returns it in stream images (no exponent, no leading or trailing zeros), so string equality is value equality. */
const normalizedNumberSchema = z.string().regex(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/, 'a number written as DynamoDB returns it (e.g. "1.5", not "1.50" or "15E-1")');
export const filterValueSchema = z.union([
  z.strictObject({ S: z.string() }),
  z.strictObject({ N: normalizedNumberSchema }),
  z.strictObject({ BOOL: z.boolean() }),
]);
export type FilterValue = z.infer<typeof filterValueSchema>;

export const attributeConditionSchema = z.strictObject({
  attribute: attributeNameSchema,
  /** The attribute equals one of these values, all of one type (S, N or BOOL). */
  anyOf: z.array(filterValueSchema).min(1, 'at least one value, or the condition matches nothing'),
}).refine((c) => new Set(c.anyOf.map((v) => Object.keys(v)[0])).size === 1, { message: 'all values of one condition must have the same type (S, N or BOOL)', path: ['anyOf'] });
export type AttributeCondition = z.infer<typeof attributeConditionSchema>;

/** Which stream records a target receives. Compiled once (handlers/core/filter.ts) to a Pipes filter pattern and to a predicate. */
export const targetFilterSchema = z.strictObject({
  /** @default ['INSERT','MODIFY','REMOVE'] */
  eventNames: z.array(z.enum(STREAM_EVENT_NAMES)).min(1, 'at least one event name, or the target would receive nothing').default([...STREAM_EVENT_NAMES]),
  /** Replicate deletes made by DynamoDB TTL (userIdentity.principalId = dynamodb.amazonaws.com). @default true */
  replicateTtlDeletes: z.boolean().default(true),
  /** Keep only items whose (string) partition key starts with one of these. @default [] (all items) */
  partitionKeyPrefixes: z.array(z.string().min(1)).default([]),
  /**
   * Keep only items whose attributes equal one of the given values, every condition holding. Tested on
   * NewImage for INSERT/MODIFY and on OldImage for REMOVE; a MODIFY whose old image matched and new
   * image does not is delivered as a DELETE (the item left this target's view) when REMOVE is kept.
   * @default none (all items)
   */
  attributeEquals: z.array(attributeConditionSchema).optional(),
});
export type TargetFilter = z.infer<typeof targetFilterSchema>;

/**
 * What of an item a target may see. Applied wherever an image is written to the target: PUT images in
 * enrichment, the re-read item of a RESYNC in apply, and both initial-load engines
 * (handlers/core/target-policy.ts). Key attributes can never be excluded or redacted.
 */
export const targetRedactionSchema = z.strictObject({
  /** Attributes removed from the image. @default [] */
  exclude: z.array(attributeNameSchema).default([]),
  /** Attributes whose value is replaced as `redactWith` says (the replacement is a string, S). @default [] */
  redact: z.array(attributeNameSchema).default([]),
  /**
   * `{ token }`: a fixed string. `{ sha256: true }`: "sha256:" + hex SHA-256 of the value's canonical
   * JSON — equal values stay equal (joins still work), but it is NOT secret: a guessable value can be
   * recovered by hashing guesses. @default { token: 'REDACTED' }
   */
  redactWith: z.union([z.strictObject({ token: z.string().min(1).max(1024) }), z.strictObject({ sha256: z.literal(true) })]).default({ token: 'REDACTED' }),
}).superRefine((r, ctx) => {
  const both = r.exclude.filter((name) => r.redact.includes(name));
  if (both.length > 0) ctx.addIssue({ code: 'custom', path: ['redact'], message: `attribute(s) ${both.join(', ')} are both excluded and redacted; choose one` });
});
export type TargetRedaction = z.infer<typeof targetRedactionSchema>;

/**
 * Problems of a target's filter and redaction against the source key schema, as `[path, message]`:
 * a policy that would drop or redact a key attribute, or a filter that can match nothing. Used by the
 * config schema and by `ReplicationTarget`, so both fail synth with the same message.
 */
export function targetPolicyProblems(
  keySchema: z.infer<typeof keySchemaSchema>,
  filter: TargetFilter,
  redaction: TargetRedaction | undefined,
): [string[], string][] {
  const problems: [string[], string][] = [];
  const keys = [keySchema.partitionKey, ...(keySchema.sortKey ? [keySchema.sortKey] : [])];
  const keyNames = keys.map((k) => k.name);
  for (const field of ['exclude', 'redact'] as const) {
    const hit = (redaction?.[field] ?? []).filter((name) => keyNames.includes(name));
    if (hit.length > 0) problems.push([['redaction', field], `key attribute(s) ${hit.join(', ')} cannot be ${field === 'exclude' ? 'excluded' : 'redacted'}; keys are always replicated as they are`]);
  }
  if (filter.partitionKeyPrefixes.length > 0 && keySchema.partitionKey.type !== 'S') {
    problems.push([['filter', 'partitionKeyPrefixes'], `prefixes need a string partition key; "${keySchema.partitionKey.name}" is ${keySchema.partitionKey.type}`]);
  }
  const seen = new Set<string>();
  (filter.attributeEquals ?? []).forEach((condition, i) => {
    const path = ['filter', 'attributeEquals', String(i)];
    if (seen.has(condition.attribute)) problems.push([path, `attribute "${condition.attribute}" has two conditions; list its values in one condition's anyOf`]);
    seen.add(condition.attribute);
    const key = keys.find((k) => k.name === condition.attribute);
    const type = Object.keys(condition.anyOf[0] ?? {})[0];
    if (key !== undefined && type !== key.type) {
      problems.push([path, `matches nothing: key attribute "${key.name}" is of type ${key.type}, the condition compares ${type ?? 'no'} values`]);
    } else if (key !== undefined && key.name === keySchema.partitionKey.name && filter.partitionKeyPrefixes.length > 0 &&
      !condition.anyOf.some((v) => 'S' in v && filter.partitionKeyPrefixes.some((p) => v.S.startsWith(p)))) {
      problems.push([path, `matches nothing: no value of "${key.name}" starts with one of partitionKeyPrefixes`]);
    }
  });
  return problems;
}

const snsTopicArnSchema = z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/, 'an SNS topic ARN');
const kmsKeyArnSchema = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; not an alias)');

/** Per-target CloudWatch alarms (infra/constructs/target-alarms.ts); docs/operating.md says what each one means and what to run. */
export const targetAlarmsSchema = z.strictObject({
  /** Alarm when the oldest envelope in the target queue is older than this: apply paused, stuck or too slow. @default 300 */
  oldestMessageAgeSeconds: z.number().int().min(60).max(1_209_600).default(300),
  /** Alarm when the p99 of ReplicationLagMs (source write → applied) exceeds this in 3 of 5 minutes. @default 60000 */
  lagP99Ms: z.number().int().min(1000).max(86_400_000).default(60_000),
  /** An existing SNS topic the alarms notify (ALARM and OK). @default no notification unless `createTopic` */
  topicArn: snsTopicArnSchema.optional(),
  /**
   * Create the replication's KMS-encrypted SNS topic `ddbrepl-<replication>-alarms` (one topic, shared
   * by every target that sets this) and notify it; subscribe to it after deploy. @default false
   */
  createTopic: z.boolean().default(false),
}).refine((alarms) => !(alarms.createTopic && alarms.topicArn !== undefined), { message: 'set either topicArn or createTopic, not both', path: ['createTopic'] });
export type TargetAlarms = z.infer<typeof targetAlarmsSchema>;

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
  /**
   * A customer managed KMS key (in the source account and Region) for the target's queue, DLQ and
   * pipe DLQ; the pipe and apply roles get the grants they need. Its key policy must let IAM policies
   * of the account grant use (the default key policy does). @default SQS-managed SSE
   */
  kmsKeyArn: kmsKeyArnSchema.optional(),
  /** X-Ray active tracing on the enrich and apply functions. @default false (a trace per batch is billed at stream throughput) */
  tracing: z.boolean().default(false),
  alarms: targetAlarmsSchema.default(targetAlarmsSchema.parse({})),
});
export type TargetOptions = z.infer<typeof targetOptionsSchema>;

/** Glue worker types an initial-load job may use (Glue 5.0 Spark jobs; G.025X is for streaming jobs only). */
export const INITIAL_LOAD_WORKER_TYPES = ['G.1X', 'G.2X', 'G.4X', 'G.8X'] as const;
export const INITIAL_LOAD_ENGINES = ['scan', 'export'] as const;

/** The target's initial-load Glue job (infra/constructs/initial-load-job.ts, infra/glue/initial_load.py). */
export const initialLoadSchema = z.strictObject({
  /** @default 'G.1X' (4 vCPU, 16 GB: the copy is bound by DynamoDB throughput, not by Spark) */
  workerType: z.enum(INITIAL_LOAD_WORKER_TYPES).default('G.1X'),
  /**
   * Workers including the Spark driver. 2 is Glue's minimum: one driver plus one executor whose 4
   * cores each copy a segment; raise it only when the tables' capacity allows faster writes.
   * @default 2
   */
  numberOfWorkers: z.number().int().min(2, 'Glue Spark jobs need at least 2 workers (driver + executor)').max(299).default(2),
  /** `scan` (parallel Scan segments) or `export` (native export to S3; needs PITR, lowest read cost). @default 'scan' */
  engine: z.enum(INITIAL_LOAD_ENGINES).default('scan'),
  /** Parallel Scan segments. @default 4 × the job's Spark parallelism (chosen by the script at run time) */
  segments: z.number().int().min(1).max(1_000_000).optional(),
  /** Job-wide write cap in items per second; 0 = unlimited. @default 0 */
  writeRateItemsPerSecond: z.number().min(0).default(0),
  /** Attributes not copied to this target (never a key attribute). @default [] */
  excludeAttributes: z.array(z.string().min(1).max(255)).default([]),
});
export type InitialLoadOptions = z.infer<typeof initialLoadSchema>;

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
  /**
   * The customer managed KMS key of the target table, when it has one: TargetAccessStack lets the
   * target role use exactly this key (Encrypt, Decrypt, GenerateDataKey, DescribeKey). @default none (AWS owned key)
   */
  targetTableKmsKeyArn: kmsKeyArnSchema.optional(),
  filter: targetFilterSchema.default(targetFilterSchema.parse({})),
  /** Attributes this target must not see in clear. @default none (every attribute replicated as is) */
  redaction: targetRedactionSchema.optional(),
  options: targetOptionsSchema.default(targetOptionsSchema.parse({})),
  initialLoad: initialLoadSchema.default(initialLoadSchema.parse({})),
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
    const keyNames = [cfg.source.keySchema.partitionKey.name, cfg.source.keySchema.sortKey?.name];
    const excludedKeys = t.initialLoad.excludeAttributes.filter((name) => keyNames.includes(name));
    if (excludedKeys.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['targets', i, 'initialLoad', 'excludeAttributes'], message: `key attribute(s) ${excludedKeys.join(', ')} cannot be excluded; key attributes are always copied` });
    }
    if (t.options.kmsKeyArn !== undefined && !t.options.kmsKeyArn.includes(`:kms:${cfg.source.region}:`)) {
      ctx.addIssue({ code: 'custom', path: ['targets', i, 'options', 'kmsKeyArn'], message: `must be a key in the source Region ${cfg.source.region} (SQS encrypts with a key of its own Region)` });
    }
    if (t.targetTableKmsKeyArn !== undefined && !t.targetTableKmsKeyArn.includes(`:kms:${t.region}:`)) {
      ctx.addIssue({ code: 'custom', path: ['targets', i, 'targetTableKmsKeyArn'], message: `must be a key in the target Region ${t.region} (a table is encrypted with a key of its own Region)` });
    }
    for (const [path, message] of targetPolicyProblems(cfg.source.keySchema, t.filter, t.redaction)) {
      ctx.addIssue({ code: 'custom', path: ['targets', i, ...path], message });
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

/** Fixed IAM role names, so the target account's trust policy can name them before they exist (docs/architecture.md#target-account). */
export const roleNames = {
  apply: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-apply`,
  initialLoad: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-load`,
  target: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-target`,
} as const;

export function targetRoleArn(cfg: Pick<ReplicationConfig, 'replicationName'>, target: Pick<TargetConfig, 'name' | 'account' | 'roleArn'>, partition = 'aws'): string {
  return target.roleArn ?? `arn:${partition}:iam::${target.account}:role/${roleNames.target(cfg.replicationName, target.name)}`;
}
