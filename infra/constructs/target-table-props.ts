import { Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from '../../handlers/core/env';
import type { KeySchema } from '../../handlers/core/key-schema';

/** What every construct that writes one target table from the source table needs to know. */
export interface TargetTableProps {
  /** Names the replication; part of every resource name (`ddbrepl-<replication>-<target>…`). */
  readonly replicationName: string;
  /** Names the target; part of every resource name. */
  readonly targetName: string;
  /** The source table (imported; for the pipe, with its stream: `TableV2.fromTableAttributes(scope, id, { tableName, tableStreamArn })`). */
  readonly sourceTable: ITableV2;
  /**
   * The source table's customer managed KMS key (config `source.kmsKeyArn`); every role that reads
   * the table or its stream gets kms:Decrypt on it through `grantSourceTableDecrypt`.
   * @default none (AWS owned or managed key: nothing to grant)
   */
  readonly sourceTableKey?: IKey;
  /** Key attributes of both tables: never excluded or redacted. */
  readonly keySchema: KeySchema;
  readonly targetTableName: string;
  readonly targetRegion: string;
  /** The role in the target account that is assumed to write (see `targetRoleArn`). */
  readonly targetRoleArn: string;
  /** Required by the target role's trust policy. */
  readonly externalId: string;
}

/**
 * The one way a role that reads the source table (items or stream) is allowed to decrypt it:
 * kms:Decrypt on exactly the table's customer managed key, nothing when the table has none. Every
 * reader calls this (pipe, apply, initial load, and any verify role), so none can be forgotten.
 */
export function grantSourceTableDecrypt(props: Pick<TargetTableProps, 'sourceTableKey'>, grantee: IGrantable): void {
  props.sourceTableKey?.grantDecrypt(grantee);
}

/**
 * The environment every function that reads the source and reaches the target through its role
 * needs (apply, sampled verify): names, Regions, key schema, target role and ExternalId.
 */
export function targetAccessEnvironment(scope: Construct, props: Omit<TargetTableProps, 'sourceTableKey'>): Record<string, string> {
  return {
    [ENV.replicationName]: props.replicationName,
    [ENV.targetName]: props.targetName,
    [ENV.sourceTableName]: props.sourceTable.tableName,
    [ENV.sourceRegion]: Stack.of(scope).region,
    [ENV.keySchema]: JSON.stringify(props.keySchema),
    [ENV.targetTableName]: props.targetTableName,
    [ENV.targetRegion]: props.targetRegion,
    [ENV.targetRoleArn]: props.targetRoleArn,
    [ENV.targetExternalId]: props.externalId,
  };
}
