// Namespace import: lets esbuild tree-shake zod (`import { z }` bundles all of it, locales included: ~450 KB vs ~100 KB).
import * as z from 'zod';
import { envelopeFitProblem, PIPES_SQS_TARGET_MAX_BATCH_SIZE, SQS_LIMITS } from '../handlers/core/aws-limits';

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

/** `options.delivery` (issue 12 §5). */
export const DELIVERY_MODES = ['pipe-target', 'enrichment-send'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

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

/** EventBridge Pipes: a pipe's batch size may not exceed its target's; an SQS queue target takes 10 (docs/aws-contracts.md). */
export const PIPE_MAX_BATCH_SIZE_SQS_TARGET = PIPES_SQS_TARGET_MAX_BATCH_SIZE;
/** SendMessageBatch: the sum of the batched messages' sizes is at most 1 MiB (docs/aws-contracts.md). */
export const SQS_MAX_BATCH_PAYLOAD_BYTES = SQS_LIMITS.maxBatchPayloadBytes;

/** Why a target's options could make the pipe's SendMessageBatch exceed its payload limit; undefined when they cannot. */
export function pipeBatchPayloadProblem(options: { pipeBatchSize: number; resyncThresholdBytes: number }): string | undefined {
  if (options.pipeBatchSize * options.resyncThresholdBytes <= SQS_MAX_BATCH_PAYLOAD_BYTES) return undefined;
  return `pipeBatchSize (${options.pipeBatchSize}) × resyncThresholdBytes (${options.resyncThresholdBytes}) must be at most ${SQS_MAX_BATCH_PAYLOAD_BYTES}: the pipe sends a batch's envelopes in one SendMessageBatch, whose total payload is at most 1 MiB; lower either`;
}

export const targetOptionsSchema = z.strictObject({
  /** Where the pipe starts reading the stream on first deploy. @default 'TRIM_HORIZON' */
  startingPosition: z.enum(['LATEST', 'TRIM_HORIZON']).default('TRIM_HORIZON'),
  /**
   * Stream records per pipe batch (one enrichment call). At most 10: a pipe's batch may not exceed what
   * its target takes, and an SQS queue takes 10 (docs/aws-contracts.md). @default 10
   */
  pipeBatchSize: z.number().int().min(1).max(PIPE_MAX_BATCH_SIZE_SQS_TARGET, `at most ${PIPE_MAX_BATCH_SIZE_SQS_TARGET}: the pipe's target is an SQS queue, which takes at most ${PIPE_MAX_BATCH_SIZE_SQS_TARGET} records per batch`).default(PIPE_MAX_BATCH_SIZE_SQS_TARGET),
  // --- Pipe parallelization (issue 14; docs/performance.md, README "Capacity planning") ---
  /**
   * Batches of one stream shard the pipe processes at once (ParallelizationFactor, 1-10); order is
   * kept per partition key. A pipe with an SQS target moves at most 10 records per batch, ~20 ms
   * each, so PF 1 carries ~500 records/s per shard; a shard takes up to 1,000 writes/s. The default
   * is what `ddb-replicate plan` picks for a full shard of 1 KB items (under 70 % busy). @default 3
   */
  pipeParallelizationFactor: z.number().int().min(1).max(10).default(3),
  // --- end pipe parallelization ---
  /** SQS messages per apply invocation (FIFO event sources allow at most 10). @default 10 */
  applyBatchSize: z.number().int().min(1).max(10).default(10),
  /** Cap on concurrent apply invocations (the SQS event source's maximumConcurrency, 2-1000). @default 10 */
  maximumConcurrency: z.number().int().min(2).max(1000).default(10),
  /** Receives before a message moves to the DLQ. @default 5 */
  maxReceiveCount: z.number().int().min(1).max(1000).default(5),
  /**
   * Envelopes larger than this are sent as RESYNC with keys only. pipeBatchSize × this must fit one
   * SendMessageBatch (1 MiB): the pipe sends a batch's envelopes in one call. @default 100000
   */
  resyncThresholdBytes: z.number().int().min(1024).max(240_000).default(100_000),
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
  // --- issue 12 §5 (i12-local): delivery mode ---
  /**
   * How the owner's envelopes reach its queue. 'pipe-target': the enrichment returns them and the
   * pipe's SQS target sends them (MessageGroupId $.groupId, dedup id $.eventId). 'enrichment-send':
   * the enrichment sends them itself, as it does for attached queues, and returns nothing — the
   * fallback should the target's dynamic paths read the source record (docs/aws-contracts.md).
   * Meaningful for a target with its own pipe; an attached target is always sent by the enrichment.
   * @default 'pipe-target'
   */
  delivery: z.enum(DELIVERY_MODES).default('pipe-target'),
}).superRefine((o, ctx) => {
  // Any envelope must fit one SQS message (sent by the enrichment too) and a full pipe batch one enrichment response.
  const problem = envelopeFitProblem({ resyncThresholdBytes: o.resyncThresholdBytes, pipeBatchSize: o.pipeBatchSize });
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['resyncThresholdBytes'], message: problem });
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

// --- Continuous sampled verification (issue 13; infra/constructs/sampled-verify.ts, handlers/sampled-verify.ts) ---
/** A scheduled function that samples items of both tables and compares them in the target's view. */
export const continuousVerifySchema = z.strictObject({
  /** The off switch: false keeps the settings but deploys no schedule or function. @default true */
  enabled: z.boolean().default(true),
  /** Minutes between runs (EventBridge Scheduler rate). @default 5 */
  everyMinutes: z.number().int().min(1).max(1440).default(5),
  /** Items sampled from each table per run (a random Scan segment of each). @default 100 */
  sampleSize: z.number().int().min(1).max(1000).default(100),
  /** Enqueue a RESYNC for each confirmed mismatch (never a direct write). @default false */
  autoRepair: z.boolean().default(false),
  /** Wait before re-reading a mismatch, so changes still in flight are not counted. @default 30 */
  settleSeconds: z.number().int().min(0).max(600).default(30),
});
export type ContinuousVerifyConfig = z.infer<typeof continuousVerifySchema>;
// --- end continuous sampled verification ---

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
  /** Continuous sampled verification (issue 13). @default none (no schedule) */
  continuousVerify: continuousVerifySchema.optional(),
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
    // Issue 12 §1g: a source table under a customer managed key.
    /**
     * The source table's customer managed KMS key, when it has one (a key of the source Region): the
     * pipe (stream reads), apply (RESYNC GetItem) and initial-load roles get kms:Decrypt on it, nothing
     * else. @default none (AWS owned or AWS managed key: no grant needed)
     */
    kmsKeyArn: kmsKeyArnSchema.optional(),
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
    // Issue 12: the pipe target's SendMessageBatch payload limit.
    const payloadProblem = pipeBatchPayloadProblem(t.options);
    if (payloadProblem !== undefined) ctx.addIssue({ code: 'custom', path: ['targets', i, 'options', 'resyncThresholdBytes'], message: payloadProblem });
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
  if (cfg.source.kmsKeyArn !== undefined && !cfg.source.kmsKeyArn.includes(`:kms:${cfg.source.region}:`)) {
    ctx.addIssue({ code: 'custom', path: ['source', 'kmsKeyArn'], message: `must be a key in the source Region ${cfg.source.region} (a table is encrypted with a key of its own Region)` });
  }
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
  /** The sampled-verify function (continuousVerify): reads the source, assumes the target role. */
  verify: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-verify`,
  /** The Glue verify job (infra/constructs/verify-job.ts): reads the source, assumes the target role. */
  verifyJob: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-verify-job`,
  target: (replicationName: string, targetName: string) => `ddbrepl-${replicationName}-${targetName}-target`,
} as const;

