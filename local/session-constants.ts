/**
 * The local deployment's names, without aws-cdk-lib: the operator commands' `--local` reads them
 * without synthesizing (deployed-definition.ts synthesizes the stack from them).
 */

/** The account, Region and names of the local deployment; the local STS accepts exactly this role and ExternalId. */
export const LOCAL_DEPLOYMENT = {
  replicationName: 'local',
  region: 'us-east-1',
  sourceAccount: '111111111111',
  targetAccount: '222222222222',
  sourceTableName: 'source',
  /** The template's stream ARN; the emulators use DynamoDB Local's real one in its place. */
  streamArn: 'arn:aws:dynamodb:us-east-1:111111111111:table/source/stream/local',
  roleArn: 'arn:aws:iam::222222222222:role/ddbrepl-local-target',
  externalId: 'ddbrepl-local-external-id',
} as const;

/** The local control table is `ddbrepl-local-control`, as the stack names one per replication. */
export const LOCAL_CONTROL_REPLICATION = 'local' as const;
export const LOCAL_REGION = LOCAL_DEPLOYMENT.region;
/** The replication name local mode gives the handlers (the metrics' Replication dimension): the template's. */
export const LOCAL_REPLICATION_NAME = LOCAL_DEPLOYMENT.replicationName;
export const LOCAL_TARGET = {
  name: 'local',
  roleArn: LOCAL_DEPLOYMENT.roleArn,
  externalId: LOCAL_DEPLOYMENT.externalId,
} as const;
export const SOURCE_TABLE = LOCAL_DEPLOYMENT.sourceTableName;
/** The one target's table without `targets`; with them, `target-<name>`. */
export const TARGET_TABLE = 'target';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
