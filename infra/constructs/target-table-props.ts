import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { KeySchema } from '../../handlers/core/key-schema';

/** What every construct that writes one target table from the source table needs to know. */
export interface TargetTableProps {
  /** Names the replication; part of every resource name (`ddbrepl-<replication>-<target>…`). */
  readonly replicationName: string;
  /** Names the target; part of every resource name. */
  readonly targetName: string;
  /** The source table (imported; for the pipe, with its stream: `TableV2.fromTableAttributes(scope, id, { tableName, tableStreamArn })`). */
  readonly sourceTable: ITableV2;
  /** Key attributes of both tables: never excluded or redacted. */
  readonly keySchema: KeySchema;
  readonly targetTableName: string;
  readonly targetRegion: string;
  /** The role in the target account that is assumed to write (see `targetRoleArn`). */
  readonly targetRoleArn: string;
  /** Required by the target role's trust policy. */
  readonly externalId: string;
}
