import { dirname } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { FREEZE_CACHE_TTL_MS } from '../../handlers/core/freeze';
import { readSessionFile } from '../../local/control';
import { LOCAL_CONTROL_REPLICATION } from '../../local/session-constants';
import { CliError, EXIT } from '../errors';
import type { OperatorTarget } from '../targets/types';

/**
 * What the disaster-recovery commands (cli/dr/ports.ts) need of a kept local session beyond its
 * OperatorTarget: the source stream (DynamoDB Local serves DynamoDB Streams on its own endpoint),
 * the control table's replication name, and where the cutover/failover records go (next to the
 * session file).
 */
export interface LocalDrSource {
  readonly replication: string;
  readonly streams: DynamoDBStreamsClient;
  readonly sourceStreamArn: () => Promise<string>;
  /** The apply's freeze-cache TTL plus a second (the local apply sees the mark as fast as that). */
  readonly settleMs: number;
  readonly stateDir: string;
}

export function localDrSource(target: OperatorTarget, sessionFile: string): LocalDrSource {
  const session = readSessionFile(sessionFile);
  const streams = new DynamoDBStreamsClient({ region: session.region, credentials: session.credentials, endpoint: session.endpoints.dynamodb });
  return {
    replication: LOCAL_CONTROL_REPLICATION,
    streams,
    sourceStreamArn: async () => {
      const out = await target.source.client.send(new DescribeTableCommand({ TableName: target.source.tableName }));
      const arn = out.Table?.LatestStreamArn;
      if (arn === undefined) throw new CliError(`local table ${target.source.tableName} has no stream`, EXIT.failure);
      return arn;
    },
    settleMs: FREEZE_CACHE_TTL_MS + 1000,
    stateDir: dirname(sessionFile),
  };
}
