import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetEventSourceMappingCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand } from '@aws-sdk/client-pipes';
import { METRICS_NAMESPACE_DEFAULT } from '../../handlers/core/env';
import { METRIC_NAMES, metricDimensions } from '../../handlers/core/metrics';
import { compileTargetPolicy } from '../../handlers/core/target-policy';
import { VERIFY_METRIC_NAMES } from '../../handlers/core/verify-metrics';
import { DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG_PATH, loadReplicationConfigs } from '../../infra/config';
import { InvalidReplicationConfigError, type ReplicationConfig, type TargetConfig } from '../../schemas/replication-config';
import { AwsClients } from '../aws/clients';
import { awsCall } from '../aws/errors';
import { operatorTargetTableClient, resolveDeployedTarget } from '../aws/deployed-target';
import type { TargetStackOutputs } from '../aws/stack-outputs';
import { CliError, EXIT } from '../errors';
import type { OperatorTarget, PipelineHealth } from './types';

/** Options every AWS-mode operator command takes (the same as bootstrap's). */
export interface AwsTargetOptions {
  readonly config?: string;
  /** `--replication NAME`: required when the config holds several replications. */
  readonly replication?: string;
  readonly stack?: string;
  readonly region?: string;
  /** Profile with read access to the target table (verify only); @default the default credential chain. */
  readonly targetProfile?: string;
  /** Where the "using the example config" notice goes. */
  readonly notice?: (line: string) => void;
}

const RETENTION_SECONDS = 1_209_600; // infra/constructs/replication-target.ts: RETENTION = 14 days

/** Every replication of the config file (one, or the `replications: [ … ]` list). */
export function loadConfigs(opts: Pick<AwsTargetOptions, 'config' | 'notice'>): ReplicationConfig[] {
  try {
    return loadReplicationConfigs(opts.config, { notice: () => opts.notice?.(`${DEFAULT_CONFIG_PATH} not found; using ${EXAMPLE_CONFIG_PATH}`) });
  } catch (error) {
    if (error instanceof InvalidReplicationConfigError) throw new CliError(error.message, EXIT.badInput, { cause: error });
    throw error;
  }
}

/** The replication `--replication NAME` names; required when the config has more than one. */
export function selectReplication(configs: readonly ReplicationConfig[], name: string | undefined): ReplicationConfig {
  const names = configs.map((c) => c.replicationName).join(', ');
  if (name === undefined) {
    if (configs.length === 1) return configs[0];
    throw new CliError(`the config has ${configs.length} replications; name one with --replication NAME (one of: ${names})`, EXIT.badInput);
  }
  const found = configs.find((c) => c.replicationName === name);
  if (found === undefined) throw new CliError(`replication "${name}" is not in the config; configured replications: ${names}`, EXIT.badInput);
  return found;
}

/** The one replication an operator command works on (`--replication`, optional when there is one). */
export function loadConfig(opts: Pick<AwsTargetOptions, 'config' | 'notice' | 'replication'>): ReplicationConfig {
  return selectReplication(loadConfigs(opts), opts.replication);
}

export function findTarget(config: ReplicationConfig, name: string): TargetConfig {
  const target = config.targets.find((t) => t.name === name);
  if (target === undefined) {
    throw new CliError(`target "${name}" is not in the config; configured targets: ${config.targets.map((t) => t.name).join(', ')}`, EXIT.badInput);
  }
  return target;
}

/**
 * A deployed target: its queue, DLQ, mapping and pipe from the replication stack's outputs (source
 * account and Region, default credentials); its table in the target account with `--target-profile`
 * (the target role trusts only the apply and Glue roles, so the operator brings their own access).
 */
