import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { KeySchema } from '../../handlers/core/key-schema';
import type { TargetPolicy } from '../../handlers/core/target-policy';

/**
 * What an operator command (replay, verify, status, pause, resume) needs from a target, whether it
 * is deployed (cli/targets/aws.ts: resources from the stack outputs) or a kept local session
 * (cli/local/target.ts: the session file and its control API). The operator-command cores (cli/operator/) see only
 * this interface, so each runs unchanged against both — and against fakes in unit tests.
 */

export interface TableRef {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** For messages: "table orders-replica (222222222222, eu-central-1)". */
  readonly description: string;
}

/** Lambda event source mapping states (Enabled, Disabled, Enabling, Disabling, …); locally Enabled/Disabled. */
export type MappingState = string;

export interface MappingPort {
  /** The mapping's UUID, or a local name; for messages. */
  readonly id: string;
  state(): Promise<MappingState>;
  /** Asks for the mapping to be enabled/disabled; the caller waits for the state to settle. */
  setEnabled(enabled: boolean): Promise<void>;
}

/** Everything about the pipeline's health besides the queues (which the cores read over SQS themselves). */
export interface PipelineHealth {
  /** EventBridge Pipes CurrentState (RUNNING, STOPPED, …) and its StateReason. */
  readonly pipe: { readonly name: string; readonly state: string; readonly reason?: string };
  /**
   * The source stream as the pipe needs it. `enabled: false`, or a current stream ARN different from
   * the one the pipe reads, means the pipe can never recover (a re-enabled stream has a new ARN).
   * Undefined where not applicable (local).
   */
  readonly stream?: { readonly enabled: boolean; readonly pipeStreamArn?: string; readonly currentStreamArn?: string };
  /** Age of the oldest message in the queue (CloudWatch ApproximateAgeOfOldestMessage), if known. */
  readonly oldestMessageAgeSeconds?: number;
  /** Changes applied over the last minute (ChangesApplied, or the local session's counters), if known. */
  readonly appliedLastMinute?: number;
  /** Replication lag over the last minute (ReplicationLagMs), if known. */
  readonly lagLastMinute?: { readonly p99Ms?: number; readonly maxMs?: number };
  /** The continuous sampled verification's latest run (CloudWatch VerifySampled/VerifyMismatches), if it runs. */
  readonly lastVerify?: { readonly at: string; readonly sampled: number; readonly mismatches: number };
  /** Parts that could not be read, in plain words ("CloudWatch: missing permission cloudwatch:GetMetricData on …"). */
  readonly unreachable: readonly string[];
}

export interface OperatorTarget {
  readonly name: string;
  /** The replication it belongs to (AWS; a config may hold several). @default none (local) */
  readonly replication?: string;
  readonly kind: 'aws' | 'local';
  /** Where it was resolved from, for messages: "stack Ddbrepl-orders in eu-west-1" / "local session .ddb-replicate/local-session.json". */
  readonly where: string;
  /** How later commands name this target: "--target dr" or "--local" (plus the file when not the default). */
  readonly selector: string;
  readonly keySchema: KeySchema;
  readonly source: TableRef;
  /** The target's filter and redaction (verify compares in the target's view); undefined = every item as is. */
  readonly policy?: TargetPolicy;
  /** The replica; for verify only (in AWS it needs credentials for the target account). */
  readonly target: TableRef;
  /** SQS client for the target's queue and DLQ (in the source account and Region). */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** The queue's MessageRetentionPeriod (14 days as deployed). */
  readonly retentionSeconds: number;
  readonly mapping: MappingPort;
  health(): Promise<PipelineHealth>;
  /** Closes the clients this target opened. */
  close(): void;
}
