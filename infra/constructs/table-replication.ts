import { Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
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
 * throttling delays every target. So at most this many pipes read one stream; further targets
 * attach their queue to one of these pipes (fan-out, docs/architecture.md#fan-out, docs/fan-out.md).
 */
export const MAX_PIPES_PER_STREAM = 2 as const;

/** The exact synth error for an `attachTo` that names no target with a pipe of its own. */
export function invalidAttachToMessage(targetName: string, attachTo: string, pipeOwners: readonly string[]): string {
  return (
    `Cannot attach target "${targetName}" to "${attachTo}": attachTo must name a target added before it that has its own pipe ` +
    `(${pipeOwners.length === 0 ? 'none yet' : pipeOwners.map((n) => `"${n}"`).join(', ')}).`
  );
}

export interface TableReplicationProps {
  /** Names the replication; part of every resource name. */
  readonly replicationName: string;
  /** The source table with its stream: `TableV2.fromTableAttributes(scope, id, { tableName, tableStreamArn })`. */
  readonly sourceTable: ITableV2;
  readonly keySchema: KeySchema;
  /** The source table's customer managed KMS key; its readers get kms:Decrypt on it. @default none */
  readonly sourceTableKey?: IKey;
  /** Retention of the log groups of every target. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** What `addTarget` needs beyond what the replication already knows. */
export type AddTargetProps = Omit<ReplicationTargetProps, 'replicationName' | 'sourceTable' | 'sourceTableKey' | 'keySchema' | 'logRetention' | 'alarmTopic' | 'attachTo'> & {
  /**
   * Name of a target with its own pipe to attach this target's queue to.
   * @default own pipe while the stream has fewer than two; then the pipe with fewer attached queues (the earlier one on a tie)
   */
  readonly attachTo?: string;
};

/**
 * Replication of one source table to its targets. `addTarget()` is the only way to add one, so the
 * number of stream readers is decided here, in one place: the first two targets get a pipe each,
 * every further one attaches its queue to one of them. Adding a target never changes another
 * target's resources, except the enrichment (and, for a wider filter, the FilterCriteria) of the
 * pipe it attaches to.
 */
export class TableReplication extends Construct {
  private readonly targetsByName = new Map<string, ReplicationTarget>();
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

  /** Targets with a pipe of their own (at most MAX_PIPES_PER_STREAM). */
  public get pipeOwners(): readonly ReplicationTarget[] {
    return this.targets.filter((t) => t.attachedTo === undefined);
  }

  /**
   * Adds a target: with its own pipe while the stream has fewer than two readers, otherwise attached
   * to an existing pipe (`props.attachTo`, or the one with fewer attached queues). The construct id
   * is the target name (part of the contract).
   */
  public addTarget(props: AddTargetProps): ReplicationTarget {
    if (this.targetsByName.has(props.targetName)) {
      throw new ConfigurationError(`Cannot add target "${props.targetName}" twice to replication ${this.props.replicationName}`);
    }
    const { attachTo: attachToName, ...targetProps } = props;
    const owners = this.pipeOwners;
    let attachTo: ReplicationTarget | undefined;
    if (attachToName !== undefined) {
      attachTo = owners.find((t) => t.targetName === attachToName);
      if (attachTo === undefined) throw new ConfigurationError(invalidAttachToMessage(props.targetName, attachToName, owners.map((t) => t.targetName)));
    } else if (owners.length >= MAX_PIPES_PER_STREAM) {
      // reduce keeps the earlier owner on a tie, so the choice is stable for a given target order.
      attachTo = owners.reduce((best, t) => (t.attachedTargets.length < best.attachedTargets.length ? t : best));
    }
    // Only a well-formed createTopic asks for the topic; ReplicationTarget reports malformed options.
    const wantsTopic = targetOptionsSchema.safeParse(props.options ?? {}).data?.alarms.createTopic === true;
    const target = new ReplicationTarget(this, props.targetName, {
      ...targetProps,
      attachTo,
      replicationName: this.props.replicationName,
      sourceTable: this.props.sourceTable,
      sourceTableKey: this.props.sourceTableKey,
      keySchema: this.props.keySchema,
      logRetention: this.props.logRetention,
      alarmTopic: wantsTopic ? this.ensureAlarmTopic() : undefined,
    });
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