export async function awsTarget(config: ReplicationConfig, targetName: string, opts: AwsTargetOptions): Promise<OperatorTarget> {
  const targetConfig = findTarget(config, targetName);
  const { region, clients, outputs } = await resolveDeployedTarget(config, targetName, opts);
  const closers: (() => void)[] = [() => clients.destroy()];
  try {
    const queueUrl = outputs.require('QueueUrl');
    const deadLetterQueueUrl = outputs.require('DeadLetterQueueUrl');
    const mappingUuid = outputs.require('EventSourceMappingUuid');
    let targetClient: DynamoDBClient | undefined;
    let cloudWatch: CloudWatchClient | undefined;
    const targetTable = (): DynamoDBClient => {
      targetClient ??= operatorTargetTableClient(targetConfig, opts.targetProfile);
      return targetClient;
    };
    closers.push(() => targetClient?.destroy(), () => cloudWatch?.destroy());
    const mappingResource = `event source mapping ${mappingUuid}`;
    return {
      name: targetName,
      replication: config.replicationName,
      kind: 'aws',
      where: `stack ${outputs.stackName} in ${region}`,
      selector: `${opts.replication === undefined ? '' : `--replication ${config.replicationName} `}--target ${targetName}`,
      keySchema: config.source.keySchema,
      // Only a policy that changes items (prefixes, conditions, redaction) needs applying: verify digests the rest as scanned.
      ...(targetConfig.redaction !== undefined || targetConfig.filter.partitionKeyPrefixes.length > 0 || (targetConfig.filter.attributeEquals ?? []).length > 0
        ? { policy: compileTargetPolicy(targetConfig, config.source.keySchema) }
        : {}),
      source: { client: clients.dynamodb, tableName: config.source.tableName, description: `table ${config.source.tableName} (${config.source.account}, ${config.source.region})` },
      // Created on first use: only verify reads the target table.
      get target() {
        return { client: targetTable(), tableName: targetConfig.tableName, description: `table ${targetConfig.tableName} (${targetConfig.account}, ${targetConfig.region})` };
      },
      sqs: clients.sqs,
      queueUrl,
      deadLetterQueueUrl,
      retentionSeconds: RETENTION_SECONDS,
      mapping: {
        id: mappingUuid,
        state: async () => {
          const out = await awsCall('lambda:GetEventSourceMapping', mappingResource, () => clients.lambda.send(new GetEventSourceMappingCommand({ UUID: mappingUuid })));
          return out.State ?? 'UNKNOWN';
        },
        setEnabled: async (enabled) => {
          await awsCall('lambda:UpdateEventSourceMapping', mappingResource, () => clients.lambda.send(new UpdateEventSourceMappingCommand({ UUID: mappingUuid, Enabled: enabled })));
        },
      },
      health: async () => {
        cloudWatch ??= new CloudWatchClient({ region });
        const [health, lastVerify] = await Promise.all([
          awsHealth(clients, cloudWatch, outputs, config, targetName),
          targetConfig.continuousVerify?.enabled === true ? lastSampledVerify(cloudWatch, config.replicationName, targetName).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))) : undefined,
        ]);
        if (lastVerify instanceof Error) return { ...health, unreachable: [...health.unreachable, lastVerify.message] };
        return lastVerify === undefined ? health : { ...health, lastVerify };
      },
      close: () => closers.forEach((close) => close()),
    };
  } catch (error) {
    closers.forEach((close) => close());
    throw error;
  }
}

/** Pipe, stream and CloudWatch figures; each part that cannot be read is listed, not fatal. */
async function awsHealth(clients: AwsClients, cloudWatch: CloudWatchClient, outputs: TargetStackOutputs, config: ReplicationConfig, targetName: string): Promise<PipelineHealth> {
  const unreachable: string[] = [];
  const attempt = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      unreachable.push(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  };
  const pipeName = outputs.require('PipeName');
  const queueUrl = outputs.require('QueueUrl');
  const [pipe, table, metrics] = await Promise.all([
    attempt(() => awsCall('pipes:DescribePipe', `pipe ${pipeName}`, () => clients.pipes.send(new DescribePipeCommand({ Name: pipeName })))),
    attempt(() => awsCall('dynamodb:DescribeTable', `table ${config.source.tableName}`, () => clients.dynamodb.send(new DescribeTableCommand({ TableName: config.source.tableName })))),
    attempt(() => lastMinuteMetrics(cloudWatch, queueUrl, config.replicationName, targetName)),
  ]);
  const streamSpec = table?.Table?.StreamSpecification;
  return {
    pipe: { name: pipeName, state: pipe === undefined ? 'UNKNOWN' : (pipe.CurrentState ?? 'UNKNOWN'), ...(pipe?.StateReason === undefined ? {} : { reason: pipe.StateReason }) },
    ...(table === undefined ? {} : {
      stream: {
        enabled: streamSpec?.StreamEnabled === true,
        ...(pipe?.Source === undefined ? {} : { pipeStreamArn: pipe.Source }),
        ...(table.Table?.LatestStreamArn === undefined ? {} : { currentStreamArn: table.Table.LatestStreamArn }),
      },
    }),
    ...(metrics ?? {}),
    unreachable,
  };
}

