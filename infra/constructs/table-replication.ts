import { Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ConfigurationError } from '../../handlers/core/errors';
import type { KeySchema } from '../../handlers/core/key-schema';
import { targetOptionsSchema } from '../../schemas/replication-config';
import { ReplicationDashboard } from './replication-dashboard';
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
export type AddTargetProps = Omit<ReplicationTargetProps, 'replicationName' | 'sourceTable' | 'keySchema' | 'logRetention' | 'alarmTopic'>;

/**
 * Replication of one source table to its targets. `addTarget()` is the only way to add one, so the
 * number of stream readers is decided here, in one place — the seam where fan-out (attaching a
 * target's queue to an existing pipe instead of opening a third reader) will go.
 */
export class TableReplication extends Construct {
  private readonly targetsByName = new Map<string, ReplicationTarget>();
  /** Pipes reading the source stream. Today one per target; with fan-out, attached targets add none. */
  private pipesOnStream = 0;
  /** One row per target, added by `addTarget`. */
  public readonly dashboard: ReplicationDashboard;
  private createdAlarmTopic?: Topic;

  constructor(scope: Construct, id: string, private readonly props: TableReplicationProps) {
    super(scope, id);
    this.dashboard = new ReplicationDashboard(this, 'Dashboard', { dashboardName: `ddbrepl-${props.replicationName}`, replicationName: props.replicationName });
  }

  /** The topic created for targets with `options.alarms.createTopic`; undefined until one asks for it. */
  public get alarmTopic(): Topic | undefined {
    return this.createdAlarmTopic;
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
    // Only a well-formed createTopic asks for the topic; ReplicationTarget reports malformed options.
    const wantsTopic = targetOptionsSchema.safeParse(props.options ?? {}).data?.alarms.createTopic === true;
    const target = new ReplicationTarget(this, props.targetName, {
      ...props,
      replicationName: this.props.replicationName,
      sourceTable: this.props.sourceTable,
      keySchema: this.props.keySchema,
      logRetention: this.props.logRetention,
      alarmTopic: wantsTopic ? this.ensureAlarmTopic() : undefined,
    });
    this.pipesOnStream += 1;
    this.targetsByName.set(props.targetName, target);
    this.dashboard.addTarget(target);
    return target;
  }

  /**
   * The replication's alarm topic, created once: encrypted with its own rotating key, because
   * CloudWatch can only publish to a topic whose key policy lets cloudwatch.amazonaws.com use the key,
   * which the AWS managed alias/aws/sns key does not ("Enable compatibility between event sources from
   * AWS services and encrypted topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
   */
  private ensureAlarmTopic(): Topic {
    if (this.createdAlarmTopic !== undefined) return this.createdAlarmTopic;
    const stack = Stack.of(this);
    const name = `ddbrepl-${this.props.replicationName}-alarms`;
    // Only this replication's alarms, in this account and Region (confused-deputy guard).
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:ddbrepl-${this.props.replicationName}-*` },
    };
    const key = new Key(this, 'AlarmTopicKey', {
      description: `Encrypts the alarm topic ${name}`,
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(new PolicyStatement({
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: fromOurAlarms,
    }));
    const topic = new Topic(this, 'AlarmTopic', { topicName: name, displayName: `DynamoDB replication ${this.props.replicationName} alarms`, masterKey: key, enforceSSL: true });
    topic.addToResourcePolicy(new PolicyStatement({
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: fromOurAlarms,
    }));
    this.createdAlarmTopic = topic;
    return topic;
  }
}
