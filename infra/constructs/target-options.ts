import type { DeliveryMode } from '../../schemas/replication-config';

/**
 * The public, plain prop types of the per-target constructs (`ReplicationTarget`, `InitialLoadJob`):
 * what a CDK user writes, with each default documented. They mirror the config's `filter`,
 * `redaction` and `options` (schemas/replication-config.ts, which holds the defaults and the
 * validation once); the constructs validate with those schemas, so a bad prop fails synth early
 * with the prop's path. test/infra/construct-props.test.ts keeps the two in step at compile time.
 */

/** A value an attribute may equal in a filter condition: one of S, N (as DynamoDB writes it, e.g. "1.5") or BOOL. */
export type FilterValueProps = { readonly S: string } | { readonly N: string } | { readonly BOOL: boolean };

/** One condition of `TargetFilterProps.attributeEquals`. */
export interface AttributeConditionProps {
  /** A top-level attribute name (no nested path). */
  readonly attribute: string;
  /** The attribute equals one of these values, all of one type (S, N or BOOL); at least one. */
  readonly anyOf: readonly FilterValueProps[];
}

/** Which stream records a target receives (the README's config reference, "filter"). */
export interface TargetFilterProps {
  /** Stream event names delivered; at least one. @default ['INSERT', 'MODIFY', 'REMOVE'] */
  readonly eventNames?: readonly ('INSERT' | 'MODIFY' | 'REMOVE')[];
  /** Replicate deletes made by DynamoDB TTL. @default true */
  readonly replicateTtlDeletes?: boolean;
  /** Keep only items whose (string) partition key starts with one of these. @default [] (all items) */
  readonly partitionKeyPrefixes?: readonly string[];
  /**
   * Keep only items whose attributes equal one of the given values, every condition holding (NewImage
   * for INSERT/MODIFY, OldImage for REMOVE). @default none (all items)
   */
  readonly attributeEquals?: readonly AttributeConditionProps[];
}

/** What of an item a target may see; key attributes can never be excluded or redacted. */
export interface TargetRedactionProps {
  /** Attributes removed from the image. @default [] */
  readonly exclude?: readonly string[];
  /** Attributes whose value is replaced as `redactWith` says. @default [] */
  readonly redact?: readonly string[];
  /**
   * `{ token }`: a fixed string. `{ sha256: true }`: "sha256:" + hex SHA-256 of the value (equal values
   * stay equal; not secret for guessable values). @default { token: 'REDACTED' }
   */
  readonly redactWith?: { readonly token: string } | { readonly sha256: true };
}

/** Thresholds and notification of a target's CloudWatch alarms (docs/operating.md). */
export interface TargetAlarmOptions {
  /** Alarm when the oldest queued envelope is older than this (60 - 1,209,600). @default 300 */
  readonly oldestMessageAgeSeconds?: number;
  /** Alarm when the p99 of ReplicationLagMs exceeds this in 3 of 5 minutes (1,000 - 86,400,000). @default 60000 */
  readonly lagP99Ms?: number;
  /** An existing SNS topic the alarms notify (ALARM and OK); not with `createTopic`. @default no notification unless `createTopic` */
  readonly topicArn?: string;
  /** Notify the replication's own encrypted topic (`TableReplication` creates it once). @default false */
  readonly createTopic?: boolean;
}

/** Batch sizes, concurrency, timeouts, encryption and delivery of one target. */
export interface ReplicationTargetOptions {
  /** Where the pipe starts reading the stream on first deploy. @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /** Stream records per pipe batch (1 - 10: the pipe's SQS target takes at most 10). @default 10 */
  readonly pipeBatchSize?: number;
  /** Batches of one shard the pipe processes at once (1 - 10; docs/performance.md). @default 3 */
  readonly pipeParallelizationFactor?: number;
  /** SQS messages per apply invocation (1 - 10). @default 10 */
  readonly applyBatchSize?: number;
  /** Cap on concurrent apply invocations (2 - 1000). @default 10 */
  readonly maximumConcurrency?: number;
  /** Receives before a message moves to the DLQ (1 - 1000). @default 5 */
  readonly maxReceiveCount?: number;
  /**
   * Envelopes larger than this are sent as keys-only RESYNC (1,024 - 240,000); `pipeBatchSize` × this
   * must fit one SendMessageBatch (1 MiB). @default 100000
   */
  readonly resyncThresholdBytes?: number;
  /** Apply function memory (128 - 10,240). @default 512 */
  readonly applyMemoryMb?: number;
  /** Apply function timeout (5 - 900); the FIFO queue's visibility timeout is six times this. @default 60 */
  readonly applyTimeoutSeconds?: number;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** A customer managed KMS key ARN (source account and Region) for the three queues. @default SQS-managed SSE */
  readonly kmsKeyArn?: string;
  /** X-Ray active tracing on the enrich and apply functions. @default false */
  readonly tracing?: boolean;
  /** The target's alarms. @default the `TargetAlarmOptions` defaults */
  readonly alarms?: TargetAlarmOptions;
  /** How the owner's envelopes reach its queue (docs/architecture.md#fan-out). @default 'pipe-target' */
  readonly delivery?: DeliveryMode;
}

/** The target's initial-load Glue job (`InitialLoadJob`; docs/architecture.md#initial-load). */
export interface InitialLoadOptionsProps {
  /** Glue worker type: 'G.1X', 'G.2X', 'G.4X' or 'G.8X'. @default 'G.1X' */
  readonly workerType?: 'G.1X' | 'G.2X' | 'G.4X' | 'G.8X';
  /** Workers including the Spark driver (2 - 299). @default 2 */
  readonly numberOfWorkers?: number;
  /** `scan` (parallel Scan segments) or `export` (native export to S3; needs PITR). @default 'scan' */
  readonly engine?: 'scan' | 'export';
  /** Parallel Scan segments (1 - 1,000,000). @default 4 × the job's Spark parallelism (chosen at run time) */
  readonly segments?: number;
  /** Job-wide write cap in items per second; 0 = unlimited. @default 0 */
  readonly writeRateItemsPerSecond?: number;
  /** Attributes not copied to this target (never a key attribute). @default [] */
  readonly excludeAttributes?: readonly string[];
}

/** Continuous sampled verification of one target (`SampledVerify`). */
export interface ContinuousVerifyProps {
  /** The off switch: false keeps the settings but deploys no schedule or function. @default true */
  readonly enabled?: boolean;
  /** Minutes between runs (1 - 1440). @default 5 */
  readonly everyMinutes?: number;
  /** Items sampled from each table per run (1 - 1000). @default 100 */
  readonly sampleSize?: number;
  /** Enqueue a RESYNC for each confirmed mismatch (never a direct write). @default false */
  readonly autoRepair?: boolean;
  /** Wait before re-reading a mismatch (0 - 600). @default 30 */
  readonly settleSeconds?: number;
}
