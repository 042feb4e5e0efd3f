import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { InvalidReplicationConfigError, type ReplicationConfig } from '../schemas/replication-config';
import { CONFIG_CONTEXT_KEY, loadReplicationConfigs } from './config';
import { ReplicationStack } from './stacks/replication-stack';
import { replicationStackName } from './stacks/stack-output-ids';
import { TargetAccessStack, targetAccessStackName } from './stacks/target-access-stack';

export interface BuildAppOptions {
  /** Build into this app (the cdk entry passes the one whose context named the config). @default a new App(appProps) */
  readonly app?: App;
  /** Props of the new App when `app` is not given (tests pass context and validation switches). @default {} */
  readonly appProps?: AppProps;
}

export interface ReplicationApp {
  readonly app: App;
  readonly replicationStack: ReplicationStack;
  /** By target name. A target with its own `roleArn` in the config brings its own role: it has no stack here. */
  readonly targetAccessStacks: ReadonlyMap<string, TargetAccessStack>;
}

/**
 * The whole app from a validated config: one ReplicationStack in the source account/Region, one
 * TargetAccessStack per target in its account/Region, cdk-nag (AwsSolutions + Serverless) on all.
 * Used by the cdk entry below and by the infra tests, so both synthesize the same wiring.
 */
export function buildApp(config: ReplicationConfig, options: BuildAppOptions = {}): ReplicationApp {
  return buildReplicationsApp([config], options).replications[0];
}

/** The app of a config with several replications: one app, each replication's stacks in it. */
export interface ReplicationsApp {
  readonly app: App;
  /** In config order. */
  readonly replications: readonly ReplicationApp[];
}

/**
 * Every replication of a config (`parseReplicationConfigs`, which has already refused name clashes
 * and loops) in one app, cdk-nag registered once. Stack and physical names all derive from
 * `ddbrepl-<replicationName>`, so they stay unique per replication.
 */
export function buildReplicationsApp(configs: readonly ReplicationConfig[], options: BuildAppOptions = {}): ReplicationsApp {
  const app = options.app ?? new App(options.appProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, replications: configs.map((config) => addReplication(app, config)) };
}

function addReplication(app: App, config: ReplicationConfig): ReplicationApp {
  const replicationStack = new ReplicationStack(app, replicationStackName(config.replicationName), {
    config,
    env: { account: config.source.account, region: config.source.region },
    description: `DynamoDB replication ${config.replicationName}: ${config.source.tableName} to ${config.targets.map((t) => t.name).join(', ')}`,
  });
  const targetAccessStacks = new Map<string, TargetAccessStack>();
  for (const target of config.targets) {
    if (target.roleArn !== undefined) continue;
    const stackName = targetAccessStackName(config.replicationName, target.name);
    targetAccessStacks.set(target.name, new TargetAccessStack(app, stackName, {
      env: { account: target.account, region: target.region },
      description: `Target-account access for DynamoDB replication ${config.replicationName} to target ${target.name}`,
      replicationName: config.replicationName,
      targetName: target.name,
      sourceAccount: config.source.account,
      targetTableName: target.tableName,
      externalId: target.externalId,
      targetTableKmsKeyArn: target.targetTableKmsKeyArn,
    }));
  }
  return { app, replicationStack, targetAccessStacks };
}

if (require.main === module) {
  const app = new App();
  const configPath = app.node.tryGetContext(CONFIG_CONTEXT_KEY) as string | undefined;
  try {
    buildReplicationsApp(loadReplicationConfigs(configPath), { app });
  } catch (err) {
    // A bad config is the operator's to fix: print its `path: reason` lines, not a stack trace.
    if (!(err instanceof InvalidReplicationConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  app.synth();
}