export function targetRoleArn(cfg: Pick<ReplicationConfig, 'replicationName'>, target: Pick<TargetConfig, 'name' | 'account' | 'roleArn'>, partition = 'aws'): string {
  return target.roleArn ?? `arn:${partition}:iam::${target.account}:role/${roleNames.target(cfg.replicationName, target.name)}`;
}

// ---- Many replications in one config file (issue 17) --------------------------------------------
// A config file holds either one replication (the shape above, unchanged) or
// `{ "replications": [ <that shape>, … ] }`. `parseReplicationConfigs` normalizes both to a list, in
// this one place; the checks below run over the whole list (a single replication is a list of one).

/** The `{ "replications": [ … ] }` shape. Cross-replication checks: `replicationSetProblems`. */
export const replicationsFileSchema = z.strictObject({
  $schema: z.string().optional(),
  replications: z.array(replicationConfigSchema).min(1, 'at least one replication'),
});
/** Either shape, for the generated JSON Schema (what an editor validates a config file against). */
export const replicationConfigFileSchema = z.union([replicationConfigSchema, replicationsFileSchema]);

/** A table, wherever it lives: account/Region/name. */
export function tableId(table: { account: string; region: string; tableName: string }): string {
  return `${table.account}/${table.region}/${table.tableName}`;
}

