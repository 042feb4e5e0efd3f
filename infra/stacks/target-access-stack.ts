import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { AccountPrincipal, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { STATE_TABLE_KEY, stateTableName } from '../../handlers/core/replication-state';
import { roleNames } from '../../schemas/replication-config';

/** Actions the target role may perform on the target table, and nothing else. */
export const TARGET_TABLE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable'] as const;
/** Reads for verification (the sampled-verify function and the Glue verify job, issue 13): never writes. */
export const TARGET_TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Scan'] as const;
/** The target role's only action on the replication state table: the apply's and the sampled verify's conditional writes. */
export const STATE_TABLE_ACTIONS = ['dynamodb:UpdateItem'] as const;
/** What DynamoDB needs of the caller on a table's customer managed key to write and describe it. */
export const TARGET_TABLE_KEY_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'] as const;

/** The name `buildApp` gives the target-account stack of one target. */
export function targetAccessStackName(replicationName: string, targetName: string): string {
  return `Ddbrepl-${replicationName}-${targetName}-access`;
}

export interface TargetAccessStackProps extends StackProps {
  readonly replicationName: string;
  readonly targetName: string;
  /** The account of the source table, where the apply function and the initial-load job run. */
  readonly sourceAccount: string;
  /** The target table, in this stack's account and Region. */
  readonly targetTableName: string;
  /** The sts:ExternalId every AssumeRole must present. */
  readonly externalId: string;
  /** The target table's customer managed KMS key, if it has one: the role may use exactly this key. @default none */
  readonly targetTableKmsKeyArn?: string;
}

/**
 * Deployed in the target account: the role the apply function and the initial-load job assume.
 *
 * Either stack can be deployed first: IAM rejects a trust policy that names a role which does not
 * exist yet, so the trust goes to the source *account* and a condition narrows it to the
 * fixed role names (`roleNames.apply` / `roleNames.initialLoad` / `roleNames.verify` / `roleNames.verifyJob`), which IAM evaluates at call time.
 */
export class TargetAccessStack extends Stack {
  public readonly targetRole: Role;
  /** The target's replication state (handlers/core/replication-state.ts): last applied change, last sampled verify. */
  public readonly stateTable: TableV2;

  constructor(scope: Construct, id: string, props: TargetAccessStackProps) {
    super(scope, id, props);
    const sourceRoleArn = (roleName: string) => `arn:${this.partition}:iam::${props.sourceAccount}:role/${roleName}`;
    this.targetRole = new Role(this, 'TargetRole', {
      roleName: roleNames.target(props.replicationName, props.targetName),
      description: `Writes replicated changes of ${props.replicationName} into ${props.targetTableName}; assumed from account ${props.sourceAccount}`,
      // The apply function refreshes its credentials before expiry, so short sessions cost nothing.
      maxSessionDuration: Duration.hours(1),
      assumedBy: new AccountPrincipal(props.sourceAccount).withConditions({
        ArnEquals: {
          'aws:PrincipalArn': [
            sourceRoleArn(roleNames.apply(props.replicationName, props.targetName)),
            sourceRoleArn(roleNames.initialLoad(props.replicationName, props.targetName)),
            sourceRoleArn(roleNames.verify(props.replicationName, props.targetName)),
            sourceRoleArn(roleNames.verifyJob(props.replicationName, props.targetName)),
          ],
        },
        StringEquals: { 'sts:ExternalId': props.externalId },
      }),
    });
    const targetTable = TableV2.fromTableName(this, 'TargetTable', props.targetTableName);
    targetTable.grant(this.targetRole, ...TARGET_TABLE_ACTIONS, ...TARGET_TABLE_READ_ACTIONS);
    if (props.targetTableKmsKeyArn !== undefined) {
      this.targetRole.addToPrincipalPolicy(new PolicyStatement({ actions: [...TARGET_TABLE_KEY_ACTIONS], resources: [props.targetTableKmsKeyArn] }));
    }

    // In the target account, so an unplanned failover reads it with the target account's credentials
    // while the source side is dark (docs/disaster-recovery.md). Retained: it records the last change
    // the target received, which matters most after everything else is gone.
    this.stateTable = new TableV2(this, 'StateTable', {
      tableName: stateTableName(props.replicationName, props.targetName),
      partitionKey: { name: STATE_TABLE_KEY, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateTable.grant(this.targetRole, ...STATE_TABLE_ACTIONS);
    new CfnOutput(this, 'StateTableName', { value: this.stateTable.tableName, description: 'Last applied change and last sampled verify of this target (read by ddb-replicate failover)' });

    new CfnOutput(this, 'TargetRoleArn', { value: this.targetRole.roleArn, description: 'The role the source account assumes (with the ExternalId)' });
  }
}