/**
 * The latest one-minute datapoints: the queue's ApproximateAgeOfOldestMessage (AWS/SQS) and the
 * apply's EMF metrics (namespace and `Replication` + `Target` dimensions as handlers/core/metrics.ts publishes them).
 * A 5-minute window because SQS and EMF metrics arrive a minute or two late.
 */
async function lastMinuteMetrics(cloudWatch: CloudWatchClient, queueUrl: string, replicationName: string, targetName: string): Promise<Pick<PipelineHealth, 'oldestMessageAgeSeconds' | 'appliedLastMinute' | 'lagLastMinute'>> {
  const queueName = queueUrl.split('/').pop() ?? queueUrl;
  const dimensions = Object.entries(metricDimensions(replicationName, targetName)).map(([Name, Value]) => ({ Name, Value }));
  const apply = (id: string, metricName: string, stat: string): MetricDataQuery => ({
    Id: id,
    MetricStat: { Metric: { Namespace: METRICS_NAMESPACE_DEFAULT, MetricName: metricName, Dimensions: dimensions }, Period: 60, Stat: stat },
  });
  const end = new Date();
  const out = await awsCall('cloudwatch:GetMetricData', `metrics of target ${targetName}`, () => cloudWatch.send(new GetMetricDataCommand({
    StartTime: new Date(end.getTime() - 5 * 60_000),
    EndTime: end,
    ScanBy: 'TimestampDescending',
    MetricDataQueries: [
      { Id: 'oldest', MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: queueName }] }, Period: 60, Stat: 'Maximum' } },
      apply('applied', METRIC_NAMES.changesApplied, 'Sum'),
      apply('lagp99', METRIC_NAMES.replicationLagMs, 'p99'),
      apply('lagmax', METRIC_NAMES.replicationLagMs, 'Maximum'),
    ],
  })));
  const latest = (id: string): number | undefined => out.MetricDataResults?.find((r) => r.Id === id)?.Values?.[0];
  const oldest = latest('oldest');
  const applied = latest('applied');
  const p99 = latest('lagp99');
  const max = latest('lagmax');
  return {
    ...(oldest === undefined ? {} : { oldestMessageAgeSeconds: oldest }),
    // No datapoint in 5 minutes means nothing was applied (EMF publishes only when a batch runs).
    appliedLastMinute: applied ?? 0,
    lagLastMinute: { ...(p99 === undefined ? {} : { p99Ms: p99 }), ...(max === undefined ? {} : { maxMs: max }) },
  };
}

/** The latest run of the sampled verification (issue 13): its VerifySampled and VerifyMismatches datapoints of the last day. */
async function lastSampledVerify(cloudWatch: CloudWatchClient, replicationName: string, targetName: string): Promise<PipelineHealth['lastVerify']> {
  const query = (id: string, metricName: string): MetricDataQuery => ({
    Id: id,
    MetricStat: { Metric: { Namespace: METRICS_NAMESPACE_DEFAULT, MetricName: metricName, Dimensions: [{ Name: 'Replication', Value: replicationName }, { Name: 'Target', Value: targetName }] }, Period: 60, Stat: 'Sum' },
  });
  const end = new Date();
  const out = await awsCall('cloudwatch:GetMetricData', `sampled verification metrics of target ${targetName}`, () => cloudWatch.send(new GetMetricDataCommand({
    StartTime: new Date(end.getTime() - 24 * 3600_000),
    EndTime: end,
    ScanBy: 'TimestampDescending',
    MetricDataQueries: [query('sampled', VERIFY_METRIC_NAMES.verifySampled), query('mismatches', VERIFY_METRIC_NAMES.verifyMismatches)],
  })));
  const sampled = out.MetricDataResults?.find((r) => r.Id === 'sampled');
  const at = sampled?.Timestamps?.[0];
  if (at === undefined) return undefined;
  // The mismatches datapoint of the same minute (both are published in one EMF record).
  const mismatches = out.MetricDataResults?.find((r) => r.Id === 'mismatches');
  const index = mismatches?.Timestamps?.findIndex((t) => t.getTime() === at.getTime()) ?? -1;
  return { at: at.toISOString(), sampled: sampled?.Values?.[0] ?? 0, mismatches: index < 0 ? 0 : mismatches?.Values?.[index] ?? 0 };
}