/**
 * Problems of a set of replications as `[path, message]` (paths from the list index):
 * - a duplicate replication name, or one that is another's name plus "-…": every physical name is
 *   `ddbrepl-<replication>-<target>…` and every stack `Ddbrepl-<replication>…`, so "a" next to "a-b"
 *   could give two resources one name (target "b-c" of "a" vs target "c" of "a-b");
 * - two replications of one source table (each opens its own pipes: more stream readers than the
 *   two per shard DynamoDB Streams allows before throttling; one replication with several targets shares them);
 * - loops: a target that is its own source table, or a pair replicated both ways at once (A→B and B→A),
 *   which would write each change back and forth. Failback (`ddb-replicate reverse`) removes the
 *   forward target in the config it writes.
 */
export function replicationSetProblems(replications: readonly ReplicationConfig[]): [(string | number)[], string][] {
  const problems: [(string | number)[], string][] = [];
  const edges = new Map<string, string>(); // "from→to" → "replications.i.targets.j"
  const sources = new Map<string, number>();
  replications.forEach((r, i) => {
    replications.slice(0, i).forEach((other, j) => {
      if (other.replicationName === r.replicationName) problems.push([[i, 'replicationName'], `duplicate replication name "${r.replicationName}" (also replications.${j})`]);
      else if (r.replicationName.startsWith(`${other.replicationName}-`) || other.replicationName.startsWith(`${r.replicationName}-`)) {
        problems.push([[i, 'replicationName'], `"${r.replicationName}" and "${other.replicationName}" (replications.${j}) could give two resources the same name (names are ddbrepl-<replication>-<target>…); rename one so neither is the other plus "-…"`]);
      }
    });
    const source = tableId(r.source);
    const sameSource = sources.get(source);
    if (sameSource !== undefined) problems.push([[i, 'source', 'tableName'], `table ${source} is already the source of replications.${sameSource}; put both sets of targets in one replication (each replication opens its own stream readers, and a stream allows two per shard)`]);
    else sources.set(source, i);
    r.targets.forEach((t, k) => {
      const target = tableId(t);
      const here = `replications.${i}.targets.${k}`;
      if (target === source) {
        problems.push([[i, 'targets', k, 'tableName'], `target ${t.name} is the source table ${source} itself: a replication loop`]);
        return;
      }
      const reverse = edges.get(`${target}→${source}`);
      if (reverse !== undefined) {
        problems.push([[i, 'targets', k, 'tableName'], `replication loop: ${here} replicates ${source} → ${target}, and ${reverse} replicates ${target} → ${source}; a table cannot be source and target of the same pair at once (remove the forward target first, as \`ddb-replicate reverse\` does)`]);
      }
      edges.set(`${source}→${target}`, here);
    });
  });
  return problems;
}

/**
 * Parses either shape into a list of validated replications (defaults applied). The single shape
 * keeps its error paths (`targets.0.name`); the list shape's are `replications.<i>.…`.
 * @throws InvalidReplicationConfigError listing every problem as `path: reason`
 */
export function parseReplicationConfigs(input: unknown, source = 'replication config'): ReplicationConfig[] {
  const isList = typeof input === 'object' && input !== null && !Array.isArray(input) && 'replications' in input;
  const fail = (lines: string[]): never => {
    throw new InvalidReplicationConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  };
  if (!isList) {
    const config = parseReplicationConfig(input, source);
    const problems = replicationSetProblems([config]);
    if (problems.length > 0) fail(problems.map(([path, message]) => `  ${path.slice(1).join('.')}: ${message.replace(/replications\.0\./g, '')}`));
    return [config];
  }
  const result = replicationsFileSchema.safeParse(input);
  if (!result.success) fail(result.error.issues.map((issue) => `  ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`));
  const replications = result.data!.replications;
  const problems = replicationSetProblems(replications);
  if (problems.length > 0) fail(problems.map(([path, message]) => `  replications.${path.join('.')}: ${message}`));
  return replications;
}
