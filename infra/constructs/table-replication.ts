import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import type { KeySchema } from '../../handlers/core/key-schema';
import { ReplicationTarget, type ReplicationTargetProps } from './replication-target';

/**
 * DynamoDB Streams serves at most two concurrent readers per shard; a third is throttled, and
 * throttling delays every target. So at most this many pipes read one stream (DESIGN §1).
 */
export const MAX_PIPES_PER_STREAM = 2 as const;

/** The exact synth error for a target beyond the stream's reader budget. */
export function tooManyPipesMessage(targetName: string, tableName: string): string {
  return (
    `Cannot add target "${targetName}" to table ${tableName}: a DynamoDB stream allows at most two readers per shard ` +
    `(more throttle the stream), and each target here has its own pipe reading the stream. ` +
    `Attaching the target's queue to an existing pipe is the planned fan-out; until then, replicate to at most ${MAX_PIPES_PER_STREAM} targets per source table.`
  );
}

export interface TableReplicationProps {
  /** Names the replication; part of every resource name. */
  readonly replicationName: string;
  /** The source table with its stream: `TableV2.fromTableAttributes(scope, id, { tableName, tableStreamArn })`. */
  readonly sourceTable: ITableV2;
  readonly keySchema: KeySchema;
  /** Retention of the log groups of every target. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** What `addTarget` needs beyond what the replication already knows. */
export type AddTargetProps = Omit<ReplicationTargetProps, 'replicationName' | 'sourceTable' | 'keySchema' | 'logRetention'>;

/**
 * Replication of one source table to its targets. `addTarget()` is the only way to add one, so the
 * number of stream readers is decided here, in one place — the seam where fan-out (attaching a
 * target's queue to an existing pipe instead of opening a third reader) will go.
 */
export class TableReplication extends Construct {
  private readonly targetsByName = new Map<string, ReplicationTarget>();
  /** Pipes reading the source stream. Today one per target; with fan-out, attached targets add none. */
  private pipesOnStream = 0;

  constructor(scope: Construct, id: string, private readonly props: TableReplicationProps) {
    super(scope, id);
  }

  public get targets(): readonly ReplicationTarget[] {
    return [...this.targetsByName.values()];
  }

  /** Adds a target with its own pipe. The construct id is the target name (part of the contract). */
  public addTarget(props: AddTargetProps): ReplicationTarget {
    if (this.targetsByName.has(props.targetName)) {
      throw new ConfigurationError(`Cannot add target "${props.targetName}" twice to replication ${this.props.replicationName}`);
    }
    if (this.pipesOnStream >= MAX_PIPES_PER_STREAM) {
      throw new ConfigurationError(tooManyPipesMessage(props.targetName, this.props.sourceTable.tableName));
    }
    const target = new ReplicationTarget(this, props.targetName, {
      ...props,
      replicationName: this.props.replicationName,
      sourceTable: this.props.sourceTable,
      keySchema: this.props.keySchema,
      logRetention: this.props.logRetention,
    });
    this.pipesOnStream += 1;
    this.targetsByName.set(props.targetName, target);
    return target;
  }
}
