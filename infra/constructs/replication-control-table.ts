import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CONTROL_TABLE_KEY, controlTableName } from '../../handlers/core/freeze';

export interface ReplicationControlTableProps {
  readonly replicationName: string;
}

/**
 * The replication's control table (source account): one item per target holding its freeze mark,
 * written by `ddb-replicate cutover|failover` and read by that target's apply
 * (handlers/core/freeze.ts, docs/disaster-recovery.md). Tiny and on demand; retained on stack
 * deletion, because it records that a target became a primary.
 */
export class ReplicationControlTable extends Construct {
  public readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ReplicationControlTableProps) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      tableName: controlTableName(props.replicationName),
      partitionKey: { name: CONTROL_TABLE_KEY, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Lets `grantee` read exactly the item of `targetName` (GetItem with dynamodb:LeadingKeys), nothing else. */
  public grantReadMark(grantee: IGrantable, targetName: string): void {
    // A condition on the key needs a statement of its own: TableV2.grant cannot add one.
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({
      actions: ['dynamodb:GetItem'],
      resources: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [targetName] } },
    }));
  }
}
