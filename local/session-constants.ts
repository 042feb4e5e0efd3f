import { LOCAL_DEPLOYMENT } from './deployed-definition';

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
