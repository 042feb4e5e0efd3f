import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type AttributeDefinition, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CONTROL_TABLE_KEY, controlTableName } from '../handlers/core/freeze';
import { STATE_TABLE_KEY, stateTableName } from '../handlers/core/replication-state';
import type { KeySchema } from '../handlers/core/key-schema';
import { keepProtoAttributes } from '../handlers/core/proto-attributes';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { EmulatorError } from './errors';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import type { FaultInjector } from './faults';
import { LOCAL_CONTROL_REPLICATION, LOCAL_CREDENTIALS, LOCAL_REGION, LOCAL_TARGET, SOURCE_TABLE } from './session-constants';
import type { TargetSpec } from './session-targets';
import { startSqsLocal, type SqsLocal } from './sqs-local';
import { startStsLocal, type StsLocal } from './sts-local';

/**
 * The emulators of a local session (docs/architecture.md#local-mode) — DynamoDB Local, fauxqs, a
 * local STS and the fault proxy in front of DynamoDB that the handlers use — with plain clients to
 * them, and the session's tables.
 */
export interface SessionEmulators {
  ddb: DynamoDbLocal;
  sqsLocal: SqsLocal;
  sts: StsLocal;
  proxy: FaultProxy;
  /** Plain clients (no faults): the driver's, the pipe's and the event source's. */
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
}

/** Starts every emulator; `onStopper` receives what stops each one as soon as it runs. */
export async function startEmulators(faults: FaultInjector, log: (line: string) => void, onStopper: (stop: () => Promise<void>) => void): Promise<SessionEmulators> {
  const [ddb, sqsLocal] = await Promise.all([
    startDynamoDbLocal({ onLog: log }).then((d) => (onStopper(() => d.stop()), d)),
    startSqsLocal({ onLog: log }).then((s) => (onStopper(() => s.stop()), s)),
  ]);
  const sts = await startStsLocal({ roleArn: LOCAL_TARGET.roleArn, externalId: LOCAL_TARGET.externalId, onLog: log });
  onStopper(() => sts.stop());
  const proxy = await startFaultProxy({ upstream: ddb.endpoint, faults, onLog: log });
  onStopper(() => proxy.stop());

  const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = keepProtoAttributes(new DynamoDBClient({ ...clientConfig, endpoint: ddb.endpoint }));
  const streams = keepProtoAttributes(new DynamoDBStreamsClient({ ...clientConfig, endpoint: ddb.endpoint }));
  const sqs = new SQSClient({ ...clientConfig, endpoint: sqsLocal.endpoint });
  onStopper(() => { for (const c of [dynamodb, streams, sqs]) c.destroy(); return Promise.resolve(); });
  return { ddb, sqsLocal, sts, proxy, dynamodb, streams, sqs };
}

function tableDefinition(name: string, keySchema: KeySchema): { AttributeDefinitions: AttributeDefinition[]; KeySchema: KeySchemaElement[]; TableName: string } {
  const keys = [{ ...keySchema.partitionKey, role: 'HASH' as const }, ...(keySchema.sortKey ? [{ ...keySchema.sortKey, role: 'RANGE' as const }] : [])];
  return {
    TableName: name,
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: keys.map((k) => ({ AttributeName: k.name, KeyType: k.role })),
  };
}

/**
 * Creates the source table (stream NEW_AND_OLD_IMAGES, TTL on `ttlAttribute` if set), each target's
 * table, the control table and each target's state table; returns the source's stream ARN.
 */
export async function createSessionTables(dynamodb: DynamoDBClient, keySchema: KeySchema, specs: readonly TargetSpec[], ttlAttribute: string | undefined): Promise<string> {
  const source = await dynamodb.send(new CreateTableCommand({
    ...tableDefinition(SOURCE_TABLE, keySchema),
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  }));
  const streamArn = source.TableDescription?.LatestStreamArn;
  if (streamArn === undefined) throw new EmulatorError('DynamoDB Local created the source table without a stream');
  for (const spec of specs) {
    await dynamodb.send(new CreateTableCommand({ ...tableDefinition(spec.tableName, keySchema), BillingMode: 'PAY_PER_REQUEST' }));
  }
  // The freeze mark's table, as the replication stack has one (handlers/core/freeze.ts; `cutover --local`).
  await dynamodb.send(new CreateTableCommand({ TableName: controlTableName(LOCAL_CONTROL_REPLICATION), AttributeDefinitions: [{ AttributeName: CONTROL_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: CONTROL_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
  // Each target's replication state table, as its target-access stack has one (handlers/core/replication-state.ts; `failover --local`).
  for (const spec of specs) {
    await dynamodb.send(new CreateTableCommand({ TableName: stateTableName(LOCAL_CONTROL_REPLICATION, spec.name), AttributeDefinitions: [{ AttributeName: STATE_TABLE_KEY, AttributeType: 'S' }], KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
  }
  if (ttlAttribute !== undefined) {
    await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: SOURCE_TABLE, TimeToLiveSpecification: { Enabled: true, AttributeName: ttlAttribute } }));
  }
  return streamArn;
}
