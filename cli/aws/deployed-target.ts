import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromIni } from '@aws-sdk/credential-providers';
import type { ReplicationConfig, TargetConfig } from '../../schemas/replication-config';
import { AwsClients } from './clients';
import { defaultStackName, resolveTargetOutputs, type TargetStackOutputs } from './stack-outputs';
import { keepProtoAttributes } from '../../handlers/core/proto-attributes';

export interface DeployedTarget {
  readonly region: string;
  /** Clients in the source account and Region (default credential chain). The caller destroys them. */
  readonly clients: AwsClients;
  readonly outputs: TargetStackOutputs;
}

/**
 * A deployed target's resources from the replication stack's outputs (`--stack`, default
 * `Ddbrepl-<replicationName>`, in `--region`, default the source Region). On failure the clients
 * are destroyed before the error propagates.
 */
export async function resolveDeployedTarget(config: ReplicationConfig, targetName: string, opts: { region?: string; stack?: string }): Promise<DeployedTarget> {
  const region = opts.region ?? config.source.region;
  const clients = new AwsClients(region);
  try {
    const outputs = await resolveTargetOutputs({
      cloudFormation: clients.cloudFormation,
      region,
      stackName: opts.stack ?? defaultStackName(config.replicationName),
      targetName,
      configuredTargets: config.targets.map((t) => t.name),
    });
    return { region, clients, outputs };
  } catch (error) {
    clients.destroy();
    throw error;
  }
}

/**
 * A client for the target table with the operator's own credentials (`--target-profile`, else the
 * default chain): the target role trusts only the apply and Glue roles, not people.
 */
export function operatorTargetTableClient(target: Pick<TargetConfig, 'region'>, profile: string | undefined): DynamoDBClient {
  return keepProtoAttributes(new DynamoDBClient({ region: target.region, ...(profile === undefined ? {} : { credentials: fromIni({ profile }) }) }));
}
